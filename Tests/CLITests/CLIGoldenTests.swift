import Foundation
import Tensors
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

/// --precision on the product commands, and `agreement`, through the real executable.
@Suite struct PrecisionCLITests {
    @Test("compare and rank take --precision; a precision that does not exist is a usage error naming it")
    func precisionFlag() throws {
        let body = #"{"input":"2+2?","candidate_a":"4","candidate_b":"5"}"#
        let (c1, out1, e1) = try Support.run(["compare", "--model", Support.modelDir, "--precision", "fp32"], stdin: body)
        #expect(c1 == 0, "\(e1)")
        let exact = try JSON.parse(Array(out1.utf8))["logit"]
        let (c2, out2, e2) = try Support.run(["compare", "--model", Support.modelDir, "--precision", "int8"], stdin: body)
        if Tensors.Int8Kernel.best != nil {
            #expect(c2 == 0, "\(e2)")
            let approx = try JSON.parse(Array(out2.utf8))["logit"]
            #expect(approx != nil && exact != nil)
        } else {
            #expect(c2 != 0 && e2.contains("AVX512-VNNI"), "\(e2)")
        }
        for args in [["compare", "--model", Support.modelDir, "--precision", "int4"], ["serve", "--model", Support.modelDir, "--precision", "fp16"]] {
            let (code, _, err) = try Support.run(args, stdin: body)
            #expect(code == 64 || code == 2, "\(args): exit \(code)")
            #expect(err.contains("precision") && err.contains(args.last!), "\(args): \(err)")
        }
    }

    @Test("dev bench --int8-kernel times the kernel named, and refuses an unknown, unsupported or fp32 one by name")
    func int8KernelFlag() throws {
        let base = ["dev", "bench", "--model", Support.modelDir, "--lengths", "32", "--mix-instances", "0", "--repeats", "1"]
        for (extra, word) in [(["--precision", "int8", "--int8-kernel", "int4"], "int4"), (["--int8-kernel", "avx512-vnni"], "--precision int8")] {
            let (code, _, err) = try Support.run(base + extra, stdin: "")
            #expect(code == 64 || code == 2, "\(extra): exit \(code)")
            #expect(err.contains(word), "\(extra): \(err)")
        }
        for kernel in Tensors.Int8Kernel.allCases {
            let (code, out, err) = try Support.run(base + ["--precision", "int8", "--int8-kernel", kernel.rawValue], stdin: "")
            if kernel.isSupported {
                #expect(code == 0, "\(kernel.rawValue): \(err)")
                #expect(out.contains("int8 (\(kernel.rawValue))"), "\(kernel.rawValue): the setup line names another kernel: \(out.prefix(300))")
            } else {
                #expect(code != 0 && err.contains("cannot run"), "\(kernel.rawValue): \(err)")
            }
        }
    }

