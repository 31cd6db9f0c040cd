import Foundation
import PairEngine
import PairRanker

/// The API's semantics (openapi.yaml), independent of HTTP: validate a request body, plan its pair
/// sequences, admit the whole request, score its pairs through the engine, shape the response.
/// The CLI and the HTTP routes both call `handle`.
public final class RankerService: Sendable {
    public enum Route: String, CaseIterable, Sendable {
        case compare = "/compare", rank = "/rank", rerank = "/rerank", rerankV1 = "/v1/rerank", rerankV2 = "/v2/rerank"
        case getReward = "/get_reward", tokenize = "/tokenize"
    }

    public let model: PairRankerModel
    public let engine: InferenceEngine
    public let limits: ServiceLimits
    /// The exact score cache, or nil (off). Shared by every request; see `evaluate`.
    public let cache: ScoreCache?

    public init(model: PairRankerModel, engine: InferenceEngine, limits: ServiceLimits = ServiceLimits(), cache: ScoreCache? = nil) {
        self.model = model
        self.engine = engine
        self.limits = limits
        self.cache = cache
    }

    /// The response body for a POST to `route`, or an APIError.
    public func handle(_ route: Route, body: [UInt8], context: RequestContext) throws -> JSON {
        let json: JSON
        do { json = try JSON.parse(body) } catch let e as JSONParseError {
            throw APIError(.malformed, e.description)
        }
        let f = try RequestFields(json)
        switch route {
        case .compare: return try compare(f, context: context)
        case .rank: return try rank(f, context: context)
        case .rerank, .rerankV1: return try rerank(f, version: 1, context: context)
        case .rerankV2: return try rerank(f, version: 2, context: context)
        case .getReward: return try getReward(f, context: context)
        case .tokenize: return try tokenize(f, context: context)
        }
    }

    // MARK: shared steps

    struct Lengths { var source: Int?; var candidate: Int? }

    func lengths(_ f: RequestFields) throws -> Lengths {
        Lengths(source: try f.int("source_max_length"), candidate: try f.int("candidate_max_length"))
    }

    /// The pair assembler for the request's lengths; a length out of range is a 422 naming it.
    func assembler(_ lengths: Lengths) throws -> PairAssembler {
        do {
            return try model.assembler(sourceMaxLength: lengths.source, candidateMaxLength: lengths.candidate)
        } catch let e as PairRankerError {
            if case let .invalidArgument(name, message) = e { throw APIError.invalid(name, message) }
            throw APIError.invalid("source_max_length", "\(e)")
        }
    }

    func checkText(_ s: String, _ field: String) throws {
        if s.utf8.count > limits.maxTextBytes {
            throw APIError.invalid(field, "is \(s.utf8.count) bytes, over the limit of \(limits.maxTextBytes)")
        }
    }

    func segments(_ input: RankInput, _ lengths: Lengths, field: String) throws -> Segments {
        do {
            return try model.segments(input, sourceMaxLength: lengths.source, candidateMaxLength: lengths.candidate)
        } catch let e as PairRankerError {
            if case let .invalidArgument(name, message) = e { throw APIError.invalid(name, message) }
            throw APIError.invalid(field, "\(e)")
        }
    }

    /// Runs `body` (tokenizing, scoring, shaping) as one admitted unit of `pairs` pair sequences.
    /// The pair count follows from the counts of inputs and candidates alone, so the per-request
    /// limit and admission are decided before any text is tokenized: a request refused with 422
    /// or 429 costs the JSON parse and nothing more. The admission is released when `body`
    /// returns or throws.
    func admitted<T>(pairs: Int, context: RequestContext, _ body: () throws -> T) throws -> T {
        guard pairs <= limits.maxPairsPerRequest else {
            throw APIError.invalid("request", "needs \(pairs) pair sequences, over the limit of \(limits.maxPairsPerRequest)")
        }
        guard pairs > 0 else { return try body() }
        return try APIError.mappingEngineErrors { try engine.withAdmission(pairs: pairs, context: context, body) }
    }

    /// Sums per-input pair counts, saturating (a count past Int.max is over any limit anyway).
    static func pairCount<S: Sequence>(_ items: S, _ each: (S.Element) -> Int) -> Int {
        var total = 0
        for item in items {
            let (sum, overflow) = total.addingReportingOverflow(each(item))
            if overflow { return .max }
            total = sum
        }
        return total
    }

    /// n·(n−1), saturating: the ordered pairs of n candidates.
    static func orderedPairs(_ n: Int) -> Int {
        let (p, overflow) = n.multipliedReportingOverflow(by: max(0, n - 1))
        return overflow ? .max : p
    }

