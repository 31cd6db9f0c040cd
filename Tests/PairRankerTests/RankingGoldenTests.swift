import Foundation
import Tensors
import Testing

@testable import PairRanker

/// compare / rank / rank_with_ref from segment ids against the real llm-blender Blender API.
@Suite(.serialized) struct RankingGoldenTests {
    static let models: [String: PairRankerModel] = [
        "model.safetensors": try! PairRankerModel(path: Fixtures.modelDir, checkpoint: "model.safetensors"),
        "pytorch_model.bin": try! PairRankerModel(path: Fixtures.modelDir, checkpoint: "pytorch_model.bin"),
        // One GEMM per sequence whatever the kernels (the mode `.automatic` picks on kernels
        // whose rows depend on the batch): the goldens and invariance must hold there too.
        "per-sequence": try! PairRankerModel(path: Fixtures.modelDir, checkpoint: "model.safetensors", gemmRows: .perSequence),
    ]
    static let tolerance: Float = 1e-4

    func segments(_ model: PairRankerModel, _ inst: Fixtures.Instance) throws -> Segments {
        try model.assembler.segments(source: inst.source_full_ids, candidates: inst.candidate_full_ids)
    }

    @Test("truncation and the candidate budget reproduce the collator's ids")
    func truncation() throws {
        let model = Self.models["model.safetensors"]!
        var truncatedSeen = 0
        for inst in Fixtures.pairs.instances {
            let seg = try segments(model, inst)
            #expect(seg.source == inst.source_ids, "\(inst.name): source")
            #expect(seg.candidates == inst.candidate_ids, "\(inst.name): candidates")
            truncatedSeen += seg.truncatedCount
        }
        #expect(truncatedSeen >= 4, "goldens must exercise truncation")
    }

    @Test("full rank: matrix, scores and ranks", arguments: ["model.safetensors", "pytorch_model.bin", "per-sequence"])
    func fullRank(file: String) throws {
        let model = Self.models[file]!
        var worst: Float = 0
        for inst in Fixtures.pairs.instances {
            let r = try Ranking.full(model.assembler, try segments(model, inst), evaluate: model.logits)
            for (gi, wi) in zip(r.matrix, inst.matrix) { for (g, w) in zip(gi, wi) { worst = max(worst, abs(g - w)) } }
            for (g, w) in zip(r.scores, inst.scores) { worst = max(worst, abs(g - w)) }
            #expect(r.ranks == inst.ranks, "\(inst.name): ranks \(r.ranks) vs \(inst.ranks), scores \(r.scores) vs \(inst.scores)")
        }
        print("full rank \(file): max |Δ| over matrices and scores = \(worst)")
        #expect(worst <= Self.tolerance)
    }

    @Test("compare in the three modes", arguments: CompareMode.allCases)
    func compare(mode: CompareMode) throws {
        let model = Self.models["model.safetensors"]!
        var worst: Float = 0, checked = 0
        for inst in Fixtures.pairs.instances {
            guard let want = inst.compare?[mode.rawValue] else { continue }
            let got = try Ranking.compare(model.assembler, try segments(model, inst), a: 0, b: 1, mode: mode, evaluate: model.logits)
            worst = max(worst, abs(got - want))
            checked += 1
        }
        #expect(checked >= 10)
        #expect(worst <= Self.tolerance, "max |Δ| \(worst)")
    }

    @Test("rank_with_ref in every ref mode", arguments: RefMode.allCases)
    func withReference(mode: RefMode) throws {
        let model = Self.models["model.safetensors"]!
        for inst in Fixtures.pairs.instances {
            guard let want = inst.rank_with_ref?[mode.rawValue] else { continue }
            let seg = try segments(model, inst)
            let ref = Ranking.referenceIndex(mode, lengths: inst.candidates.map(\.unicodeScalars.count))
            let got = try Ranking.withReference(model.assembler, seg, reference: seg.candidates[ref], referenceIndex: ref,
                                                evaluate: model.logits)
            for (g, w) in zip(got.scores, want) { #expect(abs(g - w) <= Double(Self.tolerance), "\(inst.name): \(got.scores) vs \(want)") }
            #expect(got.scores[ref] == 0, "self-comparison with the reference is exactly 0")
        }
    }

    @Test("both checkpoint formats give bit-identical logits")
    func formatsAgree() throws {
        let a = Self.models["model.safetensors"]!, b = Self.models["pytorch_model.bin"]!
        for inst in Fixtures.pairs.instances where inst.candidates.count > 1 {
            let ra = try Ranking.full(a.assembler, try segments(a, inst), evaluate: a.logits)
            let rb = try Ranking.full(b.assembler, try segments(b, inst), evaluate: b.logits)
            #expect(ra.matrix == rb.matrix, "\(inst.name)")
        }
    }

    @Test("identical candidates compare to exactly 0 and tie in rank")
    func identical() throws {
        let model = Self.models["model.safetensors"]!
        let inst = Fixtures.pairs.instances.first { $0.name == "identical" }!
        let seg = try segments(model, inst)
        #expect(try Ranking.compare(model.assembler, seg, a: 0, b: 1, mode: .both, evaluate: model.logits) == 0)
        let r = try Ranking.full(model.assembler, seg, evaluate: model.logits)
        #expect(r.scores[0] == r.scores[1])
        #expect(r.ranks[0] == r.ranks[1])
    }

    @Test("a rank's logits do not change when batched with other requests", arguments: ["model.safetensors", "per-sequence"])
    func invariance(file: String) throws {
        let model = Self.models[file]!
        var alone: [[[Float]]] = []
        var allPairs: [PairSequence] = []
        var spans: [(Int, Int)] = []
        for inst in Fixtures.pairs.instances {
            let seg = try segments(model, inst)
            alone.append(try Ranking.full(model.assembler, seg, evaluate: model.logits).matrix)
            var collected: [PairSequence] = []
            _ = try Ranking.full(model.assembler, seg) { pairs in collected += pairs; return pairs.map { _ in 0 } }
            spans.append((allPairs.count, collected.count))
            allPairs += collected
        }
        let together = try model.logits(allPairs)
        var worst: Float = 0
        for (k, inst) in Fixtures.pairs.instances.enumerated() {
            var it = together[spans[k].0..<(spans[k].0 + spans[k].1)].makeIterator()
            _ = try Ranking.full(model.assembler, try segments(model, inst)) { pairs in pairs.map { _ in it.next()! } }
            let n = inst.candidates.count
            var idx = spans[k].0
            for i in 0..<n { for j in 0..<n where i != j { worst = max(worst, abs(together[idx] - alone[k][i][j])); idx += 1 } }
        }
        print("batched vs alone (\(file), GEMM rows \(model.gemmRows), OpenBLAS \(BLAS.coreName)): max |Δ| = \(worst)")
        #expect(worst == 0, "bit-identical whatever the batch holds")
    }

    @Test("segments that do not start with [CLS] and the marker are rejected")
    func badSegments() throws {
        let model = Self.models["model.safetensors"]!
        let inst = Fixtures.pairs.instances[0]
        #expect(throws: PairRankerError.self) {
            _ = try model.assembler.segments(source: Array(inst.source_full_ids.dropFirst()), candidates: inst.candidate_full_ids)
        }
        #expect(throws: PairRankerError.self) {
            _ = try model.assembler.segments(source: inst.source_full_ids, candidates: [[1, 2]])
        }
    }
}
