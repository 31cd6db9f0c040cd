import Foundation
import Testing

@testable import Tokenizer

/// Every string of the corpus gives the reference fast tokenizer's ids (no allow-list).
@Suite struct CorpusTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    struct Line: Decodable { let text: String; let ids: [Int32]; let lower_ids: [Int32] }

    static let corpus: [Line] = {
        let text = try! String(contentsOf: fixtures.appendingPathComponent("goldens/tokenizer_corpus.jsonl"), encoding: .utf8)
        return text.split(separator: "\n").map { try! JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
    }()

    @Test("tokenizer.json and spm.model reproduce the reference ids", arguments: ["tokenizer.json", "spm.model"])
    func corpus(source: String) throws {
        let dir = Self.fixtures.appendingPathComponent("tiny-pair-ranker").path
        let tok = source == "tokenizer.json" ? try Tokenizer.load(tokenizerJSON: dir + "/tokenizer.json")
            : try Tokenizer.load(sentencePieceDirectory: dir)
        #expect(Self.corpus.count >= 8000)
        var failures = 0
        for line in Self.corpus {
            let got = tok.encode(line.text)
            if got != line.ids {
                failures += 1
                if failures <= 15 {
                    Issue.record("\(source): \(line.text.unicodeScalars.map { String($0.value, radix: 16) }) -> \(got) want \(line.ids)")
                }
            }
        }
        print("\(source): \(Self.corpus.count - failures)/\(Self.corpus.count) strings exact")
        #expect(failures == 0)
    }

    @Test("U+1AE1 (unassigned before Unicode 17) after ŉ is its own cluster, so the charsmap rewrites ŉ and an [UNK] follows")
    func unicode17Mark() throws {
        let dir = Self.fixtures.appendingPathComponent("tiny-pair-ranker").path
        let text = "\u{1AE7}\u{1AC8}x \u{107}\u{113}\u{148}\u{1AC7}\u{115}\u{1AFB}\u{149}\u{1AE1} \u{172}\u{1ACD}\u{1AFA}\u{1ABD}\u{163}\u{159}"
        // The reference's ids (tokenizers 0.22.2 over the fixture files, as in the corpus); with the
        // toolchain's Unicode 17 clusters the [UNK] after 459 went missing.
        let want: [Int32] = [1, 260, 3, 473, 260, 3, 459, 3, 260, 3, 2]
        #expect(Self.corpus.contains { $0.text.utf8.elementsEqual(text.utf8) && $0.ids == want })
        #expect(try Tokenizer.load(tokenizerJSON: dir + "/tokenizer.json").encode(text) == want)
        #expect(try Tokenizer.load(sentencePieceDirectory: dir).encode(text) == want)
    }

    /// The same vocabulary from spm.model with do_lower_case = true: the Lowercase normalizer (the
    /// reference's own per-scalar mappings, not the toolchain's) before everything else.
    @Test("spm.model with do_lower_case reproduces the reference ids")
    func lowercaseCorpus() throws {
        let src = Self.fixtures.appendingPathComponent("tiny-pair-ranker")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pairranker-tok-lower-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: src.appendingPathComponent("spm.model"), to: dir.appendingPathComponent("spm.model"))
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: src.appendingPathComponent("tokenizer_config.json"))) as! [String: Any]
        config["do_lower_case"] = true
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        let tok = try Tokenizer.load(sentencePieceDirectory: dir.path)
        #expect(tok.normalizer.lowercase)
        var failures = 0, differFromCased = 0
        for line in Self.corpus {
            if line.lower_ids != line.ids { differFromCased += 1 }
            let got = tok.encode(line.text)
            if got != line.lower_ids {
                failures += 1
                if failures <= 15 {
                    Issue.record("\(line.text.unicodeScalars.map { String($0.value, radix: 16) }) -> \(got) want \(line.lower_ids)")
                }
            }
        }
        print("spm.model, do_lower_case: \(Self.corpus.count - failures)/\(Self.corpus.count) strings exact")
        #expect(differFromCased > 1000, "the corpus exercises lowercasing")
        #expect(failures == 0)
    }

    @Test("the Lowercase and Strip tables are the reference's, not the toolchain's")
    func normalizerTables() {
        #expect(Normalizer.lowercased("ΑΣ ΟΔΟΣ") == "ασ οδοσ")               // per scalar: no final sigma
        #expect(Normalizer.lowercased("İ").unicodeScalars.map(\.value) == [0x69, 0x307])
        #expect(Normalizer.lowercased("\u{A7CE}") != "\u{A7CE}")            // Unicode 17.0 pair: the reference maps it
        #expect(Normalizer.lowercased("ABC xyz") == "abc xyz")
        #expect(Normalizer.whiteSpace.count == 25)
        #expect(Normalizer.isWhiteSpace(0x3000) && Normalizer.isWhiteSpace(0x85) && !Normalizer.isWhiteSpace(0x200B)
                && !Normalizer.isWhiteSpace(0x180E))
    }
}