    /// The engine's logits for `pairs`, checked: one finite logit per pair. Ranking indexes by
    /// position and sorts by value, so a short answer or a NaN (a model file with non-finite
    /// weights) would trap or silently misrank; it is a 500 naming the fault instead.
    /// With the score cache on (and not bypassed by the request), cached pairs are answered from
    /// it and only the others go to the engine; what the engine returns is checked before it is
    /// stored. A cached logit is the bits the model computed for that exact sequence, and a
    /// sequence's logit does not depend on its batch, so answers are identical with and without
    /// the cache.
    func evaluate(_ pairs: [PairSequence], context: RequestContext) throws -> [Float] {
        let checked: ([PairSequence]) throws -> [Float] = { pairs in
            let logits = try APIError.mappingEngineErrors { try self.engine.evaluate(pairs, context: context) }
            guard logits.count == pairs.count else {
                throw APIError(.internalError, "the engine returned \(logits.count) logits for \(pairs.count) pairs")
            }
            guard logits.allSatisfy(\.isFinite) else {
                throw APIError(.internalError, "the model produced a non-finite logit (check the weights for NaN or infinity)")
            }
            return logits
        }
        guard let cache, context.useCache else { return try checked(pairs) }
        var computed = 0
        let logits = try cache.logits(pairs) { missing in computed = missing.count; return try checked(missing) }
        context.recordCached(pairs: pairs.count - computed)
        return logits
    }

    /// Scores groups of pairs (inside `admitted`); returns each group's logits.
    func score(_ groups: [[PairSequence]], context: RequestContext) throws -> [[Float]] {
        let total = groups.reduce(0) { $0 + $1.count }
        guard total > 0 else { return groups.map { _ in [] } }
        let flat = try evaluate(groups.flatMap { $0 }, context: context)
        var out: [[Float]] = []
        var k = 0
        for g in groups { out.append(Array(flat[k..<(k + g.count)])); k += g.count }
        return out
    }

    func usage(_ context: RequestContext, truncated: Int) -> JSON {
        .object([("pairs", .number(Double(context.pairs))), ("tokens", .number(Double(context.tokens))),
                 ("truncated", .number(Double(truncated))), ("cached", .number(Double(context.cachedPairs)))])
    }

    /// `instructions` must match `inputs` in length when given.
    func instructions(_ f: RequestFields, count: Int) throws -> [String?] {
        guard let list = try f.optionalStrings("instructions") else { return Array(repeating: nil, count: count) }
        guard list.count == count else {
            throw APIError.invalid("instructions", "has \(list.count) items, expected one per input (\(count))")
        }
        for (i, s) in list.enumerated() { if let s { try checkText(s, "instructions[\(i)]") } }
        return list
    }

    // MARK: /compare

    func compare(_ f: RequestFields, context: RequestContext) throws -> JSON {
        let modeName = try f.string("mode") ?? CompareMode.both.rawValue
        guard let mode = CompareMode(rawValue: modeName) else {
            throw APIError.invalid("mode", "unknown mode '\(modeName)' (expected \(CompareMode.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let len = try lengths(f)
        let single = !f.has("inputs")
        let inputs: [RankInput]
        if single {
            let input = try f.requiredString("input"), a = try f.requiredString("candidate_a"), b = try f.requiredString("candidate_b")
            let instruction = try f.string("instruction")
            for (s, n) in [(input, "input"), (a, "candidate_a"), (b, "candidate_b"), (instruction ?? "", "instruction")] { try checkText(s, n) }
            inputs = [RankInput(instruction: instruction, input: input, candidates: [a, b])]
        } else {
            guard let ins = try f.strings("inputs") else { throw APIError.field("inputs", "is required") }
            guard let ca = try f.strings("candidates_a") else { throw APIError.field("candidates_a", "is required") }
            guard let cb = try f.strings("candidates_b") else { throw APIError.field("candidates_b", "is required") }
            guard !ins.isEmpty else { throw APIError.invalid("inputs", "must not be empty") }
            guard ins.count <= limits.maxInputs else { throw APIError.invalid("inputs", "has \(ins.count) items, over the limit of \(limits.maxInputs)") }
            guard ca.count == ins.count else { throw APIError.invalid("candidates_a", "has \(ca.count) items, expected one per input (\(ins.count))") }
            guard cb.count == ins.count else { throw APIError.invalid("candidates_b", "has \(cb.count) items, expected one per input (\(ins.count))") }
            let instr = try instructions(f, count: ins.count)
            for i in ins.indices {
                try checkText(ins[i], "inputs[\(i)]"); try checkText(ca[i], "candidates_a[\(i)]"); try checkText(cb[i], "candidates_b[\(i)]")
            }
            inputs = ins.indices.map { RankInput(instruction: instr[$0], input: ins[$0], candidates: [ca[$0], cb[$0]]) }
        }
        let asm = try assembler(len)
        return try admitted(pairs: Self.pairCount(inputs) { _ in mode == .both ? 2 : 1 }, context: context) {
            let segs = try inputs.enumerated().map { try segments($1, len, field: single ? "input" : "inputs[\($0)]") }
            let logits = try score(segs.map { Ranking.comparePairs(asm, $0, a: 0, b: 1, mode: mode) }, context: context)
                .map { Ranking.compareResult($0, mode: mode) }
            let better = logits.map { mode == .ba ? $0 < 0 : $0 > 0 }
            let truncated = segs.reduce(0) { $0 + $1.truncatedCount }
            if single, let logit = logits.first, let b = better.first {
                return .object([("logit", .float(logit)), ("a_better", .bool(b)), ("usage", usage(context, truncated: truncated))])
            }
            return .object([("logits", .array(logits.map(JSON.float))), ("a_better", .array(better.map(JSON.bool))),
                            ("usage", usage(context, truncated: truncated))])
        }
    }
}
