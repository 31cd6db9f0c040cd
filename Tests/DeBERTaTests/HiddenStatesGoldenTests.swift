import Checkpoints
import Foundation
import Tensors
import Testing

@testable import DeBERTa

/// Per-layer hidden states of assembled pair sequences against the PyTorch reference
/// (scripts/reference/make_fixtures.py), llm.c test_gpt2.c style: stop at the first layer that
/// diverges and print its first differing values.
@Suite struct HiddenStatesGoldenTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let modelDir = fixtures.appendingPathComponent("tiny-pair-ranker")

    struct HiddenSequence: Decodable { let name: String; let ids: [Int32]; let layers: Int }
    struct Goldens: Decodable { let hidden_sequences: [HiddenSequence] }

    /// The fp32 dense-layer kernels this CPU runs (the AVX-512 kernel where it has AVX-512, and
    /// OpenBLAS everywhere): the goldens and invariances hold on each.
    static let kernels = FloatKernel.allCases.filter(\.isSupported)

    static func loadModel(_ file: String, kernel: FloatKernel = .best) throws -> DebertaV2Model {
        let config = try DebertaV2Config.load(path: modelDir.appendingPathComponent("config.json").path)
        try config.validate(path: "config.json")
        let ckpt = try Checkpoint(path: modelDir.appendingPathComponent(file).path)
        let model = try DebertaV2Model(weights: WeightLoader(ckpt).scoped("pretrained_model"), config: config, floatKernel: kernel)
        #expect(model.floatKernel == kernel)
        return model
    }

    static func goldens() throws -> (Goldens, Checkpoint) {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("goldens/pairs.json"))
        let g = try JSONDecoder().decode(Goldens.self, from: data)
        return (g, try Checkpoint(path: fixtures.appendingPathComponent("goldens/hidden.safetensors").path))
    }

    @Test("every layer matches PyTorch within 1e-4", arguments: ["model.safetensors", "pytorch_model.bin"], Self.kernels)
    func layers(file: String, kernel: FloatKernel) throws {
        let model = try Self.loadModel(file, kernel: kernel)
        let (g, hidden) = try Self.goldens()
        let c = model.config.hiddenSize
        #expect(g.hidden_sequences.map(\.ids.count).max()! >= 300, "goldens must reach the log buckets")
        var worst: Float = 0
        for (s, seq) in g.hidden_sequences.enumerated() {
            var got: [[Float]] = []
            _ = try model.forward(tokens: seq.ids, lengths: [seq.ids.count], workspace: Workspace(config: model.config)) { _, p in
                got.append(Array(UnsafeBufferPointer(start: p, count: seq.ids.count * c)))
            }
            #expect(got.count == seq.layers)
            for (l, values) in got.enumerated() {
                let want = try hidden.floats("seq\(s).layer\(l)", shape: [seq.ids.count, c]).values
                let diffs = zip(values, want).map { abs($0 - $1) }
                let maxDiff = diffs.max() ?? 0
                worst = max(worst, maxDiff)
                if maxDiff > 1e-4 {
                    let first = diffs.firstIndex { $0 > 1e-4 }!
                    Issue.record("seq \(s) (\(seq.name)) layer \(l): max |Δ| \(maxDiff); first at \(first): got \(values[first]) want \(want[first])")
                    return
                }
            }
        }
        print("hidden states \(file), fp32 kernel \(kernel): max |Δ| = \(worst)")
    }

    @Test("attention on the packed kernel and on OpenBLAS agree at every length from 1 to 512 tokens",
          .enabled(if: FloatKernel.avx512.isSupported))
    func attentionKernels() throws {
        let packed = try Self.loadModel("model.safetensors", kernel: .avx512)
        let blas = try Self.loadModel("model.safetensors", kernel: .openblas)
        #expect(packed.attentionKernel == .avx512 && blas.attentionKernel == .openblas)
        // Past 128 tokens the relative positions fall in log buckets; 512 is the longest sequence.
        let lengths = [1, 2, 13, 129, 300, 512]
        var s: UInt64 = 42
        let tokens: [Int32] = (0..<lengths.reduce(0, +)).map { _ in
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int32((s >> 33) % UInt64(packed.config.vocabSize))
        }
        let t = tokens.count, c = packed.config.hiddenSize
        // Each forward's output lives in its workspace: both stay alive while they are read.
        let wsPacked = Workspace(config: packed.config), wsBLAS = Workspace(config: blas.config)
        let a = try withExtendedLifetime(wsPacked) {
            Array(UnsafeBufferPointer(start: try packed.forward(tokens: tokens, lengths: lengths, workspace: wsPacked), count: t * c))
        }
        let b = try withExtendedLifetime(wsBLAS) {
            Array(UnsafeBufferPointer(start: try blas.forward(tokens: tokens, lengths: lengths, workspace: wsBLAS), count: t * c))
        }
        let worst = zip(a, b).map { abs($0 - $1) }.max()!
        print("attention kernels: max |Δ| over lengths \(lengths) = \(worst)")
        #expect(worst < 1e-5, "packed vs OpenBLAS attention max |Δ| \(worst)")
    }

    @Test("packing several sequences gives the same states as one at a time",
          arguments: [Workspace.GEMMRows.automatic, .perSequence], Self.kernels)
    func packing(gemmRows: Workspace.GEMMRows, kernel: FloatKernel) throws {
        let model = try Self.loadModel("model.safetensors", kernel: kernel)
        let (g, _) = try Self.goldens()
        let seqs = g.hidden_sequences.map(\.ids)
        let c = model.config.hiddenSize
        var alone: [[Float]] = []
        let ws = Workspace(config: model.config, gemmRows: gemmRows)
        for s in seqs {
            let out = try model.forward(tokens: s, lengths: [s.count], workspace: ws)
            alone.append(Array(UnsafeBufferPointer(start: out, count: s.count * c)))
        }
        let out = try model.forward(tokens: seqs.flatMap { $0 }, lengths: seqs.map(\.count), workspace: ws)
        let packed = Array(UnsafeBufferPointer(start: out, count: seqs.map(\.count).reduce(0, +) * c))
        let joined = alone.flatMap { $0 }
        let maxDiff = zip(packed, joined).map { abs($0 - $1) }.max()!
        // Bit-identical: the AVX-512 kernel's rows never depend on the batch; on OpenBLAS the
        // dense GEMMs stay on its regular kernels (BLAS.minimumRows), and run per sequence where
        // the kernels' rows depend on the batch.
        #expect(packed == joined, "packed vs alone max |Δ| \(maxDiff) (GEMM rows \(gemmRows), fp32 kernel \(kernel), OpenBLAS \(BLAS.coreName))")
    }

    @Test("the last layer at kept rows only matches the full last layer and PyTorch",
          arguments: [Workspace.GEMMRows.automatic, .perSequence], Self.kernels)
    func keptRows(gemmRows: Workspace.GEMMRows, kernel: FloatKernel) throws {
        let model = try Self.loadModel("model.safetensors", kernel: kernel)
        let (g, hidden) = try Self.goldens()
        let seqs = g.hidden_sequences.map(\.ids)
        let c = model.config.hiddenSize
        let ws = Workspace(config: model.config, gemmRows: gemmRows)
        let full = try model.forward(tokens: seqs.flatMap { $0 }, lengths: seqs.map(\.count), workspace: ws)
        let t = seqs.map(\.count).reduce(0, +)
        let all = Array(UnsafeBufferPointer(start: full, count: t * c))
        // First, second, middle and last row of every sequence, one row twice, out of order.
        var rows: [Int] = [], golden: [(seq: Int, row: Int)] = []
        var offset = 0
        for (s, ids) in seqs.enumerated() {
            for i in [ids.count - 1, 0, 1, ids.count / 2] { rows.append(offset + i); golden.append((s, i)) }
            offset += ids.count
        }
        rows.append(rows[1]); golden.append(golden[1])
        let kept = try model.forward(tokens: seqs.flatMap { $0 }, lengths: seqs.map(\.count), keepRows: rows, workspace: ws)
        let got = Array(UnsafeBufferPointer(start: kept, count: rows.count * c))
        var vsFull: Float = 0, vsTorch: Float = 0
        for (k, row) in rows.enumerated() {
            let (s, i) = golden[k]
            let want = try hidden.floats("seq\(s).layer\(g.hidden_sequences[s].layers - 1)",
                                        shape: [seqs[s].count, c]).values
            for j in 0..<c {
                vsFull = max(vsFull, abs(got[k * c + j] - all[row * c + j]))
                vsTorch = max(vsTorch, abs(got[k * c + j] - want[i * c + j]))
            }
        }
        print("kept rows: max |Δ| vs full forward \(vsFull), vs PyTorch \(vsTorch)")
        // The kept rows do the same arithmetic in another order (dot products instead of GEMMs
        // for one query row): rounding-level differences only.
        #expect(vsFull < 1e-5)
        #expect(vsTorch < 1e-4)
        // A sequence's kept rows get the same bits alone as beside other sequences, in either
        // GEMM mode (Workspace.GEMMRows), on every kernel family.
        let first = Array(rows.prefix(4))
        let aloneWS = Workspace(config: model.config, gemmRows: ws.gemmRows)
        let alone = try model.forward(tokens: seqs[0], lengths: [seqs[0].count], keepRows: first, workspace: aloneWS)
        #expect(Array(UnsafeBufferPointer(start: alone, count: 4 * c)) == Array(got[0..<(4 * c)]),
                "kept rows of a sequence alone and in a batch (GEMM rows: \(ws.gemmRows))")
        if ws.gemmRows == .batch {
            // One GEMM over all kept rows: on row-independent kernels (the only ones `.automatic`
            // runs this way) a row's bits do not depend on its place, so a row kept twice,
            // out of order, is computed alike. Per sequence, a group's rows are only guaranteed
            // to match the same group, which the engine always forms alike (3 rows per pair).
            #expect(Array(got[c..<(2 * c)]) == Array(got[(rows.count - 1) * c..<(rows.count * c)]), "a row kept twice is computed alike")
        }
        #expect(throws: DebertaError.rowOutOfRange(row: t, tokens: t)) {
            _ = try model.forward(tokens: seqs.flatMap { $0 }, lengths: seqs.map(\.count), keepRows: [0, t], workspace: ws)
        }
    }

    @Test("bad token ids and over-long sequences are errors, not crashes")
    func badInputs() throws {
        let model = try Self.loadModel("model.safetensors")
        let ws = Workspace(config: model.config)
        #expect(throws: DebertaError.tokenOutOfRange(id: model.config.vocabSize, vocabSize: model.config.vocabSize)) {
            _ = try model.forward(tokens: [1, Int32(model.config.vocabSize), 2], lengths: [3], workspace: ws)
        }
        #expect(throws: DebertaError.tokenOutOfRange(id: -1, vocabSize: model.config.vocabSize)) {
            _ = try model.forward(tokens: [1, -1], lengths: [2], workspace: ws)
        }
        let long = [Int32](repeating: 5, count: model.maxLength + 1)
        #expect(throws: DebertaError.sequenceTooLong(length: long.count, limit: model.maxLength)) {
            _ = try model.forward(tokens: long, lengths: [long.count], workspace: ws)
        }
    }
}
