import Foundation
import PairEngine
import PairRanker
import TestSupport
import Testing

@testable import RankerService

/// The rerank bodies real clients send (TEI, Cohere v1 and v2, Jina), taken
/// as those libraries build them, and the sort that ranks up to 1,000 documents.
@Suite struct WireRerankTests {
    static func call(_ route: RankerService.Route, _ body: String, service: RankerService = Support.service) throws -> JSON {
        try service.handle(route, body: Array(body.utf8), context: RequestContext(id: "wire"))
    }

    static func fails(_ route: RankerService.Route, _ body: String, _ status: Int, _ text: String,
                      service: RankerService = Support.service, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try call(route, body, service: service)
            Issue.record("\(body.prefix(80)) succeeded; expected \(status)", sourceLocation: sourceLocation)
        } catch let e as APIError {
            #expect(e.status.code == status, "\(e)", sourceLocation: sourceLocation)
            #expect(e.message.contains(text), "\(e.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(error)", sourceLocation: sourceLocation)
        }
    }

    static let query = "What is the capital of France?"
    static let docs = ["Paris is the capital of France.", "Berlin is in Germany.", "The sky is blue.", "France's capital city is Paris."]

    /// The /rank full-mode scores of `docs` for `query`: what every rerank shape must agree with.
    static func fullScores(_ query: String, _ docs: [String], extra: [(String, JSON)] = []) throws -> [Double] {
        try Support.call(.rank, Support.body([("input", .string(query)), ("candidates", Support.strings(docs))] + extra))["scores"]!.numbers
    }

    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    // MARK: item 1, TEI

    @Test("TEI (haystack HuggingFaceTEIRanker's body): a bare list [{index, score}], best first, sigmoid scores")
    func teiHaystack() throws {
        // haystack sends query, texts, raw_scores, truncate, truncation_direction ("Right").
        let body = Support.body([("query", .string(Self.query)), ("texts", Support.strings(Self.docs)), ("raw_scores", .bool(false)),
                                 ("truncate", .bool(true)), ("truncation_direction", .string("Right"))])
        let r = try Self.call(.rerank, body)
        guard case let .array(items) = r else { Issue.record("not a bare list: \(r.text)"); return }
        let full = try Self.fullScores(Self.query, Self.docs)
        #expect(items.count == Self.docs.count)
        #expect(Set(items.compactMap { $0["index"]?.number }) == Set((0..<Self.docs.count).map(Double.init)))
        let scores = items.compactMap { $0["score"]?.number }
        #expect(scores == scores.sorted(by: >), "best first")
        for item in items {
            let i = Int(item["index"]!.number!)
            #expect(abs(item["score"]!.number! - Self.sigmoid(full[i])) < 1e-6)
            #expect(item["text"] == nil, "no text unless return_text")
        }
    }

    @Test("TEI (llama-index TextEmbeddingInference's body): return_text, raw_scores, lowercase direction; on every rerank route")
    func teiLlamaIndex() throws {
        let body = Support.body([("query", .string(Self.query)), ("texts", Support.strings(Self.docs)), ("truncate", .bool(true)),
                                 ("truncation_direction", .string("right")), ("return_text", .bool(true)), ("raw_scores", .bool(true))])
        let full = try Self.fullScores(Self.query, Self.docs)
        for route in [RankerService.Route.rerank, .rerankV1, .rerankV2] {
            let items = try Self.call(route, body).items
            #expect(items.count == Self.docs.count, "\(route)")
            for item in items {
                let i = Int(item["index"]!.number!)
                #expect(item["text"] == .string(Self.docs[i]))
                #expect(abs(item["score"]!.number! - full[i]) < 1e-5, "raw score is the max_logits score")
            }
        }
    }

    @Test("TEI truncate false: an over-long text or query is a 422 naming it; truncate true (or absent) truncates")
    func teiTruncate() throws {
        let long = String(repeating: "word ", count: 2000)
        let texts = ["short", long]
        Self.fails(.rerank, Support.body([("query", .string("q")), ("texts", Support.strings(texts)), ("truncate", .bool(false))]),
                   422, "texts[1]: is ")
        Self.fails(.rerank, Support.body([("query", .string(long)), ("texts", Support.strings(["a", "b"])), ("truncate", .bool(false))]),
                   422, "query: is ")
        _ = try Self.call(.rerank, Support.body([("query", .string("q")), ("texts", Support.strings(["short", "also short"])), ("truncate", .bool(false))]))
        #expect(try Self.call(.rerank, Support.body([("query", .string("q")), ("texts", Support.strings(texts)), ("truncate", .bool(true))])).items.count == 2)
        #expect(try Self.call(.rerank, Support.body([("query", .string("q")), ("texts", Support.strings(texts))])).items.count == 2)
    }

    @Test("TEI truncation_direction: Left is refused (the model truncates right), anything else unknown is refused")
    func teiDirection() {
        for d in ["Left", "left", "LEFT"] {
            Self.fails(.rerank, Support.body([("query", .string("q")), ("texts", Support.strings(["a"])), ("truncation_direction", .string(d))]),
                       422, "truncation_direction: Left is not supported")
        }
        Self.fails(.rerank, Support.body([("query", .string("q")), ("texts", Support.strings(["a"])), ("truncation_direction", .string("Middle"))]),
                   422, "expected Left or Right")
        Self.fails(.rerank, Support.body([("query", .string("q")), ("texts", .array([.string("a"), .number(1)]))]), 400, "texts[1]")
        Self.fails(.rerank, Support.body([("query", .string("q")), ("texts", .array([]))]), 422, "texts: must not be empty")
    }

    // MARK: item 3, Cohere and Jina

    @Test("Cohere v1 SDK body with dict documents and rank_fields: 'field: value' lines, documents returned as sent, model echoed")
    func cohereV1RankFields() throws {
        let docs: [JSON] = [
            .object([("title", .string("Paris")), ("text", .string("Paris is the capital of France.")), ("id", .number(7)), ("tags", .array([.string("geo")]))]),
            .object([("title", .string("Sky")), ("text", .string("The sky is blue."))]),
            .object([("text", .string("Berlin is in Germany."))]),   // no title: that field is skipped
        ]
        let body = Support.body([("model", .string("rerank-english-v3.0")), ("query", .string(Self.query)), ("documents", .array(docs)),
                                 ("top_n", .number(3)), ("rank_fields", Support.strings(["title", "text"])), ("return_documents", .bool(true))])
        let r = try Self.call(.rerankV1, body)
        #expect(r["model"] == .string("rerank-english-v3.0"))
        let joined = ["title: Paris\ntext: Paris is the capital of France.", "title: Sky\ntext: The sky is blue.", "text: Berlin is in Germany."]
        let full = try Self.fullScores(Self.query, joined)
        let results = r["results"]!.items
        #expect(results.count == 3)
        for item in results {
            let i = Int(item["index"]!.number!)
            #expect(item["document"] == docs[i], "the whole object as sent")
            #expect(abs(item["relevance_score"]!.number! - Self.sigmoid(full[i])) < 1e-6, "ranked on the joined fields")
        }
        // Without rank_fields the same dicts rank on text, and come back whole too.
        let plain = try Self.call(.rerankV1, Support.body([("query", .string(Self.query)), ("documents", .array(docs))]))
        let fullText = try Self.fullScores(Self.query, docs.map { $0["text"]!.stringValue! })
        for item in plain["results"]!.items {
            let i = Int(item["index"]!.number!)
            #expect(item["document"] == docs[i])
            #expect(abs(item["relevance_score"]!.number! - Self.sigmoid(fullText[i])) < 1e-6)
        }
    }

    @Test("Cohere: what cannot be honoured is a 422 naming it, never ignored")
    func cohereRefusals() {
        let q: (String, JSON) = ("query", .string("q"))
        Self.fails(.rerankV1, Support.body([q, ("documents", .array([.object([("title", .string("x"))])]))]), 422, "documents[0]: an object needs a text string")
        Self.fails(.rerankV1, Support.body([q, ("documents", Support.strings(["a"])), ("max_chunks_per_doc", .number(10))]), 422, "max_chunks_per_doc: is not supported")
        Self.fails(.rerankV2, Support.body([q, ("documents", Support.strings(["a"])), ("priority", .number(5))]), 422, "priority: is not supported")
        Self.fails(.rerankV1, Support.body([q, ("documents", .array([.object([("title", .number(3))])])), ("rank_fields", Support.strings(["title"]))]),
                   422, "documents[0].title: a rank field must be a string")
        Self.fails(.rerankV1, Support.body([q, ("documents", .array([.object([("body", .string("x"))])])), ("rank_fields", Support.strings(["title"]))]),
                   422, "documents[0]: has none of the rank_fields (title)")
        Self.fails(.rerankV1, Support.body([q, ("documents", Support.strings(["a"])), ("rank_fields", .array([]))]), 422, "rank_fields: must not be empty")
        Self.fails(.rerankV2, Support.body([q, ("documents", Support.strings(["a"])), ("max_tokens_per_doc", .number(2))]), 422, "max_tokens_per_doc: must be at least 3")
        Self.fails(.rerankV2, Support.body([q, ("documents", Support.strings(["a"])), ("max_tokens_per_doc", .number(8)), ("candidate_max_length", .number(8))]),
                   422, "not both")
        Self.fails(.rerankV1, Support.body([q, ("documents", .array([.object([("text", .number(1))])]))]), 422, "documents[0].text: expected a string")
    }

    @Test("Cohere v2 SDK body: model echoed, no documents, max_tokens_per_doc is the candidate truncation (capped at the model's)")
    func cohereV2() throws {
        let long = (0..<200).map { "word\($0)" }.joined(separator: " ")
        let docs = [long, "Paris is the capital of France.", long + " extra"]
        let body = { (m: Int) in Support.body([("model", .string("rerank-v3.5")), ("query", .string(Self.query)), ("documents", Support.strings(docs)),
                                               ("top_n", .number(3)), ("max_tokens_per_doc", .number(Double(m)))]) }
        let r = try Self.call(.rerankV2, body(8))
        #expect(r["model"] == .string("rerank-v3.5"))
        #expect(r["results"]!.items.allSatisfy { $0["document"] == nil })
        let truncated = try Self.fullScores(Self.query, docs, extra: [("candidate_max_length", .number(8))])
        for item in r["results"]!.items {
            let i = Int(item["index"]!.number!)
            #expect(abs(item["relevance_score"]!.number! - Self.sigmoid(truncated[i])) < 1e-6, "max_tokens_per_doc 8 = candidate_max_length 8")
        }
        // Docs 0 and 2 share their first 8 tokens' worth, so truncated to 8 they tie; untruncated they differ.
        let byIndex = Dictionary(uniqueKeysWithValues: r["results"]!.items.map { (Int($0["index"]!.number!), $0["relevance_score"]!.number!) })
        #expect(byIndex[0] == byIndex[2])
        // Cohere's default of 4096 is above the model's limit: the model's own truncation applies.
        let wide = try Self.call(.rerankV2, body(4096))
        let untruncated = try Self.fullScores(Self.query, docs)
        for item in wide["results"]!.items {
            #expect(abs(item["relevance_score"]!.number! - Self.sigmoid(untruncated[Int(item["index"]!.number!)])) < 1e-6)
        }
        // return_documents is honoured on v2 when asked for.
        let withDocs = try Self.call(.rerankV2, Support.body([("query", .string("q")), ("documents", Support.strings(["a", "b"])), ("return_documents", .bool(true))]))
        #expect(withDocs["results"]!.items.allSatisfy { $0["document"]?["text"] != nil })
    }

    @Test("Jina body: model, usage.total_tokens, results with document.text")
    func jina() throws {
        let body = Support.body([("model", .string("jina-reranker-v2-base-multilingual")), ("query", .string(Self.query)),
                                 ("documents", Support.strings(Self.docs)), ("top_n", .number(3)), ("return_documents", .bool(true))])
        let r = try Self.call(.rerankV1, body)
        #expect(r["model"] == .string("jina-reranker-v2-base-multilingual"))
        #expect((r["usage"]?["total_tokens"]?.number ?? 0) > 0)
        let results = r["results"]!.items
        #expect(results.count == 3)
        for item in results { #expect(item["document"]?["text"] == .string(Self.docs[Int(item["index"]!.number!)])) }
        let scores = results.compactMap { $0["relevance_score"]?.number }
        #expect(scores == scores.sorted(by: >))
    }
}

extension JSON {
    var stringValue: String? { if case let .string(s) = self { return s }; return nil }
}
