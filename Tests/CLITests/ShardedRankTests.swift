import Foundation
import TestSupport
import Testing

@testable import RankerService

/// `pairranker rank --output --shard I/N`: the shards of a Kubernetes Indexed Job, joined in index
/// order, are the single run's output byte for byte.
@Suite struct ShardedRankTests {
    func file(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("pairranker-shard-\(getpid())-\(name)").path
    }

    func input(lines n: Int) throws -> String {
        var lines: [String] = []
        for i in 0..<n {
            if i == 41 { lines.append("{broken"); continue }
            lines.append(JSON.object([("input", .string("question \(i % 11)")),
                                      ("candidates", Support.strings(["answer \(i % 5)", "reply \(i % 3)", "other \(i % 2)"]))]).text)
        }
        let path = file("in-\(n).jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("three shards joined in index order equal one run, byte for byte; line numbers stay global")
    func joined() throws {
        let input = try input(lines: 100)
        let single = file("single.jsonl")
        try? FileManager.default.removeItem(atPath: single)
        let (c0, _, e0) = try Support.run(["rank", "--model", Support.modelDir, "--input", input, "--output", single], stdin: "")
        #expect(c0 == 0, "\(e0)")
        var joined = ""
        for i in 0..<3 {
            let out = file("shard-\(i).jsonl")
            try? FileManager.default.removeItem(atPath: out)
            // Small batches in the shards: the answers must not depend on the batching either.
            let (c, _, e) = try Support.run(["rank", "--model", Support.modelDir, "--input", input, "--output", out,
                                             "--shard", "\(i)/3", "--batch-tokens", "64"], stdin: "")
            #expect(c == 0, "\(e)")
            #expect(e.contains("shard \(i)/3: lines \(100 * i / 3 + 1)-\(100 * (i + 1) / 3) of 100"), "\(e)")
            joined += try String(contentsOfFile: out, encoding: .utf8)
        }
        let whole = try String(contentsOfFile: single, encoding: .utf8)
        #expect(whole.split(separator: "\n").count == 100)
        #expect(joined == whole)
        #expect(whole.contains(#""line":42"#), "the bad line keeps its number in the input")
    }

    @Test("in an Indexed Job the shard comes from JOB_COMPLETION_INDEX and PAIRRANKER_SHARD_COUNT")
    func fromEnvironment() throws {
        let input = try input(lines: 10)
        let out = file("env.jsonl"), flag = file("flag.jsonl")
        for f in [out, flag] { try? FileManager.default.removeItem(atPath: f) }
        let (c, _, e) = try Support.run(["rank", "--model", Support.modelDir, "--input", input, "--output", out], stdin: "",
                                        environment: ["JOB_COMPLETION_INDEX": "1", "PAIRRANKER_SHARD_COUNT": "2"])
        #expect(c == 0, "\(e)")
        let (c2, _, e2) = try Support.run(["rank", "--model", Support.modelDir, "--input", input, "--output", flag, "--shard", "1/2"], stdin: "")
        #expect(c2 == 0, "\(e2)")
        let a = try String(contentsOfFile: out, encoding: .utf8), b = try String(contentsOfFile: flag, encoding: .utf8)
        #expect(a == b && a.split(separator: "\n").count == 5)
        let (c3, _, e3) = try Support.run(["rank", "--model", Support.modelDir, "--input", input, "--output", out], stdin: "",
                                          environment: ["JOB_COMPLETION_INDEX": "0"])
        #expect(c3 != 0 && e3.contains("PAIRRANKER_SHARD_COUNT is not"), "\(e3)")
    }

    @Test("bad shard specs exit non-zero naming the problem, before loading the model", arguments: [
        ("3/3", "INDEX must be 0 to 2"), ("-1/2", "INDEX must be 0 to 1"), ("1/0", "COUNT must be 1 to 1000000"),
        ("x", "is not INDEX/COUNT"), ("1/2/3", "is not INDEX/COUNT"), ("0/99999999999", "COUNT must be"),
    ])
    func badSpecs(spec: String, message: String) throws {
        let (c, _, e) = try Support.run(["rank", "--model", "/nonexistent", "--input", "/nonexistent", "--output", file("bad.jsonl"),
                                         "--shard=\(spec)"], stdin: "")
        #expect(c != 0 && e.contains(message), "\(spec): \(e)")
    }
}
