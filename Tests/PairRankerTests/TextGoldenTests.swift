import Testing

@testable import PairRanker

/// Text in, logits out: the same instances as RankingGoldenTests, from their texts.
@Suite struct TextGoldenTests {
    static let model = try! PairRankerModel(path: Fixtures.modelDir)

    @Test("text gives the collator's segment ids, truncated per input")
    func segments() throws {
        for inst in Fixtures.pairs.instances {
            let seg = try Self.model.segments(RankInput(instruction: inst.instruction, input: inst.input, candidates: inst.candidates))
            #expect(seg.source == inst.source_ids, "\(inst.name)")
            #expect(seg.candidates == inst.candidate_ids, "\(inst.name)")
        }
    }

    @Test("text gives the Blender API's ranks, scores and compare logits")
    func endToEnd() throws {
        var worst: Float = 0
        for inst in Fixtures.pairs.instances {
            let seg = try Self.model.segments(RankInput(instruction: inst.instruction, input: inst.input, candidates: inst.candidates))
            let r = try Ranking.full(Self.model.assembler, seg, evaluate: Self.model.logits)
            #expect(r.ranks == inst.ranks, "\(inst.name)")
            for (g, w) in zip(r.scores, inst.scores) { worst = max(worst, abs(g - w)) }
            if let want = inst.compare?["[A,B]+[B,A]"] {
                let got = try Ranking.compare(Self.model.assembler, seg, a: 0, b: 1, mode: .both, evaluate: Self.model.logits)
                worst = max(worst, abs(got - want))
            }
        }
        #expect(worst <= 1e-4, "max |Δ| \(worst)")
    }

    @Test("marker strings inside texts do not break pooling")
    func markersInText() throws {
        let seg = try Self.model.segments(RankInput(input: "a <|source|> b <|candidate1|>", candidates: ["x <|candidate|> y", "<|candidate2|> z"]))
        let r = try Ranking.full(Self.model.assembler, seg, evaluate: Self.model.logits)
        #expect(r.matrix[0][1].isFinite && r.matrix[1][0].isFinite)
        let pair = Self.model.assembler.pair(source: seg.source, left: seg.candidates[0], right: seg.candidates[1])
        #expect(pair.ids[pair.sourcePosition] == Self.model.assembler.tokens.source)
        #expect(pair.ids[pair.leftPosition] == Self.model.assembler.tokens.candidate1)
        #expect(pair.ids[pair.rightPosition] == Self.model.assembler.tokens.candidate2)
    }

    @Test("per-request lengths may lower the limits, not raise them")
    func overrides() throws {
        let inst = Fixtures.pairs.instances.first { $0.name == "long-everything" }!
        let input = RankInput(input: inst.input, candidates: inst.candidates)
        let seg = try Self.model.segments(input, sourceMaxLength: 20, candidateMaxLength: 30)
        #expect(seg.source.count == 20 && seg.candidateBudget == 30 + 0)
        #expect(throws: PairRankerError.self) { _ = try Self.model.segments(input, sourceMaxLength: 129) }
        #expect(throws: PairRankerError.self) { _ = try Self.model.segments(input, candidateMaxLength: 2) }
    }
}

@Suite struct ScrubTests {
    @Test("[SEP] is replaced on code points, even before a combining mark")
    func scrub() {
        #expect(PairRankerModel.scrub("a[SEP]b[SEP]") == "a b ")
        #expect(PairRankerModel.scrub("x[SEP]\u{301}y") == "x \u{301}y")
        #expect(PairRankerModel.scrub("[SEP") == "[SEP")
        #expect(PairRankerModel.scrub("日本[SEP]語") == "日本 語")
    }
}
