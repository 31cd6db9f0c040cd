import Foundation
import Tokenizer

/// Token ids the pair layout depends on. The four PairRanker markers are added tokens whose ids
/// follow the base vocabulary (128001-128004 for deberta-v3); they are read from the model
/// directory's `added_tokens.json` or `tokenizer.json`, never assumed.
public struct SpecialTokens: Equatable, Sendable {
    public var pad: Int32 = 0
    public var cls: Int32 = 1
    public var sep: Int32 = 2
    public var unk: Int32 = 3
    public var source: Int32
    public var candidate1: Int32
    public var candidate2: Int32
    public var candidate: Int32

    public static let sourcePrefix = "<|source|>"
    public static let candidate1Prefix = "<|candidate1|>"
    public static let candidate2Prefix = "<|candidate2|>"
    public static let candidatePrefix = "<|candidate|>"

    public init(pad: Int32 = 0, cls: Int32 = 1, sep: Int32 = 2, unk: Int32 = 3,
                source: Int32, candidate1: Int32, candidate2: Int32, candidate: Int32) {
        self.pad = pad
        self.cls = cls
        self.sep = sep
        self.unk = unk
        self.source = source
        self.candidate1 = candidate1
        self.candidate2 = candidate2
        self.candidate = candidate
    }

    /// Reads `tokenizer.json` (its `added_tokens`; `tokenizerJSON`, the directory's file already
    /// parsed, when it has one) or else `added_tokens.json` in `dir`.
    public static func load(directory dir: String, tokenizerJSON: TokenizerJSON?) throws -> SpecialTokens {
        var table: [String: Int] = [:]
        let fm = FileManager.default
        let addedJSON = dir + "/added_tokens.json"
        if let tokenizerJSON {
            guard let ids = tokenizerJSON.addedTokenIDs else {
                throw PairRankerError.config(path: tokenizerJSON.path, message: "no added_tokens list")
            }
            table = ids
        } else if let data = fm.contents(atPath: addedJSON) {
            guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Int] else {
                throw PairRankerError.config(path: addedJSON, message: "not a JSON object of token -> id")
            }
            table = obj
        } else {
            throw PairRankerError.modelDirectory(path: dir, message: "has neither tokenizer.json nor added_tokens.json, "
                                                 + "so the ids of \(sourcePrefix) and the candidate markers are unknown")
        }
        func id(_ s: String) throws -> Int32 {
            guard let v = table[s] else {
                throw PairRankerError.modelDirectory(path: dir, message: "the tokenizer has no added token \(s)")
            }
            return Int32(v)
        }
        var t = SpecialTokens(source: try id(sourcePrefix), candidate1: try id(candidate1Prefix),
                              candidate2: try id(candidate2Prefix), candidate: try id(candidatePrefix))
        if let v = table["[PAD]"] { t.pad = Int32(v) }
        if let v = table["[CLS]"] { t.cls = Int32(v) }
        if let v = table["[SEP]"] { t.sep = Int32(v) }
        if let v = table["[UNK]"] { t.unk = Int32(v) }
        return t
    }
}
