import Foundation
import Testing

@testable import PairRanker

/// A crafted config.json or ranker_config.json beside a valid checkpoint: sizes the model computes
/// from them (2 * position_buckets, S + 2 * C, buffers per layer and per token) trapped on overflow
/// or aborted asking for terabytes. Each is now a config error naming the key.
@Suite struct CraftedConfigTests {
    /// The fixture model with `file`'s integer keys replaced.
    static func model(_ name: String, _ file: String, _ changes: [String: Any]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pairranker-crafted-\(getpid())-\(name)").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.copyItem(atPath: Fixtures.modelDir, toPath: dir)
        let path = dir + "/" + file
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        for (k, v) in changes { json[k] = v }
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        return dir
    }

    @Test("backbone config values past any DeBERTa are refused by key", arguments: [
        ("num_hidden_layers", 1_000_000_000_000), ("position_buckets", 1 << 62), ("hidden_size", 1 << 62),
        ("vocab_size", 1 << 62), ("intermediate_size", 1 << 40), ("max_position_embeddings", 1 << 62),
    ])
    func backbone(key: String, value: Int) throws {
        var changes: [String: Any] = [key: value]
        if key == "hidden_size" { changes["num_attention_heads"] = 1 }
        let dir = try Self.model("\(key)", "config.json", changes)
        do { _ = try PairRankerModel(path: dir); Issue.record("\(key) = \(value) loaded") } catch {
            #expect("\(error)".contains("\(key) = \(value) is not supported"), "\(error)")
        }
    }

    @Test("relative positions that would fold the log buckets back are refused by key (they once let attention write before its buffers)",
          arguments: [("max_relative_positions", 128), ("max_relative_positions", 129), ("max_relative_positions", 2),
                      ("max_position_embeddings", 100)])
    func foldedBuckets(key: String, value: Int) throws {
        let dir = try Self.model("buckets-\(key)-\(value)", "config.json", [key: value])
        do { _ = try PairRankerModel(path: dir); Issue.record("\(key) = \(value) loaded") } catch {
            #expect("\(error)".contains("\(key)") && "\(error)".contains("position_buckets / 2 + 1"), "\(error)")
        }
    }

    @Test("just above the fold the model loads and scores a pair long enough to reach the log buckets")
    func unfoldedBuckets() throws {
        let ok = try PairRankerModel(path: try Self.model("buckets-ok", "config.json", ["max_relative_positions": 130]))
        let long = String(repeating: "word ", count: 80)
        let pair = ok.assembler.pair(source: ok.sourceIDs(instruction: nil, input: long), left: ok.candidateIDs(long),
                                     right: ok.candidateIDs("short"))
        #expect(pair.ids.count > 140 && pair.ids.count <= 384, "\(pair.ids.count) tokens")
        #expect(try ok.logits([pair]).allSatisfy { $0.isFinite })
    }

    @Test("layer_norm_eps must be a small positive number")
    func eps() throws {
        for v in [0.0, -1e-7, 10.0] {
            let dir = try Self.model("eps", "config.json", ["layer_norm_eps": v])
            #expect(throws: (any Error).self) { _ = try PairRankerModel(path: dir) }
        }
    }

    @Test("ranker max lengths and task counts past the bounds are refused", arguments: [
        ["source_maxlength": Int.max, "candidate_maxlength": Int.max], ["source_maxlength": 100_000_000],
        ["candidate_maxlength": 8193], ["n_tasks": 1 << 62],
    ])
    func ranker(changes: [String: Int]) throws {
        let dir = try Self.model("ranker-\(changes.keys.sorted().joined())-\(changes.values.max() ?? 0)", "ranker_config.json", changes)
        do { _ = try PairRankerModel(path: dir); Issue.record("\(changes) loaded") } catch {
            let text = "\(error)"
            #expect(text.contains("at most"), "\(text)")
        }
    }

    @Test("the bounds themselves still load")
    func edge() throws {
        let edge = try Self.model("ranker-edge", "ranker_config.json", ["source_maxlength": RankerConfig.maxLength])
        #expect(try PairRankerModel(path: edge).directory.ranker.sourceMaxLength == RankerConfig.maxLength)
    }
}
