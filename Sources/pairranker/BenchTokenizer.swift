import ArgumentParser
import Foundation
import Tokenizer

/// Times the tokenizer on a corpus, one thread: `scripts/bench_tokenizer.py` runs it beside the
/// Hugging Face Rust tokenizer on the same strings.
struct BenchTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-tokenizer",
        abstract: "Time the tokenizer over a JSONL corpus ({\"text\": ...} per line), one thread; prints JSON.")

    @Option(help: "Model directory with tokenizer.json or spm.model.") var model: String
    @Option(help: "JSONL corpus.") var input: String
    @Option(help: "Passes over the corpus.") var repeats = 5

    func run() throws {
        let tok = try Tokenizer.load(directory: try ModelLocator.resolve(model))
        guard let text = try? String(contentsOfFile: input, encoding: .utf8) else { throw ValidationError("cannot read \(input)") }
        let texts: [String] = text.split(separator: "\n").compactMap { line in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return obj["text"] as? String
        }
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }
        var checksum = 0
        for t in texts { checksum &+= tok.encode(t).count }  // warm-up
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            for t in texts { checksum &+= tok.encode(t).count }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        print(#"{"impl":"pairranker","strings":\#(texts.count),"bytes":\#(bytes),"best_seconds":\#(best),"strings_per_second":\#(Double(texts.count) / best),"checksum":\#(checksum)}"#)
    }
}
