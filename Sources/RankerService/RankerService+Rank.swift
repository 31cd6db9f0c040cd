import Foundation
import PairEngine
import PairRanker

extension RankerService {
    // MARK: /rank

    /// /rank's `mode` (openapi.yaml): how the candidates of one input are ranked.
    enum RankMode: String, CaseIterable {
        /// All n(n-1) ordered pairs; a score per candidate.
        case full
        /// Best-of-n in 2(n-1) passes, from a seeded start order.
        case bubble
        /// Each candidate against a reference.
        case ref
        /// A seeded quicksort with the two-order compare as comparator.
        case sort

        /// "full, bubble, ref or sort", for the error naming an unknown mode.
        static let expected = allCases.dropLast().map(\.rawValue).joined(separator: ", ") + " or " + allCases.last!.rawValue
    }

    func rank(_ f: RequestFields, context: RequestContext) throws -> JSON {
        let modeName = try f.string("mode") ?? RankMode.full.rawValue
        guard let mode = RankMode(rawValue: modeName) else {
            throw APIError.invalid("mode", "unknown mode '\(modeName)' (expected \(RankMode.expected))")
        }
        let topN = try f.int("top_n")
        if let t = topN {
            guard mode == .sort else { throw APIError.invalid("top_n", "is only for mode sort") }
            guard t >= 1 else { throw APIError.invalid("top_n", "must be at least 1") }
        }
        let maxCands = mode == .sort ? limits.maxDocuments : limits.maxCandidates
        let returnScores = try f.bool("return_scores") ?? true
        let seedValue = try f.int("seed")
        if let s = seedValue, s < 0 { throw APIError.invalid("seed", "must be a non-negative integer") }
        let refModeName = try f.string("ref_mode") ?? RefMode.longest.rawValue
        guard let refMode = RefMode(rawValue: refModeName) else {
            throw APIError.invalid("ref_mode", "unknown ref_mode '\(refModeName)' (expected \(RefMode.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let len = try lengths(f)
        let single = !f.has("inputs")
        var inputs: [RankInput] = []
        var references: [String?] = []
        if single {
            let input = try f.requiredString("input")
            guard let cands = try f.strings("candidates") else { throw APIError.field("candidates", "is required (an array of strings)") }
            let instruction = try f.string("instruction")
            try checkText(input, "input")
            try checkText(instruction ?? "", "instruction")
            try checkCandidates(cands, field: "candidates", limit: maxCands)
            inputs = [RankInput(instruction: instruction, input: input, candidates: cands)]
            references = [try f.string("reference")]
        } else {
            guard let ins = try f.strings("inputs") else { throw APIError.field("inputs", "is required") }
            guard let cands = try f.stringLists("candidates") else { throw APIError.field("candidates", "is required (an array of arrays of strings)") }
            guard !ins.isEmpty else { throw APIError.invalid("inputs", "must not be empty") }
            guard ins.count <= limits.maxInputs else { throw APIError.invalid("inputs", "has \(ins.count) items, over the limit of \(limits.maxInputs)") }
            guard cands.count == ins.count else { throw APIError.invalid("candidates", "has \(cands.count) lists, expected one per input (\(ins.count))") }
            let instr = try instructions(f, count: ins.count)
            for i in ins.indices {
                try checkText(ins[i], "inputs[\(i)]")
                try checkCandidates(cands[i], field: "candidates[\(i)]", limit: maxCands)
            }
            inputs = ins.indices.map { RankInput(instruction: instr[$0], input: ins[$0], candidates: cands[$0]) }
            if let refs = try f.optionalStrings("references") {
                guard refs.count == ins.count else { throw APIError.invalid("references", "has \(refs.count) items, expected one per input (\(ins.count))") }
                references = refs
            } else {
                references = Array(repeating: nil, count: ins.count)
            }
        }
        for (i, r) in references.enumerated() { if let r { try checkText(r, single ? "reference" : "references[\(i)]") } }
        let asm = try assembler(len)
        let planned = Self.pairCount(inputs) { input -> Int in
            let n = input.candidates.count
            switch mode {
            case .full: return Self.orderedPairs(n)
            case .ref: return 2 * n
            case .sort: return Self.sortBudget(n, top: topN)
            case .bubble: return 2 * max(0, n - 1)
            }
        }
        return try admitted(pairs: planned, context: context) {
            try rankAdmitted(mode: mode, inputs: inputs, references: references, single: single, len: len, asm: asm,
                             returnScores: returnScores, seedValue: seedValue, refMode: refMode, topN: topN, context: context)
        }
    }

    /// /rank once admitted: tokenizes, scores and shapes the response.
    private func rankAdmitted(mode: RankMode, inputs: [RankInput], references: [String?], single: Bool, len: Lengths,
                              asm: PairAssembler, returnScores: Bool, seedValue: Int?, refMode: RefMode, topN: Int?,
                              context: RequestContext) throws -> JSON {
        let segs = try inputs.enumerated().map { try segments($1, len, field: single ? "input" : "inputs[\($0)]") }
        let truncated = segs.reduce(0) { $0 + $1.truncatedCount }
        func wrap(_ items: [JSON]) -> JSON { single ? (items.first ?? .null) : .array(items) }

        switch mode {
        case .full:
            let logits = try score(segs.map { Ranking.fullPairs(asm, $0) }, context: context)
            let results = zip(logits, segs).map { Ranking.fullResult($0, count: $1.candidates.count) }
            var out: [(String, JSON)] = [("ranks", wrap(results.map { .array($0.ranks.map { .number(Double($0)) }) }))]
            if returnScores { out.append(("scores", wrap(results.map { .array($0.scores.map(JSON.float)) }))) }
            out.append(("usage", usage(context, truncated: truncated)))
            return .object(out)
        case .ref:
            var plans: [([Int32], Int?)] = []
            for (k, seg) in segs.enumerated() {
                if let text = references[k] {
                    plans.append((asm.truncate(model.candidateIDs(text), maxLength: seg.candidateBudget).ids, nil))
                } else {
                    let idx = Ranking.referenceIndex(refMode, lengths: inputs[k].candidates.map(\.unicodeScalars.count))
                    plans.append((seg.candidates[idx], idx))
                }
            }
            let logits = try score(zip(segs, plans).map { Ranking.referencePairs(asm, $0, reference: $1.0) }, context: context)
            let results = zip(logits, plans).map { Ranking.referenceResult($0, referenceIndex: $1.1) }
            var out: [(String, JSON)] = [("ranks", wrap(results.map { .array($0.ranks.map { .number(Double($0)) }) }))]
            if returnScores { out.append(("scores", wrap(results.map { .array($0.scores.map { .number($0) }) }))) }
            out.append(("references", wrap(results.map { $0.reference.map { .number(Double($0)) } ?? .null })))
            out.append(("usage", usage(context, truncated: truncated)))
            return .object(out)
        case .sort:
            let seed = seedValue.map { UInt64(clamping: $0) } ?? UInt64.random(in: 0...(1 << 53))
            let results = try segs.map { try sortRanking($0, asm: asm, top: topN, seed: seed, context: context) }
            var out: [(String, JSON)] = [("order", wrap(results.map { .array($0.order.map { .number(Double($0)) }) })),
                                         ("ranks", wrap(results.map { .array($0.ranks.map { .number(Double($0)) }) }))]
            if returnScores { out.append(("scores", wrap(results.map { .array($0.scores.map(JSON.float)) }))) }
            out.append(("seed", .number(Double(seed))))
            out.append(("usage", usage(context, truncated: truncated)))
            return .object(out)
        case .bubble:
            // Seeds are 0...2^53 (RequestFields.int), so the echo is an exact JSON integer.
            let seed = seedValue.map { UInt64(clamping: $0) } ?? UInt64.random(in: 0...(1 << 53))
            let results = try segs.map { seg in
                try Ranking.bubble(asm, seg, start: SeededPermutation.make(count: seg.candidates.count, seed: seed)) {
                    try self.evaluate($0, context: context)
                }
            }
            return .object([("best", wrap(results.map { .number(Double($0.best)) })),
                            ("order", wrap(results.map { .array($0.order.map { .number(Double($0)) }) })),
                            ("seed", .number(Double(seed))), ("usage", usage(context, truncated: truncated))])
        }
    }

    func checkCandidates(_ cands: [String], field: String, limit: Int? = nil) throws {
        let limit = limit ?? limits.maxCandidates
        guard !cands.isEmpty else { throw APIError.invalid(field, "must not be empty") }
        guard cands.count <= limit else {
            throw APIError.invalid(field, "has \(cands.count) candidates, over the limit of \(limit)"
                                   + (limit == limits.maxCandidates ? " (mode sort takes up to \(limits.maxDocuments))" : ""))
        }
        for (i, c) in cands.enumerated() { try checkText(c, "\(field)[\(i)]") }
    }

    // MARK: mode sort

    /// The forwards a sort of `n` candidates may spend (admitted, and checked against the
    /// per-request pair limit, before any text is tokenized): comparisons ⌈2·n·ln n⌉ + n for a
    /// whole order (the seeded quicksort expects 2(n+1)H(n) − 4n ≈ 1.39·n·log2 n; this leaves more
    /// than five standard deviations), 4·n + ⌈2·k·ln(k+1)⌉ for the best k, two forwards each, and
    /// never more than the n·(n−1) of the full matrix. `sortRanking` refuses to pass it.
    static func sortBudget(_ n: Int, top: Int?) -> Int {
        guard n > 1, n <= 1 << 20 else { return n <= 1 ? 0 : .max }
        let x = Double(n)
        var comparisons = (2 * x * log(x)).rounded(.up) + x
        if let k = top, k < n {
            comparisons = min(comparisons, 4 * x + (2 * Double(k) * log(Double(k) + 1)).rounded(.up))
        }
        return min(2 * Int(comparisons), orderedPairs(n))
    }

    /// `Ranking.sorted` through the engine, held to `sortBudget`: a model whose comparisons are
    /// far from any order (or documents crafted against the seeded pivots) gets a 422 naming
    /// the budget instead of quadratic work.
    func sortRanking(_ seg: Segments, asm: PairAssembler, top: Int?, seed: UInt64, context: RequestContext) throws -> SortRanking {
        let budget = Self.sortBudget(seg.candidates.count, top: top)
        var spent = 0
        return try Ranking.sorted(asm, seg, top: top, seed: seed) { pairs in
            guard pairs.count <= budget - spent else {
                throw APIError.invalid("request", "the sort of \(seg.candidates.count) candidates needed more than its budget of \(budget) forwards "
                                       + "(the model's comparisons are far from a consistent order here); send top_n, fewer documents or another seed")
            }
            spent += pairs.count
            return try self.evaluate(pairs, context: context)
        }
    }

    // MARK: /rerank, /v1/rerank, /v2/rerank

    /// Documents ranked best first: (document index, score). Up to `limits.rerankFullUpTo`
    /// documents, the full matrix's max_logits scores; above it, the sort's order with its
    /// scores made non-increasing along the order (a running minimum), so that a client sorting
    /// by score keeps the order.
    private func rankedDocuments(query: String, docs: [String], len: Lengths, asm: PairAssembler, top: Int?, seed: UInt64,
                                 context: RequestContext) throws -> (ranked: [(Int, Float)], seg: Segments) {
        let seg = try segments(RankInput(input: query, candidates: docs), len, field: "query")
        if docs.count <= limits.rerankFullUpTo {
            let logits = try score([Ranking.fullPairs(asm, seg)], context: context).first ?? []
            let scores = Ranking.fullResult(logits, count: docs.count).scores
            let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
            return (order.prefix(top ?? docs.count).map { ($0, scores[$0]) }, seg)
        }
        let sorted = try sortRanking(seg, asm: asm, top: top, seed: seed, context: context)
        var ranked: [(Int, Float)] = []
        var floor = Float.infinity
        for i in sorted.order.prefix(top ?? docs.count) {
            floor = min(floor, sorted.scores[i])
            ranked.append((i, floor))
        }
        return (ranked, seg)
    }

    private func planned(_ n: Int, top: Int?) -> Int {
        n <= limits.rerankFullUpTo ? Self.orderedPairs(n) : Self.sortBudget(n, top: top)
    }

    private func checkDocumentCount(_ n: Int, field: String) throws {
        guard n > 0 else { throw APIError.invalid(field, "must not be empty") }
        guard n <= limits.maxDocuments else { throw APIError.invalid(field, "has \(n) documents, over the limit of \(limits.maxDocuments)") }
    }

    private func rerankSeed(_ f: RequestFields) throws -> UInt64 {
        let seed = try f.int("seed") ?? 0
        guard seed >= 0 else { throw APIError.invalid("seed", "must be a non-negative integer") }
        return UInt64(seed)
    }

    static func relevance(_ s: Float, raw: Bool) -> JSON { raw ? .float(s) : .number(1 / (1 + exp(-Double(s)))) }

    /// Cohere (v1, v2) and Jina bodies; a body with `texts` and no `documents` is TEI's.
    func rerank(_ f: RequestFields, version: Int, context: RequestContext) throws -> JSON {
        if !f.has("documents"), f.has("texts") { return try teiRerank(f, context: context) }
        let query = try f.requiredString("query")
        try checkText(query, "query")
        guard let docsJSON = f.object["documents"], docsJSON != .null else {
            throw APIError.field("documents", "is required (an array of strings or {\"text\": ...} objects)")
        }
        guard case let .array(items) = docsJSON else { throw APIError.field("documents", "expected an array, got \(docsJSON.typeName)") }
        try checkDocumentCount(items.count, field: "documents")
        if f.has("max_chunks_per_doc") {
            throw APIError.invalid("max_chunks_per_doc", "is not supported: a document is truncated to its token budget (max_tokens_per_doc), never split into chunks; leave it out")
        }
        if let p = try f.int("priority"), p != 0 {
            throw APIError.invalid("priority", "is not supported: requests are served in arrival order; leave it out or send 0")
        }
        let rankFields = try f.strings("rank_fields")
        if let rf = rankFields, rf.isEmpty { throw APIError.invalid("rank_fields", "must not be empty (leave it out to rank on text)") }
        let docs: [String] = try items.enumerated().map { i, item in
            switch item {
            case let .string(s): return s
            case .object:
                if let rf = rankFields {
                    // Cohere's semi-structured form: one "field: value" line per named field, in
                    // rank_fields order; a field the document lacks is skipped.
                    var lines: [String] = []
                    for key in rf {
                        guard let v = item[key], v != .null else { continue }
                        guard case let .string(text) = v else {
                            throw APIError.invalid("documents[\(i)].\(key)", "a rank field must be a string, got \(v.typeName)")
                        }
                        lines.append("\(key): \(text)")
                    }
                    guard !lines.isEmpty else {
                        throw APIError.invalid("documents[\(i)]", "has none of the rank_fields (\(rf.joined(separator: ", ")))")
                    }
                    return lines.joined(separator: "\n")
                }
                guard let v = item["text"], v != .null else {
                    throw APIError.invalid("documents[\(i)]", "an object needs a text string, or name the fields to rank with rank_fields")
                }
                guard case let .string(s) = v else { throw APIError.invalid("documents[\(i)].text", "expected a string, got \(v.typeName)") }
                return s
            default: throw APIError.field("documents[\(i)]", "expected a string or an object with text, got \(item.typeName)")
            }
        }
        for (i, d) in docs.enumerated() { try checkText(d, "documents[\(i)]") }
        let modelName = try f.string("model")
        let topN = try f.int("top_n")
        if let t = topN, t < 1 { throw APIError.invalid("top_n", "must be at least 1") }
        let raw = try f.bool("raw_scores") ?? false
        let returnDocuments = try f.bool("return_documents") ?? (version == 1)
        var len = try lengths(f)
        if let m = try f.int("max_tokens_per_doc") {
            guard len.candidate == nil else {
                throw APIError.invalid("max_tokens_per_doc", "give max_tokens_per_doc or candidate_max_length, not both")
            }
            guard m >= 3 else { throw APIError.invalid("max_tokens_per_doc", "must be at least 3 (a document's budget counts its 2 special tokens)") }
            len.candidate = min(m, model.assembler.candidateMaxLength)
        }
        let seed = try rerankSeed(f)
        let asm = try assembler(len)
        let top = topN.map { min($0, docs.count) }
        return try admitted(pairs: planned(docs.count, top: top), context: context) {
            let (ranked, _) = try rankedDocuments(query: query, docs: docs, len: len, asm: asm, top: top, seed: seed, context: context)
            let results: [JSON] = ranked.map { i, s in
                var m: [(String, JSON)] = [("index", .number(Double(i))), ("relevance_score", Self.relevance(s, raw: raw))]
                if returnDocuments {
                    // A dict document comes back as sent; a string as {"text": ...}.
                    if case .object = items[i] { m.append(("document", items[i])) } else { m.append(("document", .object([("text", .string(docs[i]))]))) }
                }
                return .object(m)
            }
            let meta: JSON = .object([("api_version", .object([("version", .string(String(version)))])),
                                      ("billed_units", .object([("search_units", .number(1))]))])
            var out: [(String, JSON)] = [("id", .string(context.id))]
            if let modelName { out.append(("model", .string(modelName))) }
            out += [("results", .array(results)), ("meta", meta),
                    ("usage", .object([("total_tokens", .number(Double(context.tokens))), ("pairs", .number(Double(context.pairs)))]))]
            return .object(out)
        }
    }

    /// Text Embeddings Inference's body (`query`, `texts`, `raw_scores`, `return_text`,
    /// `truncate`, `truncation_direction`) and its answer: a bare list `[{index, score, text?}]`,
    /// best first.
    func teiRerank(_ f: RequestFields, context: RequestContext) throws -> JSON {
        let query = try f.requiredString("query")
        try checkText(query, "query")
        guard let texts = try f.strings("texts") else { throw APIError.field("texts", "is required (an array of strings)") }
        try checkDocumentCount(texts.count, field: "texts")
        for (i, t) in texts.enumerated() { try checkText(t, "texts[\(i)]") }
        let raw = try f.bool("raw_scores") ?? false
        let returnText = try f.bool("return_text") ?? false
        let truncate = try f.bool("truncate") ?? true
        if let direction = try f.string("truncation_direction") {
            switch direction.lowercased() {
            case "right": break
            case "left":
                throw APIError.invalid("truncation_direction", "Left is not supported: the model keeps the first tokens of each text (right truncation), as it was trained; send Right or leave it out")
            default: throw APIError.invalid("truncation_direction", "expected Left or Right, got '\(direction.prefix(64))'")
            }
        }
        let len = try lengths(f)
        let seed = try rerankSeed(f)
        let asm = try assembler(len)
        return try admitted(pairs: planned(texts.count, top: nil), context: context) {
            if !truncate {
                let seg = try segments(RankInput(input: query, candidates: texts), len, field: "query")
                if seg.truncatedCount > 0 { try overLong(query: query, texts: texts, seg: seg) }
            }
            let (ranked, _) = try rankedDocuments(query: query, docs: texts, len: len, asm: asm, top: nil, seed: seed, context: context)
            return .array(ranked.map { i, s in
                var m: [(String, JSON)] = [("index", .number(Double(i))), ("score", Self.relevance(s, raw: raw))]
                if returnText { m.append(("text", .string(texts[i]))) }
                return .object(m)
            })
        }
    }

    /// With truncate false, the 422 TEI gives for an over-long input, naming the first one.
    private func overLong(query: String, texts: [String], seg: Segments) throws {
        let source = model.sourceIDs(instruction: nil, input: query).count
        if source > seg.source.count {
            throw APIError.invalid("query", "is \(source) tokens, over its budget of \(seg.source.count), and truncate is false")
        }
        for (i, t) in texts.enumerated() {
            let n = model.candidateIDs(t).count
            if n > seg.candidates[i].count {
                throw APIError.invalid("texts[\(i)]", "is \(n) tokens, over its budget of \(seg.candidates[i].count), and truncate is false")
            }
        }
    }

    // MARK: /get_reward (OpenRLHF remote reward model)

    func getReward(_ f: RequestFields, context: RequestContext) throws -> JSON {
        guard let queries = try f.strings("query") else { throw APIError.field("query", "is required (an array of prompt+response strings)") }
        let prompts = try f.strings("prompts") ?? Array(repeating: "", count: queries.count)
        guard let labels = try f.strings("labels") else {
            throw APIError.invalid("labels", "is required: PairRanker scores a response against a reference answer, given per query in labels")
        }
        guard !queries.isEmpty else { throw APIError.invalid("query", "must not be empty") }
        guard queries.count <= limits.maxInputs else { throw APIError.invalid("query", "has \(queries.count) items, over the limit of \(limits.maxInputs)") }
        guard prompts.count == queries.count else { throw APIError.invalid("prompts", "has \(prompts.count) items, expected one per query (\(queries.count))") }
        guard labels.count == queries.count else { throw APIError.invalid("labels", "has \(labels.count) items, expected one per query (\(queries.count))") }
        let len = try lengths(f)
        for i in queries.indices {
            try checkText(queries[i], "query[\(i)]"); try checkText(prompts[i], "prompts[\(i)]"); try checkText(labels[i], "labels[\(i)]")
        }
        let asm = try assembler(len)
        return try admitted(pairs: Self.pairCount(queries) { _ in 2 }, context: context) {
            var segs: [Segments] = []
            for i in queries.indices {
                // The response is the query minus its prompt prefix (compared on code units).
                let q = Array(queries[i].utf8), p = Array(prompts[i].utf8)
                let response = q.starts(with: p) ? String(decoding: q[p.count...], as: UTF8.self) : queries[i]
                segs.append(try segments(RankInput(input: prompts[i], candidates: [response, labels[i]]), len, field: "query[\(i)]"))
            }
            let rewards = try score(segs.map { Ranking.comparePairs(asm, $0, a: 0, b: 1, mode: .both) }, context: context)
                .map { Ranking.compareResult($0, mode: .both) }
            return .object([("rewards", .array(rewards.map(JSON.float))),
                            ("scores", .array(rewards.map { .number(1 / (1 + exp(-Double($0)))) })),
                            ("extra_logs", .object([]))])
        }
    }

    // MARK: /tokenize

    /// Tokenizing costs CPU like the rest, so /tokenize is admitted too (as one pair sequence):
    /// at capacity it gets 429 like any other route.
    func tokenize(_ f: RequestFields, context: RequestContext) throws -> JSON {
        let tok = model.tokenizer
        if let text = try f.string("text") {
            try checkText(text, "text")
            let special = try f.bool("add_special_tokens") ?? true
            return try admitted(pairs: 1, context: context) {
                let ids = tok.encode(text, addSpecialTokens: special)
                return .object([("ids", .array(ids.map { .number(Double($0)) })), ("tokens", .array(tok.tokens(ids).map(JSON.string)))])
            }
        }
        guard f.has("input") else { throw APIError.field("text", "is required (or input, candidate_a and candidate_b for a pair)") }
        let input = try f.requiredString("input"), a = try f.requiredString("candidate_a"), b = try f.requiredString("candidate_b")
        let instruction = try f.string("instruction")
        for (s, n) in [(input, "input"), (a, "candidate_a"), (b, "candidate_b"), (instruction ?? "", "instruction")] { try checkText(s, n) }
        let len = try lengths(f)
        let asm = try assembler(len)
        return try admitted(pairs: 1, context: context) {
            try tokenizePair(instruction: instruction, input: input, a: a, b: b, len: len, asm: asm)
        }
    }

    private func tokenizePair(instruction: String?, input: String, a: String, b: String, len: Lengths, asm: PairAssembler) throws -> JSON {
        let tok = model.tokenizer
        let seg = try segments(RankInput(instruction: instruction, input: input, candidates: [a, b]), len, field: "input")
        let pair = asm.pair(source: seg.source, left: seg.candidates[0], right: seg.candidates[1])
        let full = [model.sourceIDs(instruction: instruction, input: input).count, model.candidateIDs(a).count, model.candidateIDs(b).count]
        let kept = [seg.source.count, seg.candidates[0].count, seg.candidates[1].count]
        let names = ["source", "candidate_a", "candidate_b"]
        return .object([
            ("ids", .array(pair.ids.map { .number(Double($0)) })),
            ("tokens", .array(tok.tokens(pair.ids).map(JSON.string))),
            ("positions", .object(zip(names, [pair.sourcePosition, pair.leftPosition, pair.rightPosition]).map { ($0, .number(Double($1))) })),
            ("lengths", .object(zip(names, kept).map { ($0, .number(Double($1))) })),
            ("truncated", .object(names.indices.map { (names[$0], .bool(full[$0] > kept[$0])) })),
            ("source_max_length", .number(Double(asm.sourceMaxLength))),
            ("candidate_budget", .number(Double(seg.candidateBudget))),
        ])
    }
}
