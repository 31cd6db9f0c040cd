import Checkpoints
import DeBERTa
import Foundation
import Tensors
import Testing

@testable import PairRanker

/// The opt-in int8 path on the fixture: what it must keep exactly (a pair's logit never depends on
/// its batch, on the kernel encoding or on the GEMM-rows mode) and how far from fp32 it may go.
/// Runs where the CPU has a VNNI kernel; elsewhere it checks the refusal.
@Suite(.serialized) struct Int8PathTests {
    static let kernel = Int8Kernel.best

    static func model(_ kernel: Int8Kernel, gemmRows: Workspace.GEMMRows = .automatic) throws -> PairRankerModel {
        try PairRankerModel(path: Fixtures.modelDir, checkpoint: "model.safetensors", gemmRows: gemmRows, precision: .int8(kernel))
    }

    /// Every ordered pair of every golden instance.
    static func pairs(_ model: PairRankerModel) throws -> [PairSequence] {
        var out: [PairSequence] = []
        for inst in Fixtures.pairs.instances {
            let seg = try model.assembler.segments(source: inst.source_full_ids, candidates: inst.candidate_full_ids)
            for i in seg.candidates.indices { for j in seg.candidates.indices where i != j {
                out.append(model.assembler.pair(source: seg.source, left: seg.candidates[i], right: seg.candidates[j]))
            } }
        }
        return out
    }

    @Test("int8 is refused by name without a VNNI kernel, and 'int8' names the best kernel with one")
    func naming() throws {
        if let kernel = Self.kernel {
            #expect(try Precision.named("int8") == .int8(kernel))
        } else {
            #expect(throws: DebertaError.int8Unsupported) { try Precision.named("int8") }
        }
        #expect(try Precision.named("fp32") == .fp32)
        #expect(throws: DebertaError.unknownPrecision("fp16")) { try Precision.named("fp16") }
        #expect(DebertaError.int8Unsupported.description.contains("AVX512-VNNI"))
    }

    @Test("a pair's int8 logit is the same bits alone, in a batch, per sequence, and on every kernel")
    func invariance() throws {
        guard let kernel = Self.kernel else { return }
        let model = try Self.model(kernel)
        let pairs = try Self.pairs(model)
        #expect(pairs.count >= 20)
        let together = try model.logits(pairs)
        let alone = try pairs.map { try model.logits([$0])[0] }
        #expect(together.map(\.bitPattern) == alone.map(\.bitPattern), "batched vs alone")
        let perSequence = try Self.model(kernel, gemmRows: .perSequence).logits(pairs)
        #expect(perSequence.map(\.bitPattern) == together.map(\.bitPattern), "per-sequence GEMM rows")
        // Every other kernel this CPU runs gives the same bits: the integer sums are exact.
        for other in Int8Kernel.allCases where other != kernel && other.isSupported {
            let theirs = try Self.model(other).logits(pairs)
            #expect(theirs.map(\.bitPattern) == together.map(\.bitPattern), "\(other.rawValue) against \(kernel.rawValue)")
        }
    }

    @Test("int8 hidden states stay within 5% of fp32 at every layer; the dense weights take a quarter of the memory")
    func closeToFP32() throws {
        guard let kernel = Self.kernel else { return }
        let exact = try PairRankerModel(path: Fixtures.modelDir, checkpoint: "model.safetensors")
        let int8 = try Self.model(kernel)
        #expect(int8.precision == .int8(kernel) && exact.precision == .fp32)
        let ratio = Double(int8.backbone.denseWeightBytes) / Double(exact.backbone.denseWeightBytes)
        #expect(ratio < 0.3, "int8 dense weights are \(ratio) of fp32's")
        let c = exact.directory.backbone.hiddenSize
        var worst = 0.0
        for p in try Self.pairs(exact).prefix(12) {
            var states: [[[Float]]] = [[], []]
            for (k, m) in [exact, int8].enumerated() {
                _ = try m.backbone.forward(tokens: p.ids, lengths: [p.ids.count], workspace: Workspace(config: m.directory.backbone)) { _, x in
                    states[k].append(Array(UnsafeBufferPointer(start: x, count: p.ids.count * c)))
                }
            }
            for (a, b) in zip(states[0], states[1]) {
                let err = zip(a, b).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }.squareRoot()
                let norm = a.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot()
                worst = max(worst, err / norm)
            }
        }
        print("int8 vs fp32 on the fixture: worst per-layer relative error \(worst)")
        #expect(worst < 0.05)
    }

    @Test("a crafted config too wide or misaligned for int8 is refused by name before any weight is read")
    func craftedConfig() throws {
        guard let kernel = Self.kernel else { return }
        let dir = try ModelDirectory(path: Fixtures.modelDir)
        let weights = WeightLoader(try Checkpoint(path: dir.checkpointPath)).scoped(ModelDirectory.backbonePrefix)
        for (key, value) in [("intermediate_size", 70_000), ("hidden_size", 65_536 + 64), ("hidden_size", 72)] {
            var config = dir.backbone
            if key == "hidden_size" { config.hiddenSize = value } else { config.intermediateSize = value }
            do {
                _ = try DebertaV2Model(weights: weights, config: config, precision: .int8(kernel))
                Issue.record("\(key) = \(value) loaded under int8")
            } catch let e as DebertaError {
                #expect(e.description.contains(key) && e.description.contains(String(value)), "\(e)")
            }
        }
    }
}
