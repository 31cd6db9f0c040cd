import Foundation
import TestSupport
import Testing

@testable import RankerService

/// The CLI answers rank and compare requests built from the golden texts with the Blender API's
/// results (within 1e-4), through the real executable.
@Suite struct CLIGoldenTests {
    func instructions() -> JSON { .array(Support.instances.map { $0.instruction.map(JSON.string) ?? .null }) }

    @Test("pairranker rank (list form, different candidate counts) matches the goldens")
    func rank() throws {
        let body = Support.body([("inputs", Support.strings(Support.instances.map(\.input))),
                                 ("candidates", .array(Support.instances.map { Support.strings($0.candidates) })),
                                 ("instructions", instructions())])
        let (code, out, err) = try Support.run(["rank", "--model", Support.modelDir], stdin: body)
        #expect(code == 0, "\(err)")
        let json = try JSON.parse(Array(out.utf8))
        let ranks = json["ranks"]!.items, scores = json["scores"]!.items
        for (k, inst) in Support.instances.enumerated() {
            #expect(ranks[k].numbers.map { Int($0) } == inst.ranks, "\(inst.name)")
            for (g, w) in zip(scores[k].numbers, inst.scores) { #expect(abs(g - Double(w)) <= 1e-4, "\(inst.name)") }
        }
    }

    @Test("pairranker compare matches the goldens in every mode", arguments: ["[A,B]+[B,A]", "[A,B]", "[B,A]"])
    func compare(mode: String) throws {
        let insts = Support.instances.filter { $0.compare != nil }
        let body = Support.body([("inputs", Support.strings(insts.map(\.input))),
                                 ("candidates_a", Support.strings(insts.map { $0.candidates[0] })),
                                 ("candidates_b", Support.strings(insts.map { $0.candidates[1] })),
                                 ("instructions", .array(insts.map { $0.instruction.map(JSON.string) ?? .null })),
                                 ("mode", .string(mode))])
        let (code, out, err) = try Support.run(["compare", "--model", Support.modelDir, "--weights", "pytorch_model.bin"], stdin: body)
        #expect(code == 0, "\(err)")
        let logits = try JSON.parse(Array(out.utf8))["logits"]!.numbers
        #expect(logits.count == insts.count)
        for (g, inst) in zip(logits, insts) { #expect(abs(g - Double(inst.compare![mode]!)) <= 1e-4, "\(inst.name)") }
    }

    @Test("the README example works and bad input exits non-zero with a message")
    func readmeAndErrors() throws {
        let (code, out, _) = try Support.run(["rank", "--model", Support.modelDir], stdin: #"{"input":"2+2?","candidates":["4","5"]}"#)
        #expect(code == 0)
        #expect(try JSON.parse(Array(out.utf8))["ranks"]!.numbers.count == 2)
        let (c2, _, e2) = try Support.run(["rank", "--model", Support.modelDir], stdin: "{\"input\": \"\u{FF}")
        #expect(c2 == 2 && e2.contains("invalid JSON"))
        let bad = Data([0x7B, 0x22, 0x69, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D])
        let (c3, _, e3) = try Support.run(["tokenize", "--model", Support.modelDir], stdinData: bad)
        #expect(c3 == 2 && e3.contains("invalid UTF-8"), "\(e3)")
        let (c4, _, e4) = try Support.run(["rank", "--model", "/nonexistent/dir"], stdin: "{}")
        #expect(c4 != 0 && e4.contains("/nonexistent/dir"))
    }
}

/// The shape of the command line: product commands at the top, developer tools under `dev`.
@Suite struct CLIShapeTests {
    @Test("version prints the version /info reports; developer tools live under dev")
    func shape() throws {
        let (c, out, _) = try Support.run(["version"], stdin: "")
        #expect(c == 0 && out.hasPrefix("pairranker ") && out.contains("."), "\(out)")
        let (_, help, _) = try Support.run(["--help"], stdin: "")
        for product in ["serve", "compare", "rank", "tokenize", "info", "download", "version", "dev"] {
            #expect(help.contains("  \(product) "), "top-level help lists \(product)")
        }
        for tool in ["bench", "load", "make-random-model", "bench-tokenizer", "blas-core"] {
            #expect(!help.contains("  \(tool) "), "\(tool) is not a top-level command")
            let (code, _, err) = try Support.run(["dev", tool, "--help"], stdin: "")
            #expect(code == 0, "dev \(tool) --help: \(err)")
        }
        let (core, coreOut, _) = try Support.run(["dev", "blas-core"], stdin: "")
        #expect(core == 0 && !coreOut.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }
}
