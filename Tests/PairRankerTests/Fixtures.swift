import Foundation

/// Paths and decoded goldens written by scripts/reference/make_fixtures.py.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let modelDir = root.appendingPathComponent("tiny-pair-ranker").path

    struct Instance: Decodable {
        let name: String
        let instruction: String?
        let input: String
        let candidates: [String]
        let source_ids: [Int32]
        let candidate_ids: [[Int32]]
        let source_full_ids: [Int32]
        let candidate_full_ids: [[Int32]]
        let matrix: [[Float]]
        let scores: [Float]
        let ranks: [Int]
        let compare: [String: Float]?
        let rank_with_ref: [String: [Double]]?
    }

    struct Pairs: Decodable {
        let source_max_length: Int
        let candidate_max_length: Int
        let instances: [Instance]
    }

    static let pairs: Pairs = {
        let data = try! Data(contentsOf: root.appendingPathComponent("goldens/pairs.json"))
        return try! JSONDecoder().decode(Pairs.self, from: data)
    }()

    /// scripts/reference/train_preference_fixture.py: a PairRanker trained on a synthetic
    /// preference task (decisive logits), and the first held-out instances in the shape of pairs.json.
    static let trainedModelDir = root.appendingPathComponent("trained-pair-ranker").path

    static let trainedPairs: Pairs = {
        let data = try! Data(contentsOf: root.appendingPathComponent("goldens/trained_logits.json"))
        return try! JSONDecoder().decode(Pairs.self, from: data)
    }()

    struct AggregationCase: Decodable { let matrix: [[Float]]; let scores: [Float]; let ranks: [Int] }
    struct TieCase: Decodable { let scores: [Float]; let ranks: [Int] }
    struct Aggregation: Decodable { let matrices: [AggregationCase]; let ties: [TieCase] }

    static let aggregation: Aggregation = {
        let data = try! Data(contentsOf: root.appendingPathComponent("goldens/aggregation.json"))
        return try! JSONDecoder().decode(Aggregation.self, from: data)
    }()
}
