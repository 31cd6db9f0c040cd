import Foundation
import TestSupport
import Testing

@testable import RankerService

@Suite struct ServiceTests {
    func error(_ route: RankerService.Route, _ body: String) -> APIError? {
        do { _ = try Support.call(route, body); return nil } catch let e as APIError { return e } catch { return nil }
    }

    @Test("validation errors name the field and map to 400 or 422")
    func validation() {
        let cases: [(RankerService.Route, String, Int, String)] = [
            (.rank, "not json", 400, "invalid JSON"),
            (.rank, "[1,2]", 400, "JSON object"),
            (.rank, #"{"input": 5, "candidates": ["a"]}"#, 400, "input: expected a string"),
            (.rank, #"{"input": "q", "candidates": []}"#, 422, "candidates: must not be empty"),
            (.rank, #"{"input": "q", "candidates": ["a", 3]}"#, 400, "candidates[1]: expected a string"),
            (.rank, #"{"input": "q", "candidates": ["a"], "mode": "best"}"#, 422, "mode: unknown mode 'best' (expected full, bubble, ref or sort)"),
            (.rank, #"{"inputs": ["q", "r"], "candidates": [["a"]]}"#, 422, "candidates: has 1 lists, expected one per input (2)"),
            (.rank, #"{"input": "q", "candidates": ["a", "b"], "mode": "ref", "ref_mode": "tallest"}"#, 422, "ref_mode: unknown"),
            (.rank, #"{"input": "q", "candidates": ["a"], "source_max_length": 1000}"#, 422, "source_max_length"),
            (.rank, #"{"input": "q", "candidates": ["a"], "seed": 1.5}"#, 400, "seed: expected an integer"),
            (.compare, #"{"input": "q", "candidate_a": "a"}"#, 400, "candidate_b: is required"),
            (.compare, #"{"inputs": ["q"], "candidates_a": ["a"], "candidates_b": ["b", "c"]}"#, 422, "candidates_b: has 2 items"),
            (.compare, #"{"input": "q", "candidate_a": "a", "candidate_b": "b", "mode": "longest"}"#, 422, "mode: unknown mode"),
            (.compare, #"{"inputs": [], "candidates_a": [], "candidates_b": []}"#, 422, "inputs: must not be empty"),
            (.compare, #"{"inputs": ["q"], "candidates_a": ["a"], "candidates_b": ["b"], "instructions": ["x", "y"]}"#, 422, "instructions: has 2 items"),
            (.rerankV1, #"{"query": "q"}"#, 400, "documents: is required"),
            (.rerankV1, #"{"query": "q", "documents": [{"title": "x"}]}"#, 422, "documents[0]: an object needs a text string, or name the fields to rank with rank_fields"),
            (.rerankV2, #"{"query": "q", "documents": ["a"], "top_n": 0}"#, 422, "top_n: must be at least 1"),
            (.getReward, #"{"query": ["q a"], "prompts": ["q"]}"#, 422, "labels: is required"),
            (.getReward, #"{"query": ["q a"], "prompts": ["q", "r"], "labels": ["a"]}"#, 422, "prompts: has 2 items"),
            (.tokenize, #"{}"#, 400, "text: is required"),
            (.tokenize, #"{"text": "\ud800"}"#, 400, "lone surrogate"),
        ]
        for (route, body, status, text) in cases {
            guard let e = error(route, body) else { Issue.record("\(route) \(body): no error"); continue }
            #expect(e.status.code == status, "\(body): \(e)")
            #expect(e.message.contains(text), "\(body): \(e.message)")
        }
    }

    @Test("limits on texts, candidates and inputs are enforced before any work")
    func limits() {
        let big = String(repeating: "x", count: Support.service.limits.maxTextBytes + 1)
        #expect(error(.rank, Support.body([("input", .string(big)), ("candidates", Support.strings(["a"]))]))?.status.code == 422)
        let many = (0...Support.service.limits.maxCandidates).map { "c\($0)" }
        #expect(error(.rank, Support.body([("input", .string("q")), ("candidates", Support.strings(many))]))?.message.contains("over the limit") == true)
    }

    @Test("single and list forms agree; compare equals rank's score difference")
    func forms() throws {
        let single = try Support.call(.compare, #"{"input": "2+2?", "candidate_a": "4", "candidate_b": "5"}"#)
        let list = try Support.call(.compare, #"{"inputs": ["2+2?"], "candidates_a": ["4"], "candidates_b": ["5"]}"#)
        #expect(single["logit"]!.number == list["logits"]!.numbers[0])
        #expect(single["a_better"] == .bool(single["logit"]!.number! > 0))
        let rank = try Support.call(.rank, #"{"input": "2+2?", "candidates": ["4", "5"]}"#)
        let s = rank["scores"]!.numbers
        #expect(abs((s[0] - s[1]) - single["logit"]!.number!) < 1e-6)
        #expect(single["usage"]!["pairs"]!.number == 2)
        let ba = try Support.call(.compare, #"{"input": "2+2?", "candidate_a": "4", "candidate_b": "5", "mode": "[B,A]"}"#)
        #expect(ba["a_better"] == .bool(ba["logit"]!.number! < 0))
    }

    @Test("bubble mode is reproducible with a seed and finds the full ranking's best when it is a clear winner")
    func bubble() throws {
        let inst = Support.instances.first { $0.name == "mid-lengths" }!
        let body = Support.body([("input", .string(inst.input)), ("candidates", Support.strings(inst.candidates)),
                                 ("mode", .string("bubble")), ("seed", .number(7))])
        let a = try Support.call(.rank, body), b = try Support.call(.rank, body)
        #expect(a["order"] == b["order"] && a["seed"]!.number == 7)
        #expect(a["usage"]!["pairs"]!.number == Double(2 * (inst.candidates.count - 1)))
        #expect(Set(a["order"]!.numbers.map { Int($0) }) == Set(inst.candidates.indices))
    }

    @Test("ref mode matches rank_with_ref and explicit references work")
    func refMode() throws {
        for inst in Support.instances where inst.rank_with_ref != nil {
            let out = try Support.call(.rank, Support.body([("input", .string(inst.input)), ("candidates", Support.strings(inst.candidates)),
                                                            ("instruction", inst.instruction.map(JSON.string) ?? .null),
                                                            ("mode", .string("ref")), ("ref_mode", .string("shortest"))]))
            for (g, w) in zip(out["scores"]!.numbers, inst.rank_with_ref!["shortest"]!) { #expect(abs(g - w) <= 1e-4, "\(inst.name)") }
        }
        let explicit = try Support.call(.rank, #"{"input": "q", "candidates": ["a", "b"], "mode": "ref", "reference": "a"}"#)
        #expect(explicit["scores"]!.numbers[0] == 0 && explicit["references"] == .null)
    }

    @Test("rerank shapes: sorted results, top_n, documents only in v1, sigmoid unless raw")
    func rerank() throws {
        let v1 = try Support.call(.rerankV1, #"{"query": "2+2?", "documents": ["4", {"text": "5"}, "six"], "top_n": 2}"#)
        let results = v1["results"]!.items
        #expect(results.count == 2)
        let scores = results.map { $0["relevance_score"]!.number! }
        #expect(scores[0] >= scores[1] && scores.allSatisfy { $0 > 0 && $0 < 1 })
        #expect(results[0]["document"]?["text"] != nil)
        let v2 = try Support.call(.rerankV2, #"{"query": "2+2?", "documents": ["4", "5", "six"], "raw_scores": true, "model": "x"}"#)
        #expect(v2["results"]!.items.allSatisfy { $0["document"] == nil })
        #expect(v2["results"]!.items.count == 3)
        let rank = try Support.call(.rank, #"{"input": "2+2?", "candidates": ["4", "5", "six"]}"#)
        let best = rank["ranks"]!.numbers.firstIndex(of: 1)!
        #expect(v2["results"]!.items[0]["index"]!.number == Double(best))
    }

    @Test("get_reward strips the prompt and compares with the label")
    func reward() throws {
        let out = try Support.call(.getReward, #"{"query": ["2+2? 4", "2+2? 5"], "prompts": ["2+2?", "2+2?"], "labels": ["4", "4"]}"#)
        let rewards = out["rewards"]!.numbers
        let direct = try Support.call(.compare, #"{"input": "2+2?", "candidate_a": " 5", "candidate_b": "4"}"#)
        #expect(abs(rewards[1] - direct["logit"]!.number!) < 1e-6)
        #expect(out["scores"]!.numbers.allSatisfy { $0 > 0 && $0 < 1 })
    }

    @Test("tokenize: text ids and the assembled pair with its pooled positions")
    func tokenize() throws {
        let t = try Support.call(.tokenize, #"{"text": "hello world"}"#)
        #expect(t["ids"]!.numbers.first == 1 && t["ids"]!.numbers.last == 2)
        #expect(t["tokens"]!.items.count == t["ids"]!.numbers.count)
        let p = try Support.call(.tokenize, #"{"input": "q", "candidate_a": "a", "candidate_b": "b"}"#)
        let ids = p["ids"]!.numbers.map { Int32($0) }
        let pos = p["positions"]!
        let tokens = Support.model.assembler.tokens
        #expect(ids[Int(pos["source"]!.number!)] == tokens.source)
        #expect(ids[Int(pos["candidate_a"]!.number!)] == tokens.candidate1)
        #expect(ids[Int(pos["candidate_b"]!.number!)] == tokens.candidate2)
        #expect(p["truncated"]!["source"] == .bool(false))
    }
}

@Suite struct JSONTests {
    @Test("parser accepts RFC 8259 and rejects the rest with an offset")
    func parser() throws {
        #expect(try JSON.parse(Array(#"{"a":[1,2.5e3,-0.5,true,false,null,"\u00e9\ud83d\ude00\n"]}"#.utf8))
                == .object([("a", .array([.number(1), .number(2500), .number(-0.5), .bool(true), .bool(false), .null, .string("é😀\n")]))]))
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "nul", "\"\\x\"", "\"a\n\"", "[1] x", "\"\\udc00\""] {
            #expect(throws: JSONParseError.self, "\(bad)") { _ = try JSON.parse(Array(bad.utf8)) }
        }
        #expect(throws: JSONParseError.self) { _ = try JSON.parse([0x22, 0xC0, 0x80, 0x22]) }  // overlong
        #expect(throws: JSONParseError.self) { _ = try JSON.parse(Array(String(repeating: "[", count: 100).utf8)) }
    }

    @Test("serializer round-trips and prints float32 shortest")
    func serializer() throws {
        let v = JSON.object([("s", .string("a\"b\\c\u{1}\n")), ("f", .float(0.1)), ("i", .number(3)), ("n", .null)])
        #expect(try JSON.parse(v.bytes) == v)
        #expect(v.text.contains("\"f\":0.1,"))
        #expect(JSON.number(.nan).text == "null")
    }
}
