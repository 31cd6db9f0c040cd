import Foundation
import Testing

@testable import Tokenizer

/// Every string of the corpus gives the reference fast tokenizer's ids (no allow-list).
@Suite struct CorpusTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    struct Line: Decodable { let text: String; let ids: [Int32] }

    static let corpus: [Line] = {
        let text = try! String(contentsOf: fixtures.appendingPathComponent("goldens/tokenizer_corpus.jsonl"), encoding: .utf8)
        return text.split(separator: "\n").map { try! JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
    }()

    @Test("tokenizer.json and spm.model reproduce the reference ids", arguments: ["tokenizer.json", "spm.model"])
    func corpus(source: String) throws {
        let dir = Self.fixtures.appendingPathComponent("tiny-pair-ranker").path
        let tok = source == "tokenizer.json" ? try Tokenizer.load(tokenizerJSON: dir + "/tokenizer.json")
            : try Tokenizer.load(sentencePieceDirectory: dir)
        #expect(Self.corpus.count >= 3000)
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
}
