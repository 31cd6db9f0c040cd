import Testing

@testable import PairRanker

/// What TrainedFixtureTests (matrices and ranks from the goldens' ids) leaves out, on the trained
/// fixture against PyTorch fp32 (llm-blender's Blender API, batch_size=1): the text path, the rank
/// scores and compare in its three modes, within the same 1e-4 on logits of ~1-20 instead of
/// the random fixture's ~0.01-1.
@Suite struct TrainedGoldenTests {
    static let model = try! PairRankerModel(path: Fixtures.trainedModelDir)
    static let tolerance: Float = 1e-4

    @Test("text gives the collator's segment ids")
    func segments() throws {
        for inst in Fixtures.trainedPairs.instances {
            let seg = try Self.model.segments(RankInput(instruction: inst.instruction, input: inst.input, candidates: inst.candidates))
            #expect(seg.source == inst.source_ids, "\(inst.name)")
            #expect(seg.candidates == inst.candidate_ids, "\(inst.name)")
        }
    }

    @Test("from text: rank scores and compare logits in the three modes")
    func scoresAndCompare() throws {
        var worst: Float = 0
        for inst in Fixtures.trainedPairs.instances {
            let seg = try Self.model.segments(RankInput(instruction: inst.instruction, input: inst.input, candidates: inst.candidates))
            let r = try Ranking.full(Self.model.assembler, seg, evaluate: Self.model.logits)
            for (g, w) in zip(r.scores, inst.scores) { worst = max(worst, abs(g - w)) }
            for mode in CompareMode.allCases {
                let want = try #require(inst.compare?[mode.rawValue], "\(inst.name): \(mode.rawValue)")
                let got = try Ranking.compare(Self.model.assembler, seg, a: 0, b: 1, mode: mode, evaluate: Self.model.logits)
                worst = max(worst, abs(got - want))
            }
        }
        print("trained fixture, from text: max |Δ| scores and compare = \(worst)")
        #expect(worst <= Self.tolerance)
    }

    @Test("the goldens are decisive (else they would not test decisions)")
    func decisive() {
        let off = Fixtures.trainedPairs.instances.flatMap { inst in
            inst.matrix.enumerated().flatMap { i, row in row.enumerated().filter { $0.offset != i }.map(\.element) }
        }
        #expect(off.count >= 500)
        #expect(off.filter { abs($0) > 0.5 }.count * 10 >= off.count * 9)
    }
}
