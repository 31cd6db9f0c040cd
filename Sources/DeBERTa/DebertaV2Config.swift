import Foundation

/// `config.json` of a DeBERTa-v2/v3 backbone. Properties are the camelCase of the JSON keys
/// (so a key and its property are found by the same name). Defaults are deberta-v3-large's, the backbone of llm-blender/pair-ranker,
/// whose repository ships no backbone config.
// Ports: configuration_deberta_v2.py DebertaV2Config
public struct DebertaV2Config: Codable, Equatable, Sendable {
    public var modelType: String = "deberta-v2"
    public var vocabSize: Int = 128_100
    public var hiddenSize: Int = 1024
    public var numHiddenLayers: Int = 24
    public var numAttentionHeads: Int = 16
    public var intermediateSize: Int = 4096
    public var hiddenAct: String = "gelu"
    public var maxPositionEmbeddings: Int = 512
    public var typeVocabSize: Int = 0
    public var layerNormEps: Double = 1e-7
    public var relativeAttention: Bool = true
    public var maxRelativePositions: Int = -1
    public var positionBuckets: Int = 256
    public var normRelEbd: String = "layer_norm"
    public var shareAttKey: Bool = true
    public var posAttType: [String] = ["p2c", "c2p"]
    public var positionBiasedInput: Bool = false
    public var padTokenId: Int = 0
    public var embeddingSize: Int?
    public var convKernelSize: Int?
    public var attentionHeadSize: Int?

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", vocabSize = "vocab_size", hiddenSize = "hidden_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case intermediateSize = "intermediate_size", hiddenAct = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size"
        case layerNormEps = "layer_norm_eps", relativeAttention = "relative_attention"
        case maxRelativePositions = "max_relative_positions", positionBuckets = "position_buckets"
        case normRelEbd = "norm_rel_ebd", shareAttKey = "share_att_key", posAttType = "pos_att_type"
        case positionBiasedInput = "position_biased_input", padTokenId = "pad_token_id"
        case embeddingSize = "embedding_size", convKernelSize = "conv_kernel_size"
        case attentionHeadSize = "attention_head_size"
    }

    public init() {}

    /// deberta-v3-large (microsoft/deberta-v3-large config.json) with the pair-ranker vocabulary.
    public static func debertaV3Large(vocabSize: Int) -> DebertaV2Config {
        var c = DebertaV2Config()
        c.vocabSize = vocabSize
        return c
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = DebertaV2Config()
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? d.modelType
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? d.vocabSize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        numHiddenLayers = try c.decodeIfPresent(Int.self, forKey: .numHiddenLayers) ?? d.numHiddenLayers
        numAttentionHeads = try c.decodeIfPresent(Int.self, forKey: .numAttentionHeads) ?? d.numAttentionHeads
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? d.maxPositionEmbeddings
        typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? d.typeVocabSize
        layerNormEps = try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? d.layerNormEps
        relativeAttention = try c.decodeIfPresent(Bool.self, forKey: .relativeAttention) ?? d.relativeAttention
        maxRelativePositions = try c.decodeIfPresent(Int.self, forKey: .maxRelativePositions) ?? d.maxRelativePositions
        positionBuckets = try c.decodeIfPresent(Int.self, forKey: .positionBuckets) ?? d.positionBuckets
        normRelEbd = try c.decodeIfPresent(String.self, forKey: .normRelEbd) ?? "none"
        shareAttKey = try c.decodeIfPresent(Bool.self, forKey: .shareAttKey) ?? false
        positionBiasedInput = try c.decodeIfPresent(Bool.self, forKey: .positionBiasedInput) ?? true
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? 0
        embeddingSize = try c.decodeIfPresent(Int.self, forKey: .embeddingSize)
        convKernelSize = try c.decodeIfPresent(Int.self, forKey: .convKernelSize)
        attentionHeadSize = try c.decodeIfPresent(Int.self, forKey: .attentionHeadSize)
        // pos_att_type: "p2c|c2p" or ["p2c", "c2p"] (candle's deserialize_pos_att_type).
        if let list = try? c.decodeIfPresent([String].self, forKey: .posAttType) {
            posAttType = list.map { $0.lowercased() }
        } else if let s = try c.decodeIfPresent(String.self, forKey: .posAttType) {
            posAttType = s.lowercased().split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        } else {
            posAttType = []
        }
    }

    public static func load(path: String) throws -> DebertaV2Config {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DebertaError.config(path: path, message: "cannot read the file")
        }
        do { return try JSONDecoder().decode(DebertaV2Config.self, from: data) } catch {
            throw DebertaError.config(path: path, message: "not a valid DeBERTa-v2 config.json (\(error))")
        }
    }

    public var headSize: Int { attentionHeadSize ?? hiddenSize / numAttentionHeads }
    /// Rows of the relative-embedding table: 2 · position_buckets (or 2 · max_relative_positions).
    public var attentionSpan: Int { positionBuckets > 0 ? positionBuckets : effectiveMaxRelativePositions }
    public var effectiveMaxRelativePositions: Int { maxRelativePositions < 1 ? maxPositionEmbeddings : maxRelativePositions }

    /// Rejects the configurations this port does not implement, with the key and value named.
    public func validate(path: String) throws {
        func reject(_ key: String, _ value: Any, _ expected: String) throws {
            throw DebertaError.config(path: path, message: "\(key) = \(value) is not supported (expected \(expected))")
        }
        if modelType != "deberta-v2" { try reject("model_type", modelType, "deberta-v2") }
        if hiddenSize <= 0 || numAttentionHeads <= 0 || hiddenSize % numAttentionHeads != 0 {
            try reject("hidden_size/num_attention_heads", "\(hiddenSize)/\(numAttentionHeads)", "a positive multiple")
        }
        if attentionHeadSize != nil && attentionHeadSize != hiddenSize / numAttentionHeads {
            try reject("attention_head_size", attentionHeadSize!, "hidden_size / num_attention_heads")
        }
        if numHiddenLayers <= 0 || intermediateSize <= 0 || vocabSize <= 0 {
            try reject("num_hidden_layers/intermediate_size/vocab_size", "\(numHiddenLayers)/\(intermediateSize)/\(vocabSize)", "positive")
        }
        if hiddenAct != "gelu" { try reject("hidden_act", hiddenAct, "gelu") }
        if !relativeAttention { try reject("relative_attention", false, "true") }
        if Set(posAttType) != ["p2c", "c2p"] { try reject("pos_att_type", posAttType.joined(separator: "|"), "p2c|c2p") }
        if !shareAttKey { try reject("share_att_key", false, "true") }
        if normRelEbd != "layer_norm" { try reject("norm_rel_ebd", normRelEbd, "layer_norm") }
        if positionBiasedInput { try reject("position_biased_input", true, "false") }
        if typeVocabSize != 0 { try reject("type_vocab_size", typeVocabSize, "0") }
        if let e = embeddingSize, e != hiddenSize { try reject("embedding_size", e, "hidden_size") }
        if let k = convKernelSize, k > 0 { try reject("conv_kernel_size", k, "absent (no ConvLayer)") }
        if positionBuckets < 2 { try reject("position_buckets", positionBuckets, ">= 2") }
        // Upper bounds, far above any published DeBERTa (v3-large: 1024 hidden, 24 layers, 4096
        // intermediate, 128k vocabulary, 256 buckets): sizes computed from a crafted config.json
        // (2 * position_buckets, layer arrays, weight shapes) can then neither overflow nor ask
        // for terabytes before the checkpoint's shapes are compared.
        let bounds: [(String, Int, ClosedRange<Int>)] = [
            ("hidden_size", hiddenSize, 1...(1 << 16)), ("num_hidden_layers", numHiddenLayers, 1...1024),
            ("intermediate_size", intermediateSize, 1...(1 << 18)), ("vocab_size", vocabSize, 1...(1 << 24)),
            ("position_buckets", positionBuckets, 2...(1 << 16)), ("max_position_embeddings", maxPositionEmbeddings, 1...(1 << 20)),
            ("max_relative_positions", maxRelativePositions, Int.min...(1 << 20)),
        ]
        for (key, value, range) in bounds where !range.contains(value) {
            try reject(key, value, range.lowerBound == Int.min ? "at most \(range.upperBound)" : "\(range.lowerBound)...\(range.upperBound)")
        }
        if !layerNormEps.isFinite || layerNormEps <= 0 || layerNormEps > 1 { try reject("layer_norm_eps", layerNormEps, "in (0, 1]") }
        // The log buckets grow with the distance only while ln((positions − 1) / (buckets / 2)) > 0:
        // below that the table folds back (δ(129) < δ(128)), and at buckets / 2 + 1 the formula
        // divides by zero. Attention relies on δ never decreasing in i − j (RelativePosition).
        if effectiveMaxRelativePositions - 1 <= positionBuckets / 2 {
            try reject(maxRelativePositions < 1 ? "max_position_embeddings (max_relative_positions is \(maxRelativePositions))" : "max_relative_positions",
                       effectiveMaxRelativePositions, "above position_buckets / 2 + 1 = \(positionBuckets / 2 + 1)")
        }
    }
}
