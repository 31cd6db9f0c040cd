import Foundation
import PairRanker

extension RankerService {
    // MARK: /rank

    func rank(_ f: RequestFields, context: RequestContext) throws -> JSON {
        let modeName = try f.string("mode") ?? "full"
        guard ["full", "bubble", "ref"].contains(modeName) else {
            throw APIError.invalid("mode", "unknown mode '\(modeName)' (expected full, bubble or ref)")
        }
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
            try checkCandidates(cands, field: "candidates")
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
                try checkCandidates(cands[i], field: "candidates[\(i)]")
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
            switch modeName {
            case "full": return Self.orderedPairs(n)
            case "ref": return 2 * n
            default: return 2 * max(0, n - 1)
            }
        }
        return try admitted(pairs: planned, context: context) {
            try rankAdmitted(modeName: modeName, inputs: inputs, references: references, single: single, len: len, asm: asm,
                             returnScores: returnScores, seedValue: seedValue, refMode: refMode, context: context)
        }
    }

    /// /rank once admitted: tokenizes, scores and shapes the response.
    private func rankAdmitted(modeName: String, inputs: [RankInput], references: [String?], single: Bool, len: Lengths,
                              asm: PairAssembler, returnScores: Bool, seedValue: Int?, refMode: RefMode,
                              context: RequestContext) throws -> JSON {
        let segs = try inputs.enumerated().map { try segments($1, len, field: single ? "input" : "inputs[\($0)]") }
        let truncated = segs.reduce(0) { $0 + $1.truncatedCount }
        func wrap(_ items: [JSON]) -> JSON { single ? (items.first ?? .null) : .array(items) }

        switch modeName {
        case "full":
            let logits = try score(segs.map { Ranking.fullPairs(asm, $0) }, context: context)
            let results = zip(logits, segs).map { Ranking.fullResult($0, count: $1.candidates.count) }
            var out: [(String, JSON)] = [("ranks", wrap(results.map { .array($0.ranks.map { .number(Double($0)) }) }))]
            if returnScores { out.append(("scores", wrap(results.map { .array($0.scores.map(JSON.float)) }))) }
            out.append(("usage", usage(context, truncated: truncated)))
            return .object(out)
        case "ref":
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
        default:  // bubble
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

    func checkCandidates(_ cands: [String], field: String) throws {
        guard !cands.isEmpty else { throw APIError.invalid(field, "must not be empty") }
        guard cands.count <= limits.maxCandidates else {
            throw APIError.invalid(field, "has \(cands.count) candidates, over the limit of \(limits.maxCandidates)")
        }
        for (i, c) in cands.enumerated() { try checkText(c, "\(field)[\(i)]") }
    }

    // MARK: /rerank, /v1/rerank, /v2/rerank

    func rerank(_ f: RequestFields, version: Int, context: RequestContext) throws -> JSON {
        let query = try f.requiredString("query")
        try checkText(query, "query")
        guard let docsJSON = f.object["documents"] ?? f.object["texts"], case let .array(items) = docsJSON else {
            throw APIError.field("documents", "is required (an array of strings or {\"text\": ...} objects)")
        }
        let docs: [String] = try items.enumerated().map { i, item in
            switch item {
            case let .string(s): return s
            case .object:
                guard case let .string(s)? = item["text"] else { throw APIError.field("documents[\(i)].text", "is required (a string)") }
                return s
            default: throw APIError.field("documents[\(i)]", "expected a string or an object with text, got \(item.typeName)")
            }
        }
        try checkCandidates(docs, field: "documents")
        _ = try f.string("model")
        let topN = try f.int("top_n")
        if let t = topN, t < 1 { throw APIError.invalid("top_n", "must be at least 1") }
        let raw = try f.bool("raw_scores") ?? false
        let returnDocuments = version == 1 ? (try f.bool("return_documents") ?? true) : false
        let len = try lengths(f)
        let asm = try assembler(len)
        return try admitted(pairs: Self.orderedPairs(docs.count), context: context) {
            try rerankAdmitted(query: query, docs: docs, len: len, asm: asm, topN: topN, raw: raw,
                               returnDocuments: returnDocuments, version: version, context: context)
        }
    }

    private func rerankAdmitted(query: String, docs: [String], len: Lengths, asm: PairAssembler, topN: Int?, raw: Bool,
                                returnDocuments: Bool, version: Int, context: RequestContext) throws -> JSON {
        let seg = try segments(RankInput(input: query, candidates: docs), len, field: "query")
        let logits = try score([Ranking.fullPairs(asm, seg)], context: context).first ?? []
        let result = Ranking.fullResult(logits, count: docs.count)
        let order = result.scores.indices.sorted { result.scores[$0] > result.scores[$1] || (result.scores[$0] == result.scores[$1] && $0 < $1) }
        let results: [JSON] = order.prefix(topN ?? docs.count).map { i in
            let s = result.scores[i]
            var m: [(String, JSON)] = [("index", .number(Double(i))),
                                       ("relevance_score", raw ? .float(s) : .number(1 / (1 + exp(-Double(s)))))]
            if returnDocuments { m.append(("document", .object([("text", .string(docs[i]))]))) }
            return .object(m)
        }
        let meta: JSON = .object([("api_version", .object([("version", .string(String(version)))])),
                                  ("billed_units", .object([("search_units", .number(1))]))])
        var out: [(String, JSON)] = [("id", .string(context.id)), ("results", .array(results)), ("meta", meta)]
        if version == 1 { out.append(("usage", .object([("total_tokens", .number(Double(context.tokens)))]))) }
        return .object(out)
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
