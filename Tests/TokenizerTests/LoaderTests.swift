import Foundation
import Testing

@testable import Tokenizer

@Suite struct LoaderTests {
    static let dir = CorpusTests.fixtures.appendingPathComponent("tiny-pair-ranker").path

    func temp(_ name: String, _ files: [String: Data]) -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("pairranker-tok-\(getpid())-\(name)").path
        try? FileManager.default.removeItem(atPath: d)
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        for (f, data) in files { FileManager.default.createFile(atPath: d + "/" + f, contents: data) }
        return d
    }

    @Test("tokenizer.json wins over spm.model when both are present")
    func precedence() throws {
        let t = try Tokenizer.load(directory: Self.dir)
        #expect(t.source.hasSuffix("tokenizer.json"))
        let spmOnly = temp("spm", ["spm.model": try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/spm.model")),
                                   "added_tokens.json": try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/added_tokens.json"))])
        let s = try Tokenizer.load(directory: spmOnly)
        #expect(s.source.hasSuffix("spm.model"))
        // Without tokenizer_config.json the added tokens come from added_tokens.json.
        #expect(s.encode("<|source|>hello") == t.encode("<|source|>hello"))
        #expect(s.encode("a [MASK] b") == t.encode("a [MASK] b"))
    }

    @Test("corrupt or missing tokenizer files give errors naming the file")
    func corrupt() throws {
        let json = try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/tokenizer.json"))
        let spm = try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/spm.model"))
        let cases: [(String, [String: Data], String)] = [
            ("empty", [:], "no tokenizer.json or spm.model"),
            ("truncated-json", ["tokenizer.json": json.prefix(json.count / 2)], "not a JSON object"),
            ("not-unigram", ["tokenizer.json": Data(#"{"model": {"type": "BPE"}}"#.utf8)], "model type BPE is not supported"),
            ("bad-vocab", ["tokenizer.json": Data(#"{"model": {"type": "Unigram", "vocab": [["a"]], "unk_id": 0}}"#.utf8)], "model.vocab[0]"),
            ("bad-charsmap", ["tokenizer.json": Data(#"{"model": {"type": "Unigram", "vocab": [["a", 0.0]], "unk_id": 0}, "normalizer": {"type": "Precompiled", "precompiled_charsmap": "AAAA"}, "pre_tokenizer": {"type": "Metaspace"}}"#.utf8)], "precompiled charsmap"),
            ("truncated-spm", ["spm.model": spm.prefix(1000)], "corrupt protobuf"),
            ("garbage-spm", ["spm.model": Data([0xFF, 0xFF, 0xFF])], "corrupt protobuf"),
        ]
        for (name, files, message) in cases {
            let d = temp(name, files)
            do {
                _ = try Tokenizer.load(directory: d)
                Issue.record("\(name): no error")
            } catch let e as TokenizerError {
                #expect("\(e)".contains(message), "\(name): \(e)")
                #expect("\(e)".contains(d), "\(name): the message names the file: \(e)")
            }
        }
    }

    @Test("a hand-built vocabulary segments by best score and fuses unknowns")
    func handBuilt() {
        let pieces = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "▁", "▁ab", "a", "b", "c", "d", "cd", "▁abcd"].map { Array($0.utf8) }
        let scores: [Double] = [0, 0, 0, 0, -2, -3, -4, -4, -4, -4, -2.5, -20]
        var n = Normalizer()
        n.stripLeft = true
        n.stripRight = true
        n.collapseSpaces = true
        let t = Tokenizer(model: UnigramModel(pieces: pieces, scores: scores, unkID: 3), normalizer: n, added: [],
                          prepend: .always, splitWords: true, cls: 1, sep: 2, source: "hand-built")
        #expect(t.encode("abcd", addSpecialTokens: false) == [5, 10])           // ▁ab + cd beats ▁abcd
        #expect(t.encode("abxyz", addSpecialTokens: false) == [5, 3])           // xyz fused into one [UNK]
        #expect(t.encode("  ab  cd ", addSpecialTokens: false) == [5, 4, 10])   // strip, collapse, split at ▁
        #expect(t.encode("", addSpecialTokens: true) == [1, 2])
    }
}
