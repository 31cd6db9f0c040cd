import EngineTestSupport
import Foundation
import PairEngine
import PairRanker
import Testing

/// Round robin must hold for pairs of every length (BatchingEngineTests covers short pairs).
@Suite struct EngineFairnessTests {
    /// `n` pairs of `tokens` tokens each; ids[2] is the tag, ids[3] the index.
    static func pairs(_ n: Int, tokens: Int, tag: Int32) -> [PairSequence] {
        (0..<n).map { i in
            PairSequence(ids: [1, 9, tag, Int32(i)] + Array(repeating: 7, count: max(0, tokens - 4)),
                         sourcePosition: 1, leftPosition: 2, rightPosition: 3)
        }
    }

    func waitUntil(_ what: String, timeout: Double = 60, _ condition: () -> Bool) {
        let end = Date(timeIntervalSinceNow: timeout)
        while !condition() && Date() < end { Thread.sleep(forTimeInterval: 0.002) }
        #expect(condition(), "\(what) within \(timeout) s")
    }

    @Test("pairs longer than half the batch budget alternate between requests instead of draining the oldest")
    func longPairsRoundRobin() throws {
        let fake = FakeScorer(holding: true)
        let engine = BatchingEngine(config: .testing(batchPairs: 32, batchTokens: 100), scorer: fake.score)
        defer { engine.shutdown() }
        final class Out: @unchecked Sendable { var big: [Float] = []; var small: [Float] = [] }  // written before signal, read after wait
        let out = Out()
        let bigDone = DispatchSemaphore(value: 0), smallDone = DispatchSemaphore(value: 0)
        let big = Self.pairs(30, tokens: 60, tag: 1), small = Self.pairs(2, tokens: 60, tag: 2)
        Thread { out.big = (try? engine.evaluate(big, context: RequestContext(id: "big"))) ?? []; bigDone.signal() }.start()
        fake.entered.wait()  // the big request's first pair runs, held
        Thread { out.small = (try? engine.evaluate(small, context: RequestContext(id: "small"))) ?? []; smallDone.signal() }.start()
        waitUntil("both requests queued") { engine.queueDepth == 29 + 2 }
        fake.holding = false
        fake.gate.signal()
        smallDone.wait()
        bigDone.wait()
        let batches = fake.lock.withLock { fake.batches }
        #expect(batches.count == 32, "every 60-token pair runs alone under a 100-token budget")
        let smallBatches = batches.indices.filter { batches[$0].contains { $0.ids[2] == 2 } }
        #expect(smallBatches.count == 2)
        // Batch 0 is the big request's, running when the small one arrived; round robin then
        // alternates: big, small, big, small. Oldest-first would put the small pairs at 30 and 31.
        #expect((smallBatches.last ?? .max) <= 4, "the small request's pairs ran in batches \(smallBatches) of \(batches.count)")
        // Every pair ran exactly once and each request got its own logits, in order.
        let scored = batches.flatMap { $0 }
        #expect(Set(scored).count == 32 && scored.count == 32)
        #expect(out.big == big.map { Float($0.ids.reduce(0) { $0 + Int($1) }) })
        #expect(out.small == small.map { Float($0.ids.reduce(0) { $0 + Int($1) }) })
    }

    @Test("with many requests of short pairs, each batch starts with the requests the last one left out")
    func shortPairsRotate() throws {
        let fake = FakeScorer(holding: true)
        let engine = BatchingEngine(config: .testing(batchPairs: 4), scorer: fake.score)
        defer { engine.shutdown() }
        let first = DispatchSemaphore(value: 0)
        Thread { _ = try? engine.evaluate(Self.pairs(1, tokens: 5, tag: 0), context: RequestContext(id: "0")); first.signal() }.start()
        fake.entered.wait()
        // Six requests of 3 pairs wait behind the held batch; batches hold 4 pairs.
        let done = DispatchSemaphore(value: 0)
        for tag in 1...6 {
            Thread { _ = try? engine.evaluate(Self.pairs(3, tokens: 5, tag: Int32(tag)), context: RequestContext(id: "\(tag)")); done.signal() }.start()
            waitUntil("request \(tag) queued") { engine.queueDepth == 3 * tag }
        }
        fake.holding = false
        fake.gate.signal()
        first.wait()
        for _ in 1...6 { done.wait() }
        let batches = fake.lock.withLock { fake.batches }.dropFirst()
        // Round robin over 6 requests, 4 per batch: the first two batches take one pair from each
        // of the six (1-4, then 5, 6 and the next of 1, 2), so every request has a pair done by
        // the end of batch 2.
        let firstTwo = Set(batches.prefix(2).flatMap { $0.map { $0.ids[2] } })
        #expect(firstTwo == Set(1...6), "tags in the first two batches: \(firstTwo.sorted())")
        #expect(batches.allSatisfy { $0.count <= 4 })
        #expect(batches.reduce(0) { $0 + $1.count } == 18)
    }
}
