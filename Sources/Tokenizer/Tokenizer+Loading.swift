import Foundation

extension Tokenizer {
    /// Loads from a model directory: `tokenizer.json` when present (it wins), else `spm.model`
    /// with `added_tokens.json`, `special_tokens_map.json` and `tokenizer_config.json`.
    public static func load(directory dir: String) throws -> Tokenizer {
        let fm = FileManager.default
        if fm.fileExists(atPath: dir + "/tokenizer.json") { return try load(tokenizerJSON: dir + "/tokenizer.json") }
        if fm.fileExists(atPath: dir + "/spm.model") { return try load(sentencePieceDirectory: dir) }
        throw TokenizerError.missingFiles(directory: dir)
    }

    // MARK: tokenizer.json

    public static func load(tokenizerJSON path: String) throws -> Tokenizer {
        guard let file = TokenizerJSON(path: path) else { throw TokenizerError.badFile(path: path, message: "cannot read the file") }
        return try load(tokenizerJSON: file)
    }

    /// Builds the tokenizer from an already parsed `tokenizer.json`.
    public static func load(tokenizerJSON file: TokenizerJSON) throws -> Tokenizer {
        let path = file.path
        func bad(_ m: String) -> TokenizerError { .badFile(path: path, message: m) }
        func unsupported(_ m: String) -> TokenizerError { .unsupported(path: path, message: m) }
        guard let root = file.root else { throw bad("not a JSON object") }

        guard let m = root["model"] as? [String: Any] else { throw bad("no model") }
        guard (m["type"] as? String) == "Unigram" else { throw unsupported("model type \(m["type"] ?? "none") is not supported (expected Unigram)") }
        guard let vocab = m["vocab"] as? [[Any]], !vocab.isEmpty else { throw bad("model.vocab is not a list of [piece, score]") }
        var pieces: [[UInt8]] = [], scores: [Double] = []
        pieces.reserveCapacity(vocab.count)
        scores.reserveCapacity(vocab.count)
        for (i, entry) in vocab.enumerated() {
            guard entry.count == 2, let p = entry[0] as? String, let s = (entry[1] as? NSNumber)?.doubleValue else {
                throw bad("model.vocab[\(i)] is not [piece, score]")
            }
            pieces.append(Array(p.utf8))
            scores.append(s)
        }
        guard let unk = m["unk_id"] as? Int, unk >= 0, unk < pieces.count else { throw bad("model.unk_id is missing or out of range") }
        if (m["byte_fallback"] as? Bool) == true { throw unsupported("byte_fallback = true is not supported") }

        let normalizer = try parseNormalizer(root["normalizer"], path: path)
        let (prepend, split) = try parsePreTokenizer(root["pre_tokenizer"], path: path)

        var added: [AddedToken] = []
        for (i, t) in ((root["added_tokens"] as? [[String: Any]]) ?? []).enumerated() {
            guard let id = t["id"] as? Int, let content = t["content"] as? String, !content.isEmpty else {
                throw bad("added_tokens[\(i)] lacks id or content")
            }
            for flag in ["lstrip", "rstrip", "single_word"] where (t[flag] as? Bool) == true {
                throw unsupported("added token \(content) has \(flag) = true, which is not supported")
            }
            added.append(AddedToken(id: Int32(id), content: content, special: (t["special"] as? Bool) ?? false,
                                    normalized: (t["normalized"] as? Bool) ?? !((t["special"] as? Bool) ?? false)))
        }
        var cls: Int32 = 1, sep: Int32 = 2
        if let post = root["post_processor"] as? [String: Any] {
            guard (post["type"] as? String) == "TemplateProcessing", let specials = post["special_tokens"] as? [String: Any],
                  let single = post["single"] as? [[String: Any]], single.count == 3 else {
                throw unsupported("post_processor must be the [CLS] $A [SEP] TemplateProcessing")
            }
            func specialID(_ item: [String: Any]) -> Int32? {
                guard let st = item["SpecialToken"] as? [String: Any], let name = st["id"] as? String,
                      let entry = specials[name] as? [String: Any], let ids = entry["ids"] as? [Int], ids.count == 1 else { return nil }
                return Int32(ids[0])
            }
            guard let c = specialID(single[0]), single[1]["Sequence"] != nil, let s = specialID(single[2]) else {
                throw unsupported("post_processor must be the [CLS] $A [SEP] TemplateProcessing")
            }
            cls = c
            sep = s
        }
        return Tokenizer(model: UnigramModel(pieces: pieces, scores: scores, unkID: Int32(unk)), normalizer: normalizer,
                         added: added, prepend: prepend, splitWords: split, cls: cls, sep: sep, source: path)
    }

