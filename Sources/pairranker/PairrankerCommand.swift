import ArgumentParser
import DeBERTa
import Foundation
import PairEngine
import PairRanker
import RankerService
import Tensors

@main
struct Pairranker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pairranker",
        abstract: "Serve and run the LLM-Blender PairRanker (DeBERTa-v3 pairwise reward model) on CPU.",
        subcommands: [Serve.self, Compare.self, Rank.self, Tokenize.self, Info.self, AgreementCommand.self, Download.self, Version.self, Dev.self])

    static func main() {
        CPUCheck.requireBuildLevel()   // before any code of the numeric modules runs
        blasLine = OpenBLASSetup.ensureCore() + ", kernels built for \(CPUCheck.level), " + OpenBLASSetup.gemmRowsLine
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }

    nonisolated(unsafe) static var blasLine = ""
}

struct ModelOptions: ParsableArguments {
    @Option(help: "Model directory, or a Hugging Face id found in the hub cache.")
    var model: String = ModelLocator.defaultModel

    @Option(help: "Checkpoint file inside the model directory (default: model.safetensors, else pytorch_model.bin).")
    var weights: String?

    @Option(help: "fp32 (exact) or int8 (approximate; needs AVX512-VNNI or AVX-VNNI; see `pairranker agreement`).")
    var precision = "fp32"

    func validate() throws {
        guard Precision.names.contains(precision) else { throw ValidationError("--precision must be fp32 or int8, not '\(precision)'") }
    }

    func load() throws -> PairRankerModel {
        let dir = try ModelLocator.resolve(model)
        return try PairRankerModel(path: dir, checkpoint: weights, precision: try Precision.named(precision))
    }
}

/// Reads one request body from --input or stdin, answers it through the same code as the HTTP
/// route, and prints the response body.
protocol RouteCommand: ParsableCommand {
    static var route: RankerService.Route { get }
    var options: ModelOptions { get }
    var input: String? { get }
}

extension RouteCommand {
    func run() throws { try runRoute() }

    func runRoute() throws {
        let body: Data
        if let input {
            guard let d = FileManager.default.contents(atPath: input) else { throw ValidationError("--input \(input): cannot read the file") }
            body = d
        } else {
            body = FileHandle.standardInput.readDataToEndOfFile()
        }
        let model = try options.load()
        let service = RankerService(model: model, engine: DirectEngine(model: model))
        do {
            let out = try service.handle(Self.route, body: [UInt8](body), context: RequestContext(id: "cli"))
            print(out.text)
        } catch let e as APIError {
            FileHandle.standardError.write(Data("error: \(e.message)\n".utf8))
            throw ExitCode(e.status.code == 500 ? 1 : 2)
        }
    }
}

struct Compare: RouteCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two candidates: reads a /compare request body, prints the response.",
        discussion: #"Example: echo '{"input":"2+2?","candidate_a":"4","candidate_b":"5"}' | pairranker compare --model DIR"#)
    static let route = RankerService.Route.compare
    @OptionGroup var options: ModelOptions
    @Option(help: "Request body file (default: stdin).") var input: String?
}