    @Test("dev bench --fp32-kernel times the GEMM named (dense layers and attention under fp32, attention under int8), with the same logits to rounding, and refuses an unknown or unsupported kernel by name")
    func fp32KernelFlag() throws {
        let base = ["dev", "bench", "--model", Support.modelDir, "--lengths", "32,96", "--mix-instances", "0", "--repeats", "1"]
        let (code, _, err) = try Support.run(base + ["--fp32-kernel", "avx2"], stdin: "")
        #expect(code == 64 || code == 2, "avx2: exit \(code)")
        #expect(err.contains("avx2"), "avx2: \(err)")
        if Tensors.Int8Kernel.best != nil {
            // Under int8 it picks attention's kernel; the dense layers stay int8.
            let (code, out, err) = try Support.run(base + ["--precision", "int8", "--fp32-kernel", "openblas"], stdin: "")
            #expect(code == 0, "int8: \(err)")
            #expect(out.contains(#""fp32_kernel":null,"attention_kernel":"openblas""#), "int8: \(out.prefix(400))")
        }
        var logits: [[JSON]] = []
        for kernel in Tensors.FloatKernel.allCases {
            let (code, out, err) = try Support.run(base + ["--fp32-kernel", kernel.rawValue], stdin: "")
            if kernel.isSupported {
                #expect(code == 0, "\(kernel.rawValue): \(err)")
                #expect(out.contains(#""fp32_kernel":"\#(kernel.rawValue)","attention_kernel":"\#(kernel.rawValue)""#),
                        "\(kernel.rawValue): the setup line names another kernel: \(out.prefix(400))")
                let cases = try out.split(separator: "\n").map { try JSON.parse(Array($0.utf8)) }.filter { $0["case"] != nil }
                #expect(cases.count == 2)
                logits.append(cases.compactMap { if case let .array(a)? = $0["logits"] { return a.first } else { return nil } })
            } else {
                #expect(code != 0 && err.contains("cannot run"), "\(kernel.rawValue): \(err)")
            }
        }
        // Both kernels run the same float32 products in another order: rounding apart, no more.
        if logits.count == 2 {
            for (a, b) in zip(logits[0], logits[1]) {
                guard case let .number(x) = a, case let .number(y) = b else { Issue.record("no logits: \(logits)"); continue }
                #expect(abs(x - y) < 1e-4, "avx512 \(x) vs openblas \(y)")
            }
        }
    }

    @Test("dev bench --fp32-kernel avx512,openblas alternates the two models in one process and prints their ratio; a kernel named twice is refused")
    func fp32KernelPair() throws {
        let base = ["dev", "bench", "--model", Support.modelDir, "--lengths", "32,96", "--mix-instances", "0", "--repeats", "3"]
        let (code, _, err) = try Support.run(base + ["--fp32-kernel", "openblas,openblas"], stdin: "")
        #expect(code == 64 || code == 2, "openblas,openblas: exit \(code)")
        #expect(err.contains("at most once"), "openblas,openblas: \(err)")
        guard Tensors.FloatKernel.avx512.isSupported else { return }
        let (ok, out, err2) = try Support.run(base + ["--fp32-kernel", "avx512,openblas"], stdin: "")
        #expect(ok == 0, "\(err2)")
        let lines = try out.split(separator: "\n").map { try JSON.parse(Array($0.utf8)) }
        #expect(lines.filter { $0["event"] == .string("setup") }.count == 2)
        for name in ["L=32", "L=96"] {
            let cases = lines.filter { $0["case"] == .string(name) && $0["event"] == nil }
            #expect(cases.map { $0["attention_kernel"] } == [.string("avx512"), .string("openblas")], "\(name): \(cases)")
            // The same input on both models: logits equal to float32 rounding.
            let logits = cases.compactMap { line -> Double? in
                if case let .array(a)? = line["logits"], case let .number(x)? = a.first { return x } else { return nil }
            }
            #expect(logits.count == 2 && abs(logits[0] - logits[1]) < 1e-4, "\(name): \(logits)")
            let ratio = lines.first { $0["case"] == .string(name) && $0["event"] == .string("kernel_ratio") }
            guard case let .number(r)? = ratio?["second_over_first_median"] else { Issue.record("\(name): no kernel_ratio line"); continue }
            #expect(r > 0 && r.isFinite, "\(name): ratio \(r)")
        }
    }

    @Test("agreement prints its figures for a JSONL file, and names a bad line")
    func agreement() throws {
        guard Tensors.Int8Kernel.best != nil else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agreement-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let lines = Support.instances.map { inst in
            JSON.object([("input", .string(inst.input)), ("candidates", Support.strings(inst.candidates))]).text
        } + [#"{"input":"x","candidate_a":"a","candidate_b":"b"}"#, #"{"input":"one","candidates":["only"]}"#]
        let file = dir.appendingPathComponent("in.jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        let (code, out, err) = try Support.run(["agreement", "--model", Support.modelDir, "--input", file.path, "--json"], stdin: "")
        #expect(code == 0, "\(err)")
        let json = try JSON.parse(Array(out.utf8))
        let pairs = Support.instances.filter { $0.candidates.count >= 2 }.reduce(2) { $0 + $1.candidates.count * ($1.candidates.count - 1) }
        #expect(json["pairs"] == .number(Double(pairs)), "every ordered pair of every line with 2+ candidates")
        for key in ["same_sign", "decisive_same_sign", "same_top1", "same_ranking"] {
            guard case let .number(v)? = json[key] else { Issue.record("\(key) missing"); continue }
            #expect(v >= 0 && v <= 1, "\(key) = \(v)")
        }
        try Data("{\"input\":\"a\",\"candidates\":[\"b\",\"c\"]}\n{\"input\": 3}\n".utf8).write(to: file)
        let (c2, _, e2) = try Support.run(["agreement", "--model", Support.modelDir, "--input", file.path], stdin: "")
        #expect(c2 != 0 && e2.contains("line 2") && e2.contains("\"input\" must be a string"), "\(e2)")
    }
}
