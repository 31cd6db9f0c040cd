import Foundation
import PairEngine
import PairRanker
import TestSupport
import Testing

@testable import RankerService

#if canImport(Glibc)
import Glibc
#endif

/// The cheap limits (counts of inputs, candidates, pairs; bytes) and admission are decided
/// before any text is tokenized, so a large request that is refused costs almost nothing.
@Suite(.serialized) struct AdmissionCostTests {
    /// CPU seconds this thread has used (immune to other load on the machine, unlike wall time).
    static func threadCPU() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    static func cpu(_ body: () -> Void) -> Double {
        let t0 = threadCPU()
        body()
        return threadCPU() - t0
    }

    /// An engine that is always full: every admission is refused, and it counts how many were asked.
    final class FullEngine: InferenceEngine, @unchecked Sendable {
        let lock = NSLock()
        private var asked = 0
        var admissions: Int { lock.withLock { asked } }
        func admit(pairs: Int, context: RequestContext) throws -> Admission {
            lock.withLock { asked += 1 }
            throw APIError(.overloaded, "full")
        }
        func evaluate(_ pairs: [PairSequence], context: RequestContext) throws -> [Float] {
            Issue.record("nothing is evaluated without admission")
            return []
        }
    }

    /// A list-form /rank of `inputs` inputs with `candidates` candidates of about `bytes` bytes.
    static func bigRank(inputs: Int, candidates: Int, bytes: Int) -> (body: [UInt8], texts: [String]) {
        let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
        func text(_ seed: Int) -> String {
            var s = "", k = UInt(seed)
            while s.utf8.count < bytes { s += words[Int(k % UInt(words.count))] + " "; k = k &* 31 &+ 7 }
            return s
        }
        let ins = (0..<inputs).map { "question \($0): " + text($0) }
        let cands = (0..<inputs).map { i in (0..<candidates).map { text(i * 100 + $0) } }
        let body = JSON.object([("inputs", .array(ins.map(JSON.string))),
                                ("candidates", .array(cands.map { .array($0.map(JSON.string)) }))]).bytes
        return (body, ins + cands.flatMap { $0 })
    }

    /// What tokenizing these texts costs on this thread.
    static func tokenizeCost(_ texts: [String]) -> Double {
        cpu { for t in texts { _ = Support.model.candidateIDs(t) } }
    }

    func status(_ service: RankerService, _ route: RankerService.Route, _ body: [UInt8]) -> Int {
        do { _ = try service.handle(route, body: body, context: RequestContext(id: "cost")); return 200 } catch let e as APIError {
            return e.status.code
        } catch { return -1 }
    }

    @Test("a ~1 MiB /rank over the pair limit gets 422 for a fraction of what tokenizing it costs")
    func overPairLimit() {
        // 64 inputs x 32 candidates = 63488 pairs in full mode, over the default 32768.
        let (body, texts) = Self.bigRank(inputs: 64, candidates: 32, bytes: 500)
        #expect(body.count > 1 << 20)
        var code = 0
        let refused = Self.cpu { code = status(Support.service, .rank, body) }
        let tokenizing = Self.tokenizeCost(texts)
        #expect(code == 422)
        #expect(refused < tokenizing / 3, "refused in \(refused) s CPU; tokenizing alone costs \(tokenizing) s")
        print("422 over the pair limit: \(body.count) bytes refused in \(refused) s CPU; tokenizing them: \(tokenizing) s")
    }

    @Test("a ~1 MiB /rank refused by admission (429) is refused before tokenizing, and so is /tokenize")
    func refusedByAdmission() {
        let engine = FullEngine()
        let service = RankerService(model: Support.model, engine: engine)
        // 64 inputs x 8 candidates = 3584 pairs: under the pair limit, refused by the full engine.
        let (body, texts) = Self.bigRank(inputs: 64, candidates: 8, bytes: 1900)
        #expect(body.count > 1 << 20)
        var code = 0
        let refused = Self.cpu { code = status(service, .rank, body) }
        let tokenizing = Self.tokenizeCost(texts)
        #expect(code == 429)
        #expect(engine.admissions == 1)
        #expect(refused < tokenizing / 3, "refused in \(refused) s CPU; tokenizing alone costs \(tokenizing) s")
        print("429 at capacity: \(body.count) bytes refused in \(refused) s CPU; tokenizing them: \(tokenizing) s")
        for route: (RankerService.Route, String) in [
            (.tokenize, #"{"text":"hello world"}"#), (.tokenize, #"{"input":"q","candidate_a":"a","candidate_b":"b"}"#),
            (.compare, #"{"input":"q","candidate_a":"a","candidate_b":"b"}"#), (.rerank, #"{"query":"q","documents":["a","b"]}"#),
            (.getReward, #"{"query":["q a"],"prompts":["q"],"labels":["a"]}"#),
            (.rank, #"{"input":"q","candidates":["a","b","c"],"mode":"bubble","seed":3}"#),
            (.rank, #"{"input":"q","candidates":["a","b"],"mode":"ref"}"#),
        ] {
            #expect(status(service, route.0, Array(route.1.utf8)) == 429, "\(route.0) \(route.1)")
        }
    }

    @Test("the planned pair count is what is scored, in every mode")
    func plannedEqualsScored() throws {
        final class Recording: InferenceEngine, @unchecked Sendable {
            let inner: DirectEngine
            let lock = NSLock()
            var admitted: [Int] = [], evaluated = 0
            init(_ inner: DirectEngine) { self.inner = inner }
            func admit(pairs: Int, context: RequestContext) throws -> Admission {
                lock.withLock { admitted.append(pairs) }
                return Admission(pairs: pairs)
            }
            func evaluate(_ pairs: [PairSequence], context: RequestContext) throws -> [Float] {
                lock.withLock { evaluated += pairs.count }
                return try inner.evaluate(pairs, context: context)
            }
        }
        let cases: [(RankerService.Route, String, Int)] = [
            (.rank, #"{"input":"q","candidates":["a","b","c"]}"#, 6),
            (.rank, #"{"inputs":["q","r"],"candidates":[["a","b","c"],["d","e"]]}"#, 8),
            (.rank, #"{"input":"q","candidates":["a","b","c","d"],"mode":"bubble","seed":1}"#, 6),
            (.rank, #"{"input":"q","candidates":["a","b","c"],"mode":"ref"}"#, 6),
            (.rank, #"{"input":"q","candidates":["a","b","c"],"mode":"ref","reference":"z"}"#, 6),
            (.compare, #"{"input":"q","candidate_a":"a","candidate_b":"b"}"#, 2),
            (.compare, #"{"inputs":["q","r"],"candidates_a":["a","b"],"candidates_b":["c","d"],"mode":"[A,B]"}"#, 2),
            (.rerankV2, #"{"query":"q","documents":["a","b","c"]}"#, 6),
            (.getReward, #"{"query":["q a","q b"],"prompts":["q","q"],"labels":["a","a"]}"#, 4),
        ]
        for (route, body, pairs) in cases {
            let engine = Recording(DirectEngine(model: Support.model))
            let service = RankerService(model: Support.model, engine: engine)
            _ = try service.handle(route, body: Array(body.utf8), context: RequestContext(id: "plan"))
            #expect(engine.admitted == [pairs] && engine.evaluated == pairs, "\(body): admitted \(engine.admitted), scored \(engine.evaluated)")
        }
    }
}
