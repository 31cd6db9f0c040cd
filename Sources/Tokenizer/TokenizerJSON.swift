import Foundation

/// A `tokenizer.json` read and parsed once: a model directory takes its added tokens' ids from it
/// and the tokenizer the rest, so the file (several MB for deberta-v3) is not parsed twice.
public struct TokenizerJSON: @unchecked Sendable {  // `root` is immutable once parsed
    public let path: String
    /// The top-level object, or nil when the file is not a JSON object.
    let root: [String: Any]?

    /// Reads and parses `path`; nil when the file cannot be read.
    public init?(path: String) {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        self.path = path
        root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// `added_tokens` as content -> id (entries lacking either are left out); nil when there is
    /// no such list.
    public var addedTokenIDs: [String: Int]? {
        guard let added = root?["added_tokens"] as? [[String: Any]] else { return nil }
        var table: [String: Int] = [:]
        for t in added { if let s = t["content"] as? String, let id = t["id"] as? Int { table[s] = id } }
        return table
    }
}
