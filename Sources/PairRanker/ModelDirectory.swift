import Checkpoints
import DeBERTa
import Foundation
import Tokenizer

/// A PairRanker model directory in one of the published layouts:
/// - llm-blender/pair-ranker: `pytorch_model.bin`, `ranker_config.json`, no backbone config
///   (deberta-v3-large is assumed and checked against the tensor shapes);
/// - llm-blender/PairRM: `model.safetensors`, `config.json` holding the ranker settings;
/// - either, plus a backbone `config.json` (`model_type: deberta-v2`).
public struct ModelDirectory: Sendable {
    public let path: String
    public let checkpointPath: String
    public let ranker: RankerConfig
    public let backbone: DebertaV2Config
    /// Where the backbone config came from: a file path, or "deberta-v3-large defaults".
    public let backboneSource: String
    public let specialTokens: SpecialTokens

    public static let backbonePrefix = "pretrained_model"

    /// - Parameter checkpoint: a file name inside the directory to use; by default
    ///   `model.safetensors` (memory-mapped without conversion) and else `pytorch_model.bin`.
    public init(path: String, checkpoint: String? = nil) throws {
        var parsed: TokenizerJSON?
        try self.init(path: path, checkpoint: checkpoint, tokenizerJSON: &parsed)
    }

    /// As above; `tokenizerJSON` receives the directory's `tokenizer.json` as parsed for the
    /// special tokens (nil without one), for the tokenizer to be built from without parsing it
    /// again. Not kept in the directory: the parsed file is large and needed once.
    init(path: String, checkpoint: String?, tokenizerJSON: inout TokenizerJSON?) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
            throw PairRankerError.modelDirectory(path: path, message: "does not exist")
        }
        guard isDir.boolValue else { throw PairRankerError.modelDirectory(path: path, message: "is not a directory") }
        self.path = path
        let candidates = checkpoint.map { [$0] } ?? ["model.safetensors", "pytorch_model.bin"]
        guard let file = candidates.first(where: { fm.fileExists(atPath: path + "/" + $0) }) else {
            throw PairRankerError.modelDirectory(path: path, message: "has no \(candidates.joined(separator: " or "))")
        }
        checkpointPath = path + "/" + file

        var ranker: RankerConfig?
        var backbone: DebertaV2Config?
        var backboneSource = "deberta-v3-large defaults"
        let configPath = path + "/config.json"
        if let data = fm.contents(atPath: configPath) {
            if let r = try RankerConfig.parse(data, path: configPath) {
                ranker = r
            } else {
                let c = try DebertaV2Config.load(path: configPath)
                try c.validate(path: configPath)
                backbone = c
                backboneSource = configPath
            }
        }
        let rankerPath = path + "/ranker_config.json"
        if ranker == nil, let data = fm.contents(atPath: rankerPath) {
            ranker = try RankerConfig.parse(data, path: rankerPath)
            if ranker == nil { throw PairRankerError.config(path: rankerPath, message: "has no ranker_type") }
        }
        guard let ranker else {
            throw PairRankerError.modelDirectory(path: path, message: "has no ranker_config.json and its config.json holds no ranker settings")
        }
        self.ranker = ranker
        tokenizerJSON = TokenizerJSON(path: path + "/tokenizer.json")
        specialTokens = try SpecialTokens.load(directory: path, tokenizerJSON: tokenizerJSON)
        if let backbone {
            self.backbone = backbone
        } else {
            // deberta-v3-large; the vocabulary is whatever the resized embedding holds.
            let ckpt = try Checkpoint(path: checkpointPath)
            let key = Self.backbonePrefix + ".embeddings.word_embeddings.weight"
            guard let emb = ckpt.tensors[key], emb.shape.count == 2 else {
                throw CheckpointError.missingTensor(path: checkpointPath, tensor: key)
            }
            self.backbone = .debertaV3Large(vocabSize: emb.shape[0])
        }
        self.backboneSource = backboneSource
        for (name, id) in [("<|source|>", specialTokens.source), ("<|candidate1|>", specialTokens.candidate1),
                           ("<|candidate2|>", specialTokens.candidate2), ("<|candidate|>", specialTokens.candidate)]
        where id < 0 || Int(id) >= self.backbone.vocabSize {
            throw PairRankerError.modelDirectory(path: path, message: "\(name) has id \(id), outside the embedding of \(self.backbone.vocabSize) rows")
        }
    }
}
