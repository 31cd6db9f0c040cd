import DeBERTa
import Foundation
import Tensors
import Testing

@testable import PairRanker

/// The trained fixture (scripts/reference/train_preference_fixture.py): a small PairRanker whose
/// logits are decisive, so int8 can be judged by the decisions it keeps.
@Suite(.serialized) struct TrainedFixtureTests {
    static let dir = Fixtures.root.appendingPathComponent("trained-pair-ranker").path

    static func instances(limit: Int) throws -> [RankInput] {
        let data = try Data(contentsOf: Fixtures.root.appendingPathComponent("goldens/trained_instances.jsonl"))
        var out: [RankInput] = []
        for line in data.split(separator: UInt8(ascii: "\n")) where out.count < limit {
            let obj = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
            out.append(RankInput(instruction: obj["instruction"] as? String, input: obj["input"] as! String,
                                 candidates: obj["candidates"] as! [String]))
        }
        return out
    }

    @Test("fp32 on the trained model matches PyTorch within 1e-4")
    func goldens() throws {
        let data = try Data(contentsOf: Fixtures.root.appendingPathComponent("goldens/trained_logits.json"))
        let g = try JSONDecoder().decode(Fixtures.Pairs.self, from: data)
        let model = try PairRankerModel(path: Self.dir)
        #expect(g.instances.count >= 10)
        for inst in g.instances {
            let seg = try model.assembler.segments(source: inst.source_full_ids, candidates: inst.candidate_full_ids)
            let full = try Ranking.full(model.assembler, seg, evaluate: model.logits)
            for (a, b) in zip(full.matrix.joined(), inst.matrix.joined()) { #expect(abs(a - b) <= 1e-4, "\(inst.name)") }
            #expect(full.ranks == inst.ranks, "\(inst.name)")
        }
    }

    @Test("int8 keeps the trained model's decisions: 99% of decisive pairs, 98% of best candidates")
    func int8Agreement() throws {
        guard let kernel = Int8Kernel.best else { return }
        let exact = try PairRankerModel(path: Self.dir)
        let int8 = try PairRankerModel(path: Self.dir, precision: .int8(kernel))
        let a = try Agreement.measure(reference: exact, candidate: int8, inputs: try Self.instances(limit: 400))
        print("trained fixture, int8 vs fp32: \(a)")
        #expect(a.instances >= 300)
        #expect(Double(a.decisivePairs) >= 0.5 * Double(a.pairs), "the model is decisive: \(a.decisivePairs) of \(a.pairs)")
        #expect(a.decisiveSameSignFraction >= 0.99)
        #expect(a.sameTop1Fraction >= 0.98)
    }
}
