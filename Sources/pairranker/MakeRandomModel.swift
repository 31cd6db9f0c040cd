import ArgumentParser
import Checkpoints
import DeBERTa
import Foundation
import PairRanker

/// `pairranker dev make-random-model`: a seeded random PairRanker in the published layout, full size
/// (deberta-v3-large) by default, for benchmarks on machines without the real weights. Writes
/// model.safetensors and pytorch_model.bin (the same weights), config.json, ranker_config.json
/// and the tokenizer files of `--tokenizer-from`.
struct MakeRandomModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-random-model",
        abstract: "Write a seeded random PairRanker (deberta-v3-large shapes by default) in both checkpoint formats.")

    @Option(help: "Output directory.") var out: String
    @Option(help: "Seed.") var seed: UInt64 = 20261129
    @Option(help: "Hidden size.") var hidden = 1024
    @Option(help: "Layers.") var layers = 24
    @Option(help: "Attention heads.") var heads = 16
    @Option(help: "Intermediate size.") var intermediate = 4096
    @Option(help: "Vocabulary rows (pair-ranker: 128005).") var vocab = 128_005
    @Option(help: "Model directory whose tokenizer files are copied.") var tokenizerFrom = "Tests/Fixtures/tiny-pair-ranker"
    @Flag(help: "Skip pytorch_model.bin.") var safetensorsOnly = false

    func run() throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: seed)
        func next() -> UInt64 { rng.next() }
        var buffers: [UnsafeMutableBufferPointer<Float>] = []
        var tensors: [CheckpointWriter.Tensor] = []
        /// Uniform values with standard deviation `std` around `mean`.
        func add(_ name: String, _ shape: [Int], std: Float, mean: Float = 0) {
            let n = shape.reduce(1, *)
            let buf = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
            let a = std * Float(3).squareRoot()
            for i in 0..<n {
                let u = Float(next() >> 40) / Float(1 << 24)  // [0, 1)
                buf[i] = mean + a * (2 * u - 1)
            }
            buffers.append(buf)
            tensors.append(.init(name: name, shape: shape, values: UnsafeBufferPointer(buf)))
        }
        let c = hidden, p = "pretrained_model."
        add(p + "embeddings.word_embeddings.weight", [vocab, c], std: 0.02)
        add(p + "embeddings.LayerNorm.weight", [c], std: 0.05, mean: 1)
        add(p + "embeddings.LayerNorm.bias", [c], std: 0.02)
        for l in 0..<layers {
            let q = p + "encoder.layer.\(l)."
            for proj in ["query_proj", "key_proj", "value_proj"] {
                add(q + "attention.self.\(proj).weight", [c, c], std: 0.02)
                add(q + "attention.self.\(proj).bias", [c], std: 0.02)
            }
            add(q + "attention.output.dense.weight", [c, c], std: 0.02)
            add(q + "attention.output.dense.bias", [c], std: 0.02)
            add(q + "attention.output.LayerNorm.weight", [c], std: 0.05, mean: 1)
            add(q + "attention.output.LayerNorm.bias", [c], std: 0.02)
            add(q + "intermediate.dense.weight", [intermediate, c], std: 0.02)
            add(q + "intermediate.dense.bias", [intermediate], std: 0.02)
            add(q + "output.dense.weight", [c, intermediate], std: 0.02)
            add(q + "output.dense.bias", [c], std: 0.02)
            add(q + "output.LayerNorm.weight", [c], std: 0.05, mean: 1)
            add(q + "output.LayerNorm.bias", [c], std: 0.02)
        }
        add(p + "encoder.rel_embeddings.weight", [512, c], std: 0.02)
        add(p + "encoder.LayerNorm.weight", [c], std: 0.05, mean: 1)
        add(p + "encoder.LayerNorm.bias", [c], std: 0.02)
        add("head_layer.1.weight", [c, 2 * c], std: 0.05)
        add("head_layer.1.bias", [c], std: 0.02)
        add("head_layer.4.weight", [1, c], std: 0.1)
        add("head_layer.4.bias", [1], std: 0.02)
        defer { buffers.forEach { $0.deallocate() } }

        try CheckpointWriter.writeSafetensors(tensors, to: out + "/model.safetensors")
        if !safetensorsOnly { try CheckpointWriter.writePyTorch(tensors, to: out + "/pytorch_model.bin") }
        var cfg = DebertaV2Config.debertaV3Large(vocabSize: vocab)
        cfg.hiddenSize = c
        cfg.numHiddenLayers = layers
        cfg.numAttentionHeads = heads
        cfg.intermediateSize = intermediate
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(cfg).write(to: URL(fileURLWithPath: out + "/config.json"))
        let ranker = #"{"ranker_type": "pairranker", "model_type": "deberta", "model_name": "microsoft/deberta-v3-large", "source_maxlength": 128, "candidate_maxlength": 128, "n_tasks": 1}"#
        try Data(ranker.utf8).write(to: URL(fileURLWithPath: out + "/ranker_config.json"))
        for f in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "spm.model"] {
            let src = tokenizerFrom + "/" + f, dst = out + "/" + f
            if FileManager.default.fileExists(atPath: src) {
                try? FileManager.default.removeItem(atPath: dst)
                try FileManager.default.copyItem(atPath: src, toPath: dst)
            }
        }
        let params = tensors.reduce(0) { $0 + $1.values.count }
        print("wrote \(out): \(params) parameters (seed \(seed))")
    }
}
