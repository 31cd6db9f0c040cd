import Foundation
import PairEngine
import PairRanker
import TestSupport
import Testing

@testable import RankerService

@Suite struct BatchingEngineTests {
    /// A scorer that records what it scored and can be held at a gate.
    final class FakeScorer: @unchecked Sendable {
        let lock = NSLock()
        var batches: [[PairSequence]] = []
        let gate = DispatchSemaphore(value: 0)
        private var _holding = false
        var holding: Bool {
            get { lock.lock(); defer { lock.unlock() }; return _holding }
            set { lock.lock(); _holding = newValue; lock.unlock() }
        }
        let entered = DispatchSemaphore(value: 0)
        let delay: Double
        init(delay: Double = 0) { self.delay = delay }
        func score(_ pairs: [PairSequence]) throws -> [Float] {
            lock.lock(); batches.append(pairs); let hold = _holding; lock.unlock()
            entered.signal()
            if hold { gate.wait() }
            if delay > 0 { Thread.sleep(forTimeInterval: delay) }
            return pairs.map { Float($0.ids.reduce(0) { $0 + Int($1) }) }
        }
        var scored: [PairSequence] { lock.lock(); defer { lock.unlock() }; return batches.flatMap { $0 } }
    }

    static func pairs(_ n: Int, tag: Int32) -> [PairSequence] {
        (0..<n).map { i in PairSequence(ids: [1, 9, tag, Int32(i), 2], sourcePosition: 1, leftPosition: 2, rightPosition: 3) }
    }

    func config(queue: Int = 1000, batchPairs: Int = 64) -> BatchingEngine.Config {
        var c = BatchingEngine.Config()
        c.maxQueuePairs = queue
        c.maxBatchPairs = batchPairs
        c.maxWaitMilliseconds = 1
        return c
    }

    @Test("a request's logits are bit-identical alone and under concurrency (real model)")
    func invariance() throws {
        let engine = BatchingEngine(model: Support.model, config: config(batchPairs: 16))
        defer { engine.shutdown() }
        let batched = RankerService(model: Support.model, engine: engine)
        let insts = Support.instances
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var values: [Int: JSON] = [:]
            subscript(k: Int) -> JSON? {
                get { lock.lock(); defer { lock.unlock() }; return values[k] }
                set { lock.lock(); values[k] = newValue; lock.unlock() }
            }
        }
        let results = Results()
        let count = insts.count * 3
        DispatchQueue.concurrentPerform(iterations: count) { k in
            let inst = insts[k % insts.count]
            let body = Support.body([("input", .string(inst.input)), ("candidates", Support.strings(inst.candidates)),
                                     ("instruction", inst.instruction.map(JSON.string) ?? .null)])
            results[k] = try? batched.handle(.rank, body: Array(body.utf8), context: RequestContext(id: "\(k)"))
        }
        for k in 0..<count {
            let r = results[k]
            let inst = insts[k % insts.count]
            let body = Support.body([("input", .string(inst.input)), ("candidates", Support.strings(inst.candidates)),
                                     ("instruction", inst.instruction.map(JSON.string) ?? .null)])
            let alone = try Support.call(.rank, body)
            #expect(r?["scores"] == alone["scores"], "\(inst.name)")
        }
    }

    @Test("exactly the requests over capacity get 429, with nothing computed")
    func admission() throws {
        let fake = FakeScorer()
        fake.holding = true
        let engine = BatchingEngine(config: config(queue: 10), scorer: fake.score)
        defer { engine.shutdown() }
        var held = try (0..<5).map { _ in try engine.admit(pairs: 2, context: RequestContext(id: "a")) }
        var refused = 0
        for _ in 0..<7 {
            do { held.append(try engine.admit(pairs: 2, context: RequestContext(id: "b"))) } catch let e as EngineError {
                #expect(e == .overloaded(admitted: 10, capacity: 10, requested: 2))
                #expect(APIError(e).kind == .overloaded && APIError(e).status.code == 429)
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

    @Test("a passed deadline gives 504 and its queued pairs are never computed")
    func deadline() throws {
        let fake = FakeScorer()
        fake.holding = true
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
        let fake = FakeScorer()
        fake.holding = true
        let metrics = Metrics()
        let engine = BatchingEngine(config: config(batchPairs: 2), metrics: metrics, scorer: fake.score)
        defer { engine.shutdown() }
        DispatchQueue.global().async { _ = try? engine.evaluate(Self.pairs(2, tag: 1), context: RequestContext(id: "x")) }
        fake.entered.wait()
        final class Flag: @unchecked Sendable {
            let lock = NSLock()
            private var value = false
            var gone: Bool {
                get { lock.lock(); defer { lock.unlock() }; return value }
                set { lock.lock(); value = newValue; lock.unlock() }
            }
        }
        let flag = Flag()
        let ctx = RequestContext(id: "leaver", cancelled: { flag.gone })
        let result = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var error: EngineError? }  // written before result.signal(), read after wait()
        let box = Box()
        DispatchQueue.global().async {
            do { _ = try engine.evaluate(Self.pairs(6, tag: 300), context: ctx) } catch { box.error = error as? EngineError }
            result.signal()
        }
        Thread.sleep(forTimeInterval: 0.05)
        flag.gone = true
        result.wait()
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
        let metrics = Metrics()
        var c = config(batchPairs: 64)
        c.maxBatchTokens = 12
        let engine = BatchingEngine(config: c, metrics: metrics, scorer: fake.score)
        defer { engine.shutdown() }
        let out = try engine.evaluate(Self.pairs(7, tag: 5), context: RequestContext(id: "t"))
        #expect(out.count == 7)
        #expect(fake.batches.allSatisfy { $0.reduce(0) { $0 + $1.ids.count } <= 12 })
        #expect(metrics.counter("pairranker_pairs_processed_total") == 7)
        #expect(metrics.render().contains("pairranker_batch_pairs_count"))
    }

    @Test("the engine's errors reach clients with the statuses and messages they always had")
    func engineErrorsOnTheWire() {
        let cases: [(EngineError, APIError, Int)] = [
            (.overloaded(admitted: 4090, capacity: 4096, requested: 12),
             APIError(.overloaded, "the server is at capacity (4090 of 4096 pairs admitted; this request needs 12); nothing was computed, retry later"), 429),
            (.deadlineExceeded(remaining: 3, total: 5),
             APIError(.timeout, "the request's deadline passed before its pairs were computed (3 of 5 left)"), 504),
            (.cancelled, APIError(.cancelled, "the client went away"), 499),
            (.scorerMismatch(returned: 2, expected: 3), APIError(.internalError, "the scorer returned 2 logits for 3 pairs"), 500),
        ]
        for (engine, api, code) in cases {
            #expect(APIError(engine) == api)
            #expect(APIError(engine).status.code == code)
        }
    }
}
