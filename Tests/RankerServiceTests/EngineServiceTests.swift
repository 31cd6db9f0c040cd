import EngineTestSupport
import Foundation
import PairEngine
import PairRanker
import TestSupport
import Testing

@testable import RankerService

/// The engine as the service uses it: with the real model, through `RankerService`, its errors
/// mapped to APIError, its metrics in the server's `Metrics`. The engine's own behaviour is in
/// PairEngineTests.
@Suite struct EngineServiceTests {
    @Test("a request's logits are bit-identical alone and under concurrency (real model)")
    func invariance() throws {
        var config = BatchingEngine.Config()
        config.maxBatchPairs = 16
        config.maxWaitMilliseconds = 1
        let engine = BatchingEngine(model: Support.model, config: config)
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

    @Test("the engine's metrics and gauges reach the server's Metrics, and its 429 is the API's")
    func serverMetrics() throws {
        let fake = FakeScorer()
        let metrics = Metrics()
        var c = BatchingEngine.Config()
        c.maxQueuePairs = 2
        c.maxWaitMilliseconds = 1
        let engine = BatchingEngine(config: c, metrics: metrics, scorer: fake.score)
        defer { engine.shutdown() }
        let service = RankerService(model: Support.model, engine: engine)
        #expect(throws: APIError(.overloaded, EngineError.overloaded(admitted: 0, capacity: 2, requested: 6).description)) {
            _ = try service.handle(.rank, body: Array(#"{"input":"q","candidates":["a","b","c"]}"#.utf8), context: RequestContext(id: "big"))
        }
        let pairs = (0..<2).map { i in PairSequence(ids: [1, 9, 5, Int32(i), 2], sourcePosition: 1, leftPosition: 2, rightPosition: 3) }
        let out = try engine.evaluate(pairs, context: RequestContext(id: "t"))
        #expect(out.count == 2)
        #expect(metrics.counter("pairranker_pairs_processed_total") == 2)
        let text = metrics.render()
        #expect(text.contains("pairranker_batch_pairs_count"))
        #expect(text.contains("pairranker_queue_pairs 0") && text.contains("pairranker_admitted_pairs 0"), "\(text)")
    }
}
