import Checkpoints
import Foundation
import Testing

@testable import PairRanker

@Suite struct ModelDirectoryTests {
    /// A copy of the fixture model with only `files`, plus `extra` files written.
    func layout(_ name: String, files: [String], extra: [String: String] = [:]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pairranker-layout-\(getpid())-\(name)").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in files { try FileManager.default.copyItem(atPath: Fixtures.modelDir + "/" + f, toPath: dir + "/" + f) }
        for (f, text) in extra { FileManager.default.createFile(atPath: dir + "/" + f, contents: Data(text.utf8)) }
        return dir
    }

    @Test("the full fixture directory loads; unused keys are reported")
    func full() throws {
        let d = try ModelDirectory(path: Fixtures.modelDir)
        #expect(d.checkpointPath.hasSuffix("model.safetensors"))
        #expect(d.ranker.sourceMaxLength == 128 && d.ranker.candidateMaxLength == 128)
        #expect(d.backbone.hiddenSize == 64 && d.backboneSource.hasSuffix("config.json"))
        let m = try PairRankerModel(path: Fixtures.modelDir, checkpoint: "pytorch_model.bin")
        #expect(m.unusedKeys == ["pretrained_model.embeddings.position_ids"])
        #expect(try PairRankerModel(path: Fixtures.modelDir).unusedKeys.isEmpty)
    }

    @Test("pair-ranker layout: no backbone config means deberta-v3-large, checked against the tensors")
    func pairRankerLayout() throws {
        let dir = try layout("pr", files: ["pytorch_model.bin", "ranker_config.json", "added_tokens.json"])
        let d = try ModelDirectory(path: dir)
        #expect(d.backboneSource == "deberta-v3-large defaults")
        #expect(d.backbone.vocabSize == 3005 && d.backbone.hiddenSize == 1024)
        do { _ = try PairRankerModel(directory: d); Issue.record("a 64-wide checkpoint must not load as deberta-v3-large") } catch {
            #expect("\(error)".contains("has shape [3005, 64], expected [3005, 1024]"), "\(error)")
        }
    }

    @Test("PairRM layout: config.json holds the ranker settings")
    func pairRMLayout() throws {
        let cfg = #"{"ranker_type": "pairranker", "model_type": "deberta", "model_name": "microsoft/deberta-v3-large", "source_maxlength": 1224, "candidate_maxlength": 412, "n_tasks": 1}"#
        let dir = try layout("rm", files: ["model.safetensors", "tokenizer.json"], extra: ["config.json": cfg])
        let d = try ModelDirectory(path: dir)
        #expect(d.ranker.sourceMaxLength == 1224 && d.ranker.candidateMaxLength == 412)
        #expect(d.ranker.maxSequenceLength == 2048)
        #expect(d.specialTokens.source == 3001 && d.specialTokens.candidate == 3004)
    }

    @Test("broken directories fail with a message naming the problem")
    func broken() throws {
        let empty = try layout("empty", files: [])
        #expect(throws: PairRankerError.modelDirectory(path: empty, message: "has no model.safetensors or pytorch_model.bin")) {
            _ = try ModelDirectory(path: empty)
        }
        #expect(throws: PairRankerError.modelDirectory(path: "/nonexistent", message: "does not exist")) {
            _ = try ModelDirectory(path: "/nonexistent")
        }
        let noRanker = try layout("noranker", files: ["model.safetensors", "config.json", "tokenizer.json"])
        #expect(throws: PairRankerError.self) { _ = try ModelDirectory(path: noRanker) }
        let noTok = try layout("notok", files: ["model.safetensors", "config.json", "ranker_config.json"])
        #expect(throws: PairRankerError.self) { _ = try ModelDirectory(path: noTok) }
        let badCfg = try layout("badcfg", files: ["model.safetensors", "ranker_config.json", "tokenizer.json"],
                                extra: ["config.json": #"{"model_type": "deberta-v2", "hidden_act": "relu"}"#])
        do { _ = try ModelDirectory(path: badCfg); Issue.record("relu must be refused") } catch {
            #expect("\(error)".contains("hidden_act = relu is not supported"), "\(error)")
        }
    }

    @Test("a checkpoint without the head is an error naming the missing tensor")
    func missingHead() throws {
        let ckpt = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.modelDir + "/model.safetensors")))
        let n = Int(ckpt[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        var header = String(decoding: ckpt[8..<(8 + n)], as: UTF8.self)
        header = header.replacingOccurrences(of: "\"head_layer.4.bias\"", with: "\"head_layer.9.bias\"")
        let dir = try layout("nohead", files: ["config.json", "ranker_config.json", "tokenizer.json"])
        FileManager.default.createFile(atPath: dir + "/model.safetensors", contents: Data(ckpt[0..<8] + Array(header.utf8) + ckpt[(8 + n)...]))
        #expect(throws: CheckpointError.missingTensor(path: dir + "/model.safetensors", tensor: "head_layer.4.bias")) {
            _ = try PairRankerModel(path: dir)
        }
    }
}