struct Rank: RouteCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rank candidates: reads a /rank request body, prints the response; or ranks a JSONL file with --output.",
        discussion: #"""
            Example: echo '{"input":"2+2?","candidates":["4","5"]}' | pairranker rank --model DIR
            Offline: pairranker rank --model DIR --input prompts.jsonl --output ranked.jsonl [--resume]
              (one /rank single-form object per line in, one response per line out, same order;
              a bad line gets {"line": N, "error": ...} and a message on stderr)
            Sharded: --shard I/N ranks the I-th of N contiguous slices of the input (in a Kubernetes
              Indexed Job it defaults to JOB_COMPLETION_INDEX/PAIRRANKER_SHARD_COUNT); the shards'
              outputs concatenated in index order are the single run's output.
            """#)
    static let route = RankerService.Route.rank
    @OptionGroup var options: ModelOptions
    @Option(help: "Request body file (default: stdin), or the JSONL input with --output.") var input: String?
    @Option(help: "Rank a JSONL file line by line into this file.") var output: String?
    @Flag(help: "With --output: keep the lines already in the output and continue after them.") var resume = false
    @Flag(help: "With --output: stop at the first bad line.") var failFast = false
    @Option(help: "With --output: lines in flight at once (their pairs share batches).") var inFlight = 8
    @Option(help: "With --output: tokens in one batch at most. Offline, no one waits on a single line, so batches are larger than the server's default 512: each batch pays a fixed per-layer cost (BENCHMARKS.md).")
    var batchTokens = 2048
    @Option(help: "With --output: rank only shard INDEX/COUNT of the input (default: JOB_COMPLETION_INDEX/PAIRRANKER_SHARD_COUNT when set, else all).")
    var shard: String?

    func validate() throws {
        guard batchTokens > 0 else { throw ValidationError("--batch-tokens must be positive") }
        if shard != nil, output == nil { throw ValidationError("--shard needs --output (it slices a JSONL input)") }
        if output != nil { _ = try Shard.resolve(flag: shard, environment: ProcessInfo.processInfo.environment) }
    }

    func run() throws {
        guard let output else { return try runRoute() }
        guard let input else { throw ValidationError("--output needs --input FILE (JSONL)") }
        let model = try options.load()
        var config = BatchingEngine.Config()
        config.maxBatchTokens = batchTokens
        let engine = BatchingEngine(model: model, config: config)
        defer { engine.shutdown() }
        var limits = ServiceLimits()
        limits.maxPairsPerRequest = 1 << 20
        try BatchRank(service: RankerService(model: model, engine: engine, limits: limits), input: input, output: output,
                      resume: resume, failFast: failFast, inFlight: inFlight,
                      shard: try Shard.resolve(flag: shard, environment: ProcessInfo.processInfo.environment)).run()
    }
}

struct Tokenize: RouteCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenize a text or assemble a pair: reads a /tokenize request body, prints the response.")
    static let route = RankerService.Route.tokenize
    @OptionGroup var options: ModelOptions
    @Option(help: "Request body file (default: stdin).") var input: String?
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Load a model and print what was loaded and how it will run.")
    @OptionGroup var options: ModelOptions

    func run() throws {
        let m = try options.load()
        let d = m.directory
        print("model: \(d.path)")
        print("checkpoint: \(d.checkpointPath) (loaded in \(String(format: "%.2f", m.loadSeconds)) s)")
        print("backbone: \(d.backboneSource): \(d.backbone.numHiddenLayers) layers, hidden \(d.backbone.hiddenSize), "
              + "\(d.backbone.numAttentionHeads) heads, vocab \(d.backbone.vocabSize)")
        print("lengths: source \(d.ranker.sourceMaxLength), candidate \(d.ranker.candidateMaxLength), pair \(d.ranker.maxSequenceLength)")
        print("tokenizer: \(m.tokenizer.source)")
        print("unused checkpoint keys: \(m.unusedKeys.isEmpty ? "none" : m.unusedKeys.joined(separator: ", "))")
        print(Pairranker.blasLine)
    }
}

/// The developer tools (benchmarks, the load generator, random models, the BLAS core probe),
/// kept apart from the commands a user of the service runs.
struct Dev: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Developer tools: benchmarks, the load generator, random models, the OpenBLAS core probe.",
        subcommands: [Bench.self, Load.self, MakeRandomModel.self, BenchTokenizer.self, BlasCore.self])
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print pairranker's version.")
    func run() throws { print("pairranker \(PairrankerVersion.string)") }
}

struct BlasCore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blas-core",
        abstract: "Print the OpenBLAS kernel family pairranker runs on this CPU (after its start-up choice).",
        discussion: """
            The test command exports this as OPENBLAS_CORETYPE for the test processes, which do not
            make the choice themselves. --tested lists the kernel families the test command checks the
            goldens and batch invariance under that this CPU can run.
            """)
    @Flag(help: "List the tested kernel families this CPU can run, one per line.") var tested = false

    func run() throws {
        if tested {
            let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
            for core in OpenBLASCore.runnable(flags: OpenBLASCore.flags(cpuinfo: cpuinfo)) { print(core) }
        } else {
            print(BLAS.coreName)
        }
    }
}