    static func parseNormalizer(_ any: Any?, path: String) throws -> Normalizer {
        var n = Normalizer()
        guard let any, !(any is NSNull) else { return n }
        guard let obj = any as? [String: Any], let type = obj["type"] as? String else {
            throw TokenizerError.badFile(path: path, message: "normalizer is not an object with a type")
        }
        let steps = type == "Sequence" ? ((obj["normalizers"] as? [[String: Any]]) ?? []) : [obj]
        for step in steps {
            switch step["type"] as? String {
            case "Strip":
                n.stripLeft = (step["strip_left"] as? Bool) ?? true
                n.stripRight = (step["strip_right"] as? Bool) ?? true
            case "Lowercase": n.lowercase = true
            case "Precompiled":
                guard let b64 = step["precompiled_charsmap"] as? String, let bytes = Data(base64Encoded: b64) else {
                    throw TokenizerError.badFile(path: path, message: "Precompiled normalizer has no base64 precompiled_charsmap")
                }
                n.charsmap = try PrecompiledCharsmap([UInt8](bytes), path: path)
            case "Replace":
                let pattern = step["pattern"] as? [String: Any]
                guard (pattern?["Regex"] as? String) == " {2,}", (step["content"] as? String) == " " else {
                    throw TokenizerError.unsupported(path: path, message: "only the Replace(\" {2,}\", \" \") normalizer is supported")
                }
                n.collapseSpaces = true
            default:
                throw TokenizerError.unsupported(path: path, message: "normalizer \(step["type"] ?? "?") is not supported")
            }
        }
        return n
    }

    static func parsePreTokenizer(_ any: Any?, path: String) throws -> (PrependScheme, Bool) {
        guard let obj = any as? [String: Any], let type = obj["type"] as? String else {
            throw TokenizerError.unsupported(path: path, message: "a Metaspace pre_tokenizer is required")
        }
        let steps = type == "Sequence" ? ((obj["pretokenizers"] as? [[String: Any]]) ?? []) : [obj]
        guard steps.count == 1, let meta = steps.first, (meta["type"] as? String) == "Metaspace" else {
            throw TokenizerError.unsupported(path: path, message: "pre_tokenizer must be a single Metaspace (split_by_punct is not supported)")
        }
        guard (meta["replacement"] as? String) ?? "▁" == "▁" else {
            throw TokenizerError.unsupported(path: path, message: "Metaspace replacement must be ▁")
        }
        let scheme: PrependScheme
        if let s = meta["prepend_scheme"] as? String {
            guard let p = PrependScheme(rawValue: s) else { throw TokenizerError.unsupported(path: path, message: "prepend_scheme \(s)") }
            scheme = p
        } else {
            scheme = ((meta["add_prefix_space"] as? Bool) ?? true) ? .always : .never
        }
        return (scheme, (meta["split"] as? Bool) ?? true)
    }

    // MARK: spm.model

    /// The fast tokenizer transformers converts from `spm.model` (DebertaV2Converter).
    public static func load(sentencePieceDirectory dir: String) throws -> Tokenizer {
        let path = dir + "/spm.model"
        guard let data = FileManager.default.contents(atPath: path) else { throw TokenizerError.badFile(path: path, message: "cannot read the file") }
        let proto = try SentencePieceModel(bytes: [UInt8](data), path: path)
        var normalizer = Normalizer()
        let config = jsonObject(dir + "/tokenizer_config.json")
        if (config?["split_by_punct"] as? Bool) == true {
            throw TokenizerError.unsupported(path: dir + "/tokenizer_config.json", message: "split_by_punct = true is not supported")
        }
        normalizer.lowercase = (config?["do_lower_case"] as? Bool) ?? false
        normalizer.stripLeft = true
        normalizer.stripRight = true
        if !proto.precompiledCharsmap.isEmpty { normalizer.charsmap = try PrecompiledCharsmap(proto.precompiledCharsmap, path: path) }
        normalizer.collapseSpaces = true

        // Added tokens: the saved tokenizer_config's added_tokens_decoder carries every flag;
        // else the special tokens (normalized only for [UNK], as DebertaV2Tokenizer declares it)
        // and added_tokens.json (plain tokens, normalized).
        var added: [AddedToken] = []
        if let decoder = config?["added_tokens_decoder"] as? [String: [String: Any]] {
            for (k, t) in decoder {
                guard let id = Int32(k), let content = t["content"] as? String else { continue }
                added.append(AddedToken(id: id, content: content, special: (t["special"] as? Bool) ?? false,
                                        normalized: (t["normalized"] as? Bool) ?? false))
            }
        } else {
            let specials = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]
            let extra = (jsonObject(dir + "/added_tokens.json") as? [String: Int]) ?? [:]
            for s in specials {
                if let i = proto.pieces.firstIndex(of: Array(s.utf8)) {
                    added.append(AddedToken(id: Int32(i), content: s, special: true, normalized: s == "[UNK]"))
                } else if let id = extra[s] {
                    added.append(AddedToken(id: Int32(id), content: s, special: true, normalized: false))
                }
            }
            for (s, id) in extra where !specials.contains(s) {
                added.append(AddedToken(id: Int32(id), content: s, special: false, normalized: true))
            }
        }
        added.sort { $0.id < $1.id }
        let cls = proto.pieces.firstIndex(of: Array("[CLS]".utf8)).map(Int32.init) ?? 1
        let sep = proto.pieces.firstIndex(of: Array("[SEP]".utf8)).map(Int32.init) ?? 2
        return Tokenizer(model: UnigramModel(pieces: proto.pieces, scores: proto.scores.map(Double.init), unkID: proto.unkID),
                         normalizer: normalizer, added: added, prepend: .always, splitWords: true, cls: cls, sep: sep, source: path)
    }

    private static func jsonObject(_ path: String) -> [String: Any]? {
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        return (try? JSONSerialization.jsonObject(with: d)) as? [String: Any]
    }
}
