import ArgumentParser
import DeBERTa
import Foundation
import PairRanker
import RankerService

/// `pairranker agreement`: measures the int8 path against fp32 on the user's own instances, the
/// figures to read before serving with --precision int8.
struct AgreementCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agreement",
        abstract: "Measure --precision int8 against fp32 on your own data before switching.",
        discussion: #"""
            --input is JSONL, one instance a line: {"input": "...", "candidates": ["...", "..."]}
            (optional "instruction"), or {"input": "...", "candidate_a": "...", "candidate_b": "..."}.
            Lines with fewer than 2 candidates are skipped. Every ordered pair of each line's candidates runs through both precisions. Prints the
            share of pairs whose compare logit keeps its sign (all, and those with |fp32 logit| above
            --decisive-logit), of lines whose best candidate and whole ranking stay the same, the mean
            Kendall tau of the rankings, the logit error and the speed of each path on this data.
            """#)

    @Option(help: "Model directory, or a Hugging Face id found in the hub cache.") var model: String = ModelLocator.defaultModel
    @Option(help: "Checkpoint file inside the model directory.") var weights: String?
    @Option(help: "JSONL instances (see below).") var input: String
    @Option(help: "Use the first N lines only (0: all).") var maxLines = 0
    @Option(help: "|fp32 logit| above which a pair counts as decisive.") var decisiveLogit = 0.5
    @Flag(help: "Print the figures as one JSON object.") var json = false

    func validate() throws {
        guard maxLines >= 0 else { throw ValidationError("--max-lines must not be negative") }
        guard decisiveLogit.isFinite, decisiveLogit >= 0 else { throw ValidationError("--decisive-logit must be a finite number >= 0") }
    }

    /// The instances of a JSONL file; a bad line is an error naming its number.
    static func read(_ path: String, maxLines: Int) throws -> [RankInput] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("--input \(path): cannot read the file") }
        var out: [RankInput] = []
        for (i, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            if maxLines > 0 && out.count >= maxLines { break }
            let bytes = Array(line)
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            func bad(_ why: String) -> ValidationError { ValidationError("--input \(path) line \(i + 1): \(why)") }
            let obj: JSON
            do { obj = try JSON.parse(bytes) } catch { throw bad("\(error)") }
            guard case let .string(text)? = obj["input"] else { throw bad("\"input\" must be a string") }
            var instruction: String?
            if let v = obj["instruction"] {
                switch v {
                case let .string(s): instruction = s
                case .null: break
                default: throw bad("\"instruction\" must be a string or null")
                }
            }
            var candidates: [String] = []
            if case let .array(items)? = obj["candidates"] {
                for item in items {
                    guard case let .string(s) = item else { throw bad("\"candidates\" must hold strings") }
                    candidates.append(s)
                }
            } else if case let .string(a)? = obj["candidate_a"], case let .string(b)? = obj["candidate_b"] {
                candidates = [a, b]
            } else {
                throw bad("needs \"candidates\" (an array of strings) or \"candidate_a\" and \"candidate_b\"")
            }
            guard candidates.count >= 2 else { continue }   // nothing to compare: the same in both
            guard candidates.count <= 64 else { throw bad("\(candidates.count) candidates; at most 64 (every ordered pair runs)") }
            out.append(RankInput(instruction: instruction, input: text, candidates: candidates))
        }
        guard !out.isEmpty else { throw ValidationError("--input \(path): no instances") }
        return out
    }

    func run() throws {
        let inputs = try Self.read(input, maxLines: maxLines)
        let dir = try ModelLocator.resolve(model)
        let int8 = try Precision.named("int8")
        let exact = try PairRankerModel(path: dir, checkpoint: weights, precision: .fp32)
        let quantized = try PairRankerModel(path: dir, checkpoint: weights, precision: int8)
        let a = try Agreement.measure(reference: exact, candidate: quantized, inputs: inputs, decisiveLogit: decisiveLogit)
        let figures: [(String, JSON)] = [
            ("model", .string(dir)), ("precision", .string(int8.description)),
            ("instances", .number(Double(a.instances))), ("pairs", .number(Double(a.pairs))),
            ("same_sign", .number(a.sameSignFraction)),
            ("decisive_logit", .number(a.decisiveLogit)), ("decisive_pairs", .number(Double(a.decisivePairs))),
            ("decisive_same_sign", .number(a.decisiveSameSignFraction)),
            ("same_top1", .number(a.sameTop1Fraction)), ("same_ranking", .number(a.sameRankingFraction)),
            ("mean_kendall_tau", .number(a.meanKendallTau)),
            ("max_abs_logit_error", .number(a.maxAbsLogitError)), ("mean_abs_logit_error", .number(a.meanAbsLogitError)),
            ("fp32_logit_std", .number(a.referenceLogitStd)), ("fp32_mean_abs_logit", .number(a.referenceMeanAbsLogit)),
            ("fp32_seconds", .number(a.referenceSeconds)), ("int8_seconds", .number(a.candidateSeconds)),
        ]
        if json { print(JSON.object(figures).text); return }
        func pct(_ x: Double) -> String { String(format: "%.2f%%", 100 * x) }
        print("""
            \(int8.description) against fp32 on \(a.instances) instances, \(a.pairs) ordered pairs:
              same compare sign:            \(pct(a.sameSignFraction)) of all pairs
              same sign where |fp32| > \(a.decisiveLogit): \(pct(a.decisiveSameSignFraction)) of \(a.decisivePairs) pairs
              same best candidate:          \(pct(a.sameTop1Fraction)) of instances
              same whole ranking:           \(pct(a.sameRankingFraction)) of instances (mean Kendall tau \(String(format: "%.4f", a.meanKendallTau)))
              logit error:                  max \(String(format: "%.4g", a.maxAbsLogitError)), mean \(String(format: "%.4g", a.meanAbsLogitError)) (fp32 logits: std \(String(format: "%.4g", a.referenceLogitStd)), mean |logit| \(String(format: "%.4g", a.referenceMeanAbsLogit)))
              forward time:                 fp32 \(String(format: "%.2f", a.referenceSeconds)) s, int8 \(String(format: "%.2f", a.candidateSeconds)) s (\(String(format: "%.2f", a.referenceSeconds / max(a.candidateSeconds, 1e-9)))x)
            """)
    }
}
