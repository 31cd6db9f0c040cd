import Foundation

/// The llm-blender `RankerConfig` fields inference needs, from `ranker_config.json`
/// (llm-blender/pair-ranker) or from a `config.json` that holds ranker settings (llm-blender/PairRM).
/// Both spellings of the length keys are accepted: `source_maxlength` (current llm-blender) and
/// `source_max_length` (the June-2023 RankerConfig that trained pair-ranker).
public struct RankerConfig: Equatable, Sendable {
    public var rankerType: String = "pairranker"
    public var modelType: String = "deberta"
    public var modelName: String = "microsoft/deberta-v3-large"
    public var sourceMaxLength: Int = 128
    public var candidateMaxLength: Int = 128
    public var nTasks: Int = 1

    public init() {}

    /// The longest pair sequence the lengths allow: S + 2·C (the candidate budget grows by half of
    /// what the source leaves unused, so the total never exceeds this).
    public var maxSequenceLength: Int { sourceMaxLength + 2 * candidateMaxLength }

    /// Source or candidate tokens at most, in a ranker config.
    public static let maxLength = 8192

    /// Parses a JSON object with ranker settings; `nil` when it has no `ranker_type` (not a ranker config).
    public static func parse(_ data: Data, path: String) throws -> RankerConfig? {
        guard let obj = try? JSONSerialization.jsonObject(with: data), let dict = obj as? [String: Any] else {
            throw PairRankerError.config(path: path, message: "not a JSON object")
        }
        guard dict["ranker_type"] != nil else { return nil }
        var c = RankerConfig()
        func int(_ keys: String...) throws -> Int? {
            for k in keys {
                guard let v = dict[k], !(v is NSNull) else { continue }
                guard let n = v as? Int, n > 0 else {
                    throw PairRankerError.config(path: path, message: "\(k) = \(v) is not a positive integer")
                }
                return n
            }
            return nil
        }
        if let t = dict["ranker_type"] as? String { c.rankerType = t }
        if let t = dict["model_type"] as? String { c.modelType = t }
        if let t = dict["model_name"] as? String { c.modelName = t }
        c.sourceMaxLength = try int("source_maxlength", "source_max_length") ?? c.sourceMaxLength
        c.candidateMaxLength = try int("candidate_maxlength", "candidate_max_length") ?? c.candidateMaxLength
        c.nTasks = try int("n_tasks") ?? c.nTasks
        guard c.rankerType == "pairranker" else {
            throw PairRankerError.config(path: path, message: "ranker_type = \(c.rankerType) is not supported (expected pairranker)")
        }
        guard c.modelType.hasPrefix("deberta") else {
            throw PairRankerError.config(path: path, message: "model_type = \(c.modelType) is not supported (expected deberta)")
        }
        guard c.sourceMaxLength >= 3, c.candidateMaxLength >= 3 else {
            throw PairRankerError.config(path: path, message: "source and candidate max lengths must be at least 3 ([CLS], prefix, [SEP])")
        }
        // The model's buffers are sized from S + 2·C: bounded so that sum cannot overflow and a
        // crafted config cannot ask for gigabytes (the published model: 128 and 128).
        guard c.sourceMaxLength <= Self.maxLength, c.candidateMaxLength <= Self.maxLength else {
            throw PairRankerError.config(path: path, message: "source and candidate max lengths must be at most \(Self.maxLength), "
                                         + "got \(c.sourceMaxLength) and \(c.candidateMaxLength)")
        }
        guard c.nTasks <= 1024 else {
            throw PairRankerError.config(path: path, message: "n_tasks = \(c.nTasks) is not supported (expected at most 1024)")
        }
        return c
    }
}
