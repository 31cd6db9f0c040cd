import EngineTestSupport
import Foundation
import PairEngine
import PairRanker
import Testing

@Suite struct BatchingEngineTests {
    static func pairs(_ n: Int, tag: Int32) -> [PairSequence] {
        (0..<n).map { i in PairSequence(ids: [1, 9, tag, Int32(i), 2], sourcePosition: 1, leftPosition: 2, rightPosition: 3) }
    }

    func config(queue: Int = 1000, batchPairs: Int = 64) -> BatchingEngine.Config {
        .testing(queue: queue, batchPairs: batchPairs)
    }

    @Test("exactly the requests over capacity are refused (overloaded), with nothing computed")
    func admission() throws {
        let fake = FakeScorer(holding: true)
        let engine = BatchingEngine(config: config(queue: 10), scorer: fake.score)
        defer { engine.shutdown() }
        var held = try (0..<5).map { _ in try engine.admit(pairs: 2, context: RequestContext(id: "a")) }
        var refused = 0
        for _ in 0..<7 {
            do { held.append(try engine.admit(pairs: 2, context: RequestContext(id: "b"))) } catch let e as EngineError {
                #expect(e == .overloaded(admitted: 10, capacity: 10, requested: 2))
                refused += 1
            }
        }
        #expect(refused == 7)
        #expect(fake.scored.isEmpty)
        #expect(engine.admittedPairs == 10)
        held.removeLast()  // an admission released by going away
        #expect(engine.admittedPairs == 8)
        held.append(try engine.admit(pairs: 2, context: RequestContext(id: "c")))
        #expect(engine.admittedPairs == 10)
        held.removeAll()
        #expect(engine.admittedPairs == 0)
        fake.gate.signal()
    }

    @Test("a passed deadline fails the request (deadlineExceeded) and its queued pairs are never computed")
    func deadline() throws {
        let fake = FakeScorer(holding: true)
        let engine = BatchingEngine(config: config(batchPairs: 4), scorer: fake.score)
        defer { engine.shutdown() }
        let big = Self.pairs(4, tag: 100)
        let bigDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { _ = try? engine.evaluate(big, context: RequestContext(id: "big")); bigDone.signal() }
        fake.entered.wait()  // the big batch is running and held
        let short = Self.pairs(3, tag: 200)
        let ctx = RequestContext(id: "short", deadline: DispatchTime.now().uptimeNanoseconds + 50_000_000)
        #expect(throws: EngineError.deadlineExceeded(remaining: 3, total: 3)) {
            _ = try engine.evaluate(short, context: ctx)
        }
        fake.holding = false
        fake.gate.signal()
        bigDone.wait()
        Thread.sleep(forTimeInterval: 0.05)
        #expect(!fake.scored.contains { $0.ids[2] == 200 }, "timed-out pairs were never scored")
        #expect(engine.queueDepth == 0)
    }

    @Test("a client that disconnects has its queued pairs dropped and counted")
    func disconnect() throws {
        let fake = FakeScorer(holding: true)
        let metrics = RecordingMetrics()
        let engine = BatchingEngine(config: config(batchPairs: 2), metrics: metrics, scorer: fake.score)
        defer { engine.shutdown() }
        DispatchQueue.global().async { _ = try? engine.evaluate(Self.pairs(2, tag: 1), context: RequestContext(id: "x")) }
        fake.entered.wait()
        // No deadline: only the cancellation signal can end the wait (nothing polls).
        let ctx = RequestContext(id: "leaver")
        let result = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var error: EngineError? }  // written before result.signal(), read after wait()
        let box = Box()
        DispatchQueue.global().async {
            do { _ = try engine.evaluate(Self.pairs(6, tag: 300), context: ctx) } catch { box.error = error as? EngineError }
            result.signal()
        }
        Thread.sleep(forTimeInterval: 0.05)
        ctx.cancel()
        // The request has no deadline and the engine is held: only the cancellation signal can
        // end its wait (a waiter that polled nothing and was not woken would never return).
        #expect(result.wait(timeout: .now() + 30) == .success, "the cancelled request returned")
        #expect(box.error == .cancelled)
        fake.holding = false
        fake.gate.signal()
        Thread.sleep(forTimeInterval: 0.05)
        #expect(!fake.scored.contains { $0.ids[2] == 300 })
        #expect(metrics.counter("pairranker_pairs_dropped_total") == 6)
    }

    @Test("a small request is not stuck behind a large one (round robin)")
    func scheduling() throws {
        let fake = FakeScorer(delay: 0.01)
        let engine = BatchingEngine(config: config(batchPairs: 8), scorer: fake.score)
        defer { engine.shutdown() }
        // Written by each thread before it signals, read after the waits.
        final class Times: @unchecked Sendable { var big = Date.distantFuture; var small = Date.distantFuture; var before = 0 }
        let t = Times()
        let bigDone = DispatchSemaphore(value: 0), smallDone = DispatchSemaphore(value: 0)
        // Threads, not Dispatch: under a loaded test run the global queue may not start the work in time.
        Thread { _ = try? engine.evaluate(Self.pairs(120, tag: 1), context: RequestContext(id: "big")); t.big = Date(); bigDone.signal() }.start()
        fake.entered.wait()
        Thread {
            t.before = fake.lock.withLock { fake.batches.count }
            _ = try? engine.evaluate(Self.pairs(2, tag: 2), context: RequestContext(id: "small"))
            t.small = Date()
            smallDone.signal()
        }.start()
        smallDone.wait()
        bigDone.wait()
        #expect(t.small < t.big)
        let smallBatch = fake.batches.lastIndex { $0.contains { $0.ids[2] == 2 } }!
        #expect(smallBatch <= t.before + 1, "served right after the batch that was running (batch \(smallBatch), \(t.before) had started), not after all 15")
        #expect(fake.batches.allSatisfy { $0.count <= 8 })
    }

    @Test("batches respect the token budget, and batch metrics are recorded")
    func budget() throws {
        let fake = FakeScorer()
        let metrics = RecordingMetrics()
        let engine = BatchingEngine(config: .testing(queue: 1000, batchTokens: 12), metrics: metrics, scorer: fake.score)
        defer { engine.shutdown() }
        let out = try engine.evaluate(Self.pairs(7, tag: 5), context: RequestContext(id: "t"))
        #expect(out.count == 7)
        #expect(fake.batches.allSatisfy { $0.reduce(0) { $0 + $1.ids.count } <= 12 })
        #expect(metrics.counter("pairranker_pairs_processed_total") == 7)
        #expect(metrics.observed("pairranker_batch_pairs").reduce(0, +) == 7)
        #expect(metrics.observed("pairranker_batch_tokens").allSatisfy { $0 <= 12 })
    }
}
