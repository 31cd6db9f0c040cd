import ArgumentParser
import DeBERTa
import Foundation
import PairRanker
import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// `pairranker dev bench`: forward-pass throughput on pair sequences of fixed total lengths and on a
/// realistic mix, the achieved GFLOP/s against an sgemm peak measured in the same process, model
/// load time and peak RSS. `scripts/bench/run_bench.py` runs it beside PyTorch on the same
/// weights and inputs (`--dump-inputs`).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmark the pair forward pass; prints one JSON line per case.")

    @Option(help: "Model directory.") var model: String
    @Option(help: "Checkpoint file in the model directory.") var weights: String?
    @Option(help: "Total pair lengths to time, comma-separated.") var lengths = "128,256,384"
    @Option(help: "Timed repetitions per case (the median is reported).") var repeats = 3
    @Option(help: "Instances (prompts) in the realistic mix (0: skip it).") var mixInstances = 8
    @Option(help: "Candidates per instance in the mix; every ordered pair is one sequence.") var mixCandidates = 2
    @Option(help: "Instances per forward on the reference side (llm-blender rank()'s batch_size).") var referenceBatchSize = 8
    @Option(help: "Token budget of a batch in the mix on our side (as the engine cuts them).") var batchTokens = 1024
    @Option(help: "BLAS threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Write the benchmark's inputs (token ids) as JSON for the reference side.") var dumpInputs: String?
    @Option(help: "Seed for the inputs.") var seed: UInt64 = 7
    @Option(help: "Sequences per forward in the fixed-length cases, comma-separated (1,4 adds L=384x4 beside L=384).")
    var batchSizes = "1"
    @Option(help: "fp32 (exact) or int8 (approximate; needs AVX512-VNNI or AVX-VNNI).") var precision = "fp32"
    @Option(help: "Under int8, the integer kernel to time instead of the fastest this CPU has (amx, avx512-vnni, avx-vnni, avx512-vnni-ymm).")
    var int8Kernel: String?
    @Option(help: "The float32 GEMM to time instead of the fastest this CPU has (avx512, openblas): the dense layers' under fp32, attention's products under either precision. Two, comma-separated, load a model for each and alternate their forwards in one process (a comparison immune to the machine's drift).")
    var fp32Kernel: String?

    /// `batches`: how we run the pairs; `referenceBatches`: how llm-blender would (padded to the longest).
    struct Case { let name: String; let pairs: [PairSequence]; let batches: [[Int]]; let referenceBatches: [[Int]] }

    func validate() throws {
        guard repeats > 0, threads > 0, batchTokens > 0, referenceBatchSize > 0 else {
            throw ValidationError("--repeats, --threads, --batch-tokens and --reference-batch-size must be positive")
        }
        guard Precision.names.contains(precision) else { throw ValidationError("--precision must be fp32 or int8, not '\(precision)'") }
        if let int8Kernel {
            guard precision == "int8", let kernel = Int8Kernel(rawValue: int8Kernel) else {
                throw ValidationError("--int8-kernel takes --precision int8 and one of \(Int8Kernel.allCases.map(\.rawValue).joined(separator: ", ")), not '\(int8Kernel)'")
            }
            guard kernel.isSupported else { throw ValidationError("--int8-kernel \(int8Kernel): this CPU cannot run it") }
        }
        if let fp32Kernel {
            let names = fp32Kernel.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            for name in names {
                guard let kernel = FloatKernel(rawValue: name) else {
                    throw ValidationError("--fp32-kernel takes one of \(FloatKernel.allCases.map(\.rawValue).joined(separator: ", ")) or two of them comma-separated, not '\(fp32Kernel)'")
                }
                guard kernel.isSupported else { throw ValidationError("--fp32-kernel \(name): this CPU cannot run it") }
            }
            guard Set(names).count == names.count else {
                throw ValidationError("--fp32-kernel names each kernel at most once, not '\(fp32Kernel)'")
            }
        }
        guard !parsedBatchSizes.isEmpty, parsedBatchSizes.allSatisfy({ $0 > 0 && $0 <= 64 }) else {
            throw ValidationError("--batch-sizes must be a comma-separated list of sizes from 1 to 64")
        }
        guard mixInstances >= 0, mixCandidates >= 0 else {
            throw ValidationError("--mix-instances and --mix-candidates must not be negative")
        }
    }

    var parsedBatchSizes: [Int] { batchSizes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) ?? 0 } }

    func run() throws {
        BLAS.setThreads(threads)
        Parallel.threads = threads
        let kernels: [FloatKernel?] = fp32Kernel.map { $0.split(separator: ",").compactMap { FloatKernel(rawValue: String($0)) } } ?? [nil]
        let path = try ModelLocator.resolve(model)
        let precision = try int8Kernel.flatMap(Int8Kernel.init(rawValue:)).map(Precision.int8) ?? Precision.named(self.precision)
        var models: [(model: PairRankerModel, loadSeconds: Double)] = []
        for kernel in kernels {
            if let kernel { FloatKernel.active = kernel }
            let loadStart = Date()
            let m = try PairRankerModel(path: path, checkpoint: weights, precision: precision)
            models.append((m, Date().timeIntervalSince(loadStart)))
        }
        let m = models[0].model
        let cfg = m.directory.backbone
        var rng = SplitMix64(seed: seed)
        func next(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        let t = m.assembler.tokens
        let vocab = min(cfg.vocabSize, m.tokenizer.vocabularySize)
        func segment(_ prefix: Int32, _ n: Int) -> [Int32] {
            [t.cls, prefix] + (0..<max(0, n - 3)).map { _ in Int32(5 + next(vocab - 10)) } + [t.sep]
        }
        func pair(_ s: Int, _ a: Int, _ b: Int) -> PairSequence {
            m.assembler.pair(source: segment(t.source, s), left: segment(t.candidate, a), right: segment(t.candidate, b))
        }
        var cases: [Case] = []
        for l in lengths.split(separator: ",").compactMap({ Int($0) }) {
            let s = l / 3, a = (l - s) / 2
            for b in parsedBatchSizes {
                // b different sequences of one length (identical ones would be computed once).
                let pairs = (0..<b).map { _ in pair(s, a, l - s - a) }
                cases.append(Case(name: b == 1 ? "L=\(l)" : "L=\(l)x\(b)", pairs: pairs, batches: [Array(0..<b)],
                                  referenceBatches: [Array(0..<b)]))
            }
        }
        if mixInstances > 0 && mixCandidates > 1 {
            // A rank() workload as llm-blender runs it: instances of a short prompt (20-60 tokens)
            // and N candidates (20-300 tokens); every ordered pair (i, j) of an instance is one
            // sequence. llm-blender collates `referenceBatchSize` instances per DataLoader batch
            // (rank()'s batch_size, 8): a candidate's budget uses the longest source of that
            // batch (docs/model.md §1), and each (i, j) is one forward over the batch's instances,
            // right-padded to the longest. We cut the same sequences, instance by instance, into
            // batches of at most `batchTokens` tokens, as the serving engine does.
            let sMax = m.assembler.sourceMaxLength, cMax = m.assembler.candidateMaxLength
            var pairs: [PairSequence] = [], referenceBatches: [[Int]] = []
            var index: [[[Int]]] = []   // index[instance][i][j] = position in `pairs`
            for first in stride(from: 0, to: mixInstances, by: referenceBatchSize) {
                let members = first..<min(mixInstances, first + referenceBatchSize)
                let sources = members.map { _ in min(sMax, 20 + next(41)) }
                let budget = cMax + (sMax - sources.max()!) / 2
                for (k, _) in members.enumerated() {
                    let src = segment(t.source, sources[k])
                    let cands = (0..<mixCandidates).map { _ in segment(t.candidate, min(budget, 20 + next(281))) }
                    var grid = Array(repeating: Array(repeating: -1, count: mixCandidates), count: mixCandidates)
                    for i in 0..<mixCandidates { for j in 0..<mixCandidates where i != j {
                        grid[i][j] = pairs.count
                        pairs.append(m.assembler.pair(source: src, left: cands[i], right: cands[j]))
                    } }
                    index.append(grid)
                }
                for i in 0..<mixCandidates { for j in 0..<mixCandidates where i != j {
                    referenceBatches.append(members.map { index[$0][i][j] })
                } }
            }
            var batches: [[Int]] = [], current: [Int] = [], tokens = 0
            for (i, p) in pairs.enumerated() {
                if !current.isEmpty && tokens + p.ids.count > batchTokens { batches.append(current); current = []; tokens = 0 }
                current.append(i)
                tokens += p.ids.count
            }
            if !current.isEmpty { batches.append(current) }
            cases.append(Case(name: "mix", pairs: pairs, batches: batches, referenceBatches: referenceBatches))
        }
        if let dumpInputs {
            let json = "[" + cases.map { c in
                "{\"case\":\"\(c.name)\",\"pairs\":[" + c.pairs.map { p in
                    "{\"ids\":[\(p.ids.map(String.init).joined(separator: ","))],\"pooled\":[\(p.sourcePosition),\(p.leftPosition),\(p.rightPosition)]}"
                }.joined(separator: ",") + "],\"batches\":[" + c.referenceBatches.map { "[\($0.map(String.init).joined(separator: ","))]" }.joined(separator: ",") + "]}"
            }.joined(separator: ",") + "]"
            try Data(json.utf8).write(to: URL(fileURLWithPath: dumpInputs))
        }
        let peak = Self.sgemmPeak()
        func kernelFields(_ m: PairRankerModel) -> String {
            #""fp32_kernel":\#(m.floatKernel.map { "\"\($0.rawValue)\"" } ?? "null"),"attention_kernel":"\#(m.attentionKernel.rawValue)""#
        }
        for (m, loadSeconds) in models {
            print(#"{"impl":"pairranker","event":"setup","load_seconds":\#(loadSeconds),"sgemm_peak_gflops":\#(peak),"threads":\#(threads),"openblas_core":"\#(BLAS.coreName)","precision":"\#(m.precision)",\#(kernelFields(m)),"dense_weight_mb":\#(Double(m.backbone.denseWeightBytes) / 1_048_576)}"#)
        }
        for c in cases {
            var times = Array(repeating: [Double](), count: models.count)
            var logits = Array(repeating: [Float](), count: models.count)
            for (m, _) in models { _ = try m.logits(c.batches[0].map { c.pairs[$0] }) }  // warm-up
            for r in 0..<repeats {
                // With two models, each repeat runs both, in alternating order.
                for k in (r % 2 == 0 ? Array(models.indices) : models.indices.reversed()) {
                    let start = DispatchTime.now().uptimeNanoseconds
                    logits[k] = []
                    for b in c.batches { logits[k] += try models[k].model.logits(b.map { c.pairs[$0] }) }
                    times[k].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                }
            }
            for k in models.indices {
                let t = times[k].sorted()
                let median = t[t.count / 2]
                let flops = c.pairs.reduce(0.0) { $0 + Self.requiredFlops(cfg, length: $1.ids.count) }
                let tokens = c.pairs.reduce(0) { $0 + $1.ids.count }
                let which = models.count > 1 ? kernelFields(models[k].model) + "," : ""
                print(#"{"impl":"pairranker","case":"\#(c.name)",\#(which)"pairs":\#(c.pairs.count),"tokens":\#(tokens),"median_seconds":\#(median),"min_seconds":\#(t.first!),"max_seconds":\#(t.last!),"pairs_per_second":\#(Double(c.pairs.count) / median),"gflops":\#(flops / median / 1e9),"fraction_of_peak":\#(flops / median / 1e9 / peak),"logits":[\#(logits[k].map { "\($0)" }.joined(separator: ","))]}"#)
            }
            if models.count == 2 {
                // Per repeat, the second model's time over the first's: the comparison itself.
                let ratios = zip(times[0], times[1]).map { $1 / $0 }.sorted()
                print(#"{"impl":"pairranker","case":"\#(c.name)","event":"kernel_ratio","second_over_first_median":\#(ratios[ratios.count / 2]),"min":\#(ratios.first!),"max":\#(ratios.last!)}"#)
            }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(#"{"impl":"pairranker","event":"done","peak_rss_mb":\#(Double(usage.ru_maxrss) / 1024)}"#)
    }

    /// FLOPs a forward must do: the dense projections, and per head the content scores, the two
    /// position terms (one dot product per (query, key) each) and the weighted sum of values. The
    /// head reads three rows per pair, so the last layer must do only keys and values for every
    /// token and the rest for those three rows.
    static func requiredFlops(_ c: DebertaV2Config, length l: Int) -> Double {
        let h = Double(c.hiddenSize), i = Double(c.intermediateSize), t = Double(l), kept = 3.0
        func layer(queries q: Double) -> Double {
            2 * t * 2 * h * h                     // keys and values
                + 2 * q * (2 * h * h + 2 * h * i) // query, output projection, feed-forward
                + 4 * 2 * q * t * h               // c2c, c2p, p2c, P·V over all heads
        }
        return Double(c.numHiddenLayers - 1) * layer(queries: t) + layer(queries: min(kept, t))
    }

    /// sgemm GFLOP/s on the model's largest dense shape (384 × 1024 · 1024 × 4096).
    static func sgemmPeak() -> Double {
        let m = 384, k = 1024, n = 4096
        let a = FloatBuffer(count: m * k), b = FloatBuffer(count: n * k), c = FloatBuffer(count: m * n)
        for i in 0..<(m * k) { a.pointer[i] = Float(i % 7) * 0.01 }
        for i in 0..<(n * k) { b.pointer[i] = Float(i % 5) * 0.01 }
        BLAS.gemm(transB: true, m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: k, c: c.pointer, ldc: n)
        var best = 0.0
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<4 { BLAS.gemm(transB: true, m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: k, c: c.pointer, ldc: n) }
            let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, 4 * 2 * Double(m * n * k) / s / 1e9)
        }
        return best
    }
}
