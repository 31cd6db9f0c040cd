import Foundation
import TestSupport
import Testing

@testable import RankerService

/// `pairranker rank --input X.jsonl --output Y.jsonl` end to end through the executable.
@Suite struct BatchRankTests {
    func file(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("pairranker-batch-\(getpid())-\(name)").path
    }

    @Test("1,000 lines rank in order; bad lines are reported by number; an interrupted run resumes")
    func batch() throws {
        var lines: [String] = []
        for i in 0..<1000 {
            if i == 137 { lines.append("{not json"); continue }
            if i == 500 { lines.append(#"{"input": "q", "candidates": []}"#); continue }
            lines.append(JSON.object([("input", .string("question \(i % 7)")),
                                      ("candidates", Support.strings(["answer \(i % 5)", "reply \(i % 3)"]))]).text)
        }
        let input = file("in.jsonl"), output = file("out.jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: input))
        try? FileManager.default.removeItem(atPath: output)
        let (code, _, err) = try Support.run(["rank", "--model", Support.modelDir, "--input", input, "--output", output], stdin: "")
        #expect(code == 0, "\(err)")
        #expect(err.contains("line 138:") && err.contains("line 501:"), "\(err)")
        let out = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map { try JSON.parse(Array($0.utf8)) }
        #expect(out.count == 1000)
        #expect(out[137]["line"]?.number == 138 && out[137]["error"]?["type"] == .string("invalid_request"))
        #expect(out[500]["error"]?["type"] == .string("validation"))
        // Same answers as one-off requests, in order.
        for i in [0, 1, 2, 999] {
            #expect(out[i]["scores"] == (try Support.call(.rank, lines[i]))["scores"], "line \(i + 1)")
        }

        // Interrupt: keep the first 400 lines and half of line 401, then resume.
        let full = try String(contentsOfFile: output, encoding: .utf8)
        let kept = full.split(separator: "\n", omittingEmptySubsequences: false)
        let cut = kept[0..<400].joined(separator: "\n") + "\n" + kept[400].prefix(10)
        try Data(cut.utf8).write(to: URL(fileURLWithPath: output))
        // Resumed with much smaller batches: the scores must not depend on how pairs were batched.
        let (c2, _, e2) = try Support.run(["rank", "--model", Support.modelDir, "--input", input, "--output", output, "--resume",
                                           "--batch-tokens", "40"], stdin: "")
        #expect(c2 == 0, "\(e2)")
        #expect(e2.contains("resuming after line 400"))
        #expect(try String(contentsOfFile: output, encoding: .utf8) == full, "nothing repeated, nothing lost")
        let (c4, _, e4) = try Support.run(["rank", "--model", Support.modelDir, "--input", input, "--output", output,
                                           "--batch-tokens", "0"], stdin: "")
        #expect(c4 != 0 && e4.contains("--batch-tokens must be positive"), "\(e4)")

        // --fail-fast stops with a non-zero exit at the first bad line.
        try? FileManager.default.removeItem(atPath: output)
        let (c3, _, e3) = try Support.run(["rank", "--model", Support.modelDir, "--input", input, "--output", output, "--fail-fast"], stdin: "")
        #expect(c3 != 0 && e3.contains("line 138"))
    }
}
