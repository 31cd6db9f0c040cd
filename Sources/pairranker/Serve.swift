import ArgumentParser
import Dispatch
import Foundation
import HTTPServer
import PairRanker
import RankerService
import Tensors

/// `pairranker serve`: every flag has an environment mirror, PAIRRANKER_<FLAG> (a flag given on
/// the command line wins). The effective configuration is printed once at start.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the model over HTTP (see openapi.yaml). Every flag can also be set as PAIRRANKER_<FLAG_NAME>.",
        discussion: "Example: pairranker serve --model Tests/Fixtures/tiny-pair-ranker --port 8080")

    @Option(help: "Model directory or Hugging Face id in the hub cache. [PAIRRANKER_MODEL, default llm-blender/pair-ranker]")
    var model: String?
    @Option(help: "Checkpoint file in the model directory. [PAIRRANKER_WEIGHTS]") var weights: String?
    @Option(help: "Address to listen on (0.0.0.0 or :: for all). [PAIRRANKER_HOST, default 127.0.0.1]") var host: String?
    @Option(help: "Port. [PAIRRANKER_PORT, default 8080]") var port: Int?
    @Option(help: "Bearer token required on the inference routes and /info. [PAIRRANKER_API_KEY]") var apiKey: String?
    @Option(help: "BLAS threads (default: the CPUs this process may use). [PAIRRANKER_THREADS]") var threads: Int?
    @Option(help: "Listen backlog. [PAIRRANKER_BACKLOG, default 512]") var backlog: Int?
    @Option(help: "Open connections at most. [PAIRRANKER_MAX_CONNECTIONS, default 1024]") var maxConnections: Int?
    @Option(help: "Request body bytes at most (413 past it). [PAIRRANKER_MAX_BODY_BYTES, default 4194304]") var maxBodyBytes: Int?
    @Option(help: "Request header bytes at most (431 past it). [PAIRRANKER_MAX_HEADER_BYTES, default 32768]") var maxHeaderBytes: Int?
    @Option(help: "Seconds a keep-alive connection may idle. [PAIRRANKER_IDLE_TIMEOUT, default 60]") var idleTimeout: Double?
    @Option(help: "Seconds to receive a whole request. [PAIRRANKER_READ_TIMEOUT, default 30]") var readTimeout: Double?
    @Option(help: "Seconds a response may wait for the client. [PAIRRANKER_WRITE_TIMEOUT, default 30]") var writeTimeout: Double?
    @Option(help: "Seconds to finish in-flight requests on SIGTERM. [PAIRRANKER_DRAIN_TIMEOUT, default 30]") var drainTimeout: Double?
    @Option(help: "Seconds a request may take before 504 (X-Request-Timeout may lower it). [PAIRRANKER_REQUEST_TIMEOUT, default 120]")
    var requestTimeout: Double?
    @Option(help: "Inputs per request at most. [PAIRRANKER_MAX_INPUTS, default 64]") var maxInputs: Int?
    @Option(help: "Candidates per input at most. [PAIRRANKER_MAX_CANDIDATES, default 32]") var maxCandidates: Int?
    @Option(help: "UTF-8 bytes per text at most. [PAIRRANKER_MAX_TEXT_BYTES, default 65536]") var maxTextBytes: Int?
    @Option(help: "Pair sequences per request at most. [PAIRRANKER_MAX_PAIRS_PER_REQUEST, default 4096]") var maxPairsPerRequest: Int?
    @Option(help: "Threads that run request handlers (each waiting request holds one). [PAIRRANKER_HANDLER_THREADS, default 64]")
    var handlerThreads: Int?
    @Option(help: "Tokens in one batch at most. [PAIRRANKER_MAX_BATCH_TOKENS, default 512]") var maxBatchTokens: Int?
    @Option(help: "Pair sequences in one batch at most. [PAIRRANKER_MAX_BATCH_PAIRS, default 32]") var maxBatchPairs: Int?
    @Option(help: "Milliseconds a batch waits for more pairs. [PAIRRANKER_MAX_WAIT_MS, default 2]") var maxWaitMs: Double?
    @Option(help: "Admitted pairs at most; a request past it gets 429. [PAIRRANKER_MAX_QUEUE_PAIRS, default 4096]") var maxQueuePairs: Int?

    /// flag ?? PAIRRANKER_<NAME> ?? default.
    static func setting<T: LosslessStringConvertible>(_ flag: T?, _ name: String, _ fallback: T) throws -> T {
        if let flag { return flag }
        if let raw = ProcessInfo.processInfo.environment["PAIRRANKER_" + name], !raw.isEmpty {
            guard let v = T(raw) else { throw ValidationError("PAIRRANKER_\(name)=\(raw) is not a valid value") }
            return v
        }
        return fallback
    }

    static func optionalSetting(_ flag: String?, _ name: String) -> String? {
        if let flag { return flag }
        let v = ProcessInfo.processInfo.environment["PAIRRANKER_" + name]
        return v?.isEmpty == false ? v : nil
    }

    func run() throws {
        var server = ServerConfig()
        server.host = try Self.setting(host, "HOST", "127.0.0.1")
        server.port = try Self.setting(port, "PORT", 8080)
        server.backlog = Int32(try Self.setting(backlog, "BACKLOG", 512))
        server.maxConnections = try Self.setting(maxConnections, "MAX_CONNECTIONS", 1024)
        server.limits.maxBodyBytes = try Self.setting(maxBodyBytes, "MAX_BODY_BYTES", 4 << 20)
        server.limits.maxHeaderBytes = try Self.setting(maxHeaderBytes, "MAX_HEADER_BYTES", 32 << 10)
        server.idleTimeout = try Self.setting(idleTimeout, "IDLE_TIMEOUT", 60)
        server.readTimeout = try Self.setting(readTimeout, "READ_TIMEOUT", 30)
        server.writeTimeout = try Self.setting(writeTimeout, "WRITE_TIMEOUT", 30)
        server.drainTimeout = try Self.setting(drainTimeout, "DRAIN_TIMEOUT", 30)
        server.handlerThreads = try Self.setting(handlerThreads, "HANDLER_THREADS", 64)
        guard server.handlerThreads >= 1 else { throw ValidationError("--handler-threads must be at least 1") }
        var limits = ServiceLimits()
        limits.maxInputs = try Self.setting(maxInputs, "MAX_INPUTS", limits.maxInputs)
        limits.maxCandidates = try Self.setting(maxCandidates, "MAX_CANDIDATES", limits.maxCandidates)
        limits.maxTextBytes = try Self.setting(maxTextBytes, "MAX_TEXT_BYTES", limits.maxTextBytes)
        limits.maxPairsPerRequest = try Self.setting(maxPairsPerRequest, "MAX_PAIRS_PER_REQUEST", limits.maxPairsPerRequest)
        var engineConfig = BatchingEngine.Config()
        engineConfig.maxBatchTokens = try Self.setting(maxBatchTokens, "MAX_BATCH_TOKENS", engineConfig.maxBatchTokens)
        engineConfig.maxBatchPairs = try Self.setting(maxBatchPairs, "MAX_BATCH_PAIRS", engineConfig.maxBatchPairs)
        engineConfig.maxWaitMilliseconds = try Self.setting(maxWaitMs, "MAX_WAIT_MS", engineConfig.maxWaitMilliseconds)
        engineConfig.maxQueuePairs = try Self.setting(maxQueuePairs, "MAX_QUEUE_PAIRS", engineConfig.maxQueuePairs)
        guard engineConfig.maxBatchTokens > 0, engineConfig.maxBatchPairs > 0, engineConfig.maxQueuePairs > 0, engineConfig.maxWaitMilliseconds >= 0 else {
            throw ValidationError("batch and queue limits must be positive")
        }
        var settings = RankerHTTPApp.Settings()
        settings.apiKey = Self.optionalSetting(apiKey, "API_KEY")
        settings.requestTimeout = try Self.setting(requestTimeout, "REQUEST_TIMEOUT", 120)
        settings.openapi = OpenAPIDocument.text
        let modelID = try Self.setting(model, "MODEL", ModelLocator.defaultModel)
        let weightsFile = Self.optionalSetting(weights, "WEIGHTS")
        let blasThreads = try Self.setting(threads, "THREADS", ProcessInfo.processInfo.activeProcessorCount)
        guard blasThreads >= 1 else { throw ValidationError("--threads must be at least 1") }
        BLAS.setThreads(blasThreads)
        Parallel.threads = blasThreads

        let log: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        let metrics = Metrics()
        let app = RankerHTTPApp(metrics: metrics, settings: settings, log: log)
        let http = HTTPServer(config: server, log: { log(#"{"level":"warning","msg":\#(JSON.string($0).text)}"#) }, handler: app.handle)
        app.answerProbesInline(on: http)
        let bound = try http.start()
        let config: [(String, JSON)] = [
            ("model", .string(modelID)), ("weights", weightsFile.map(JSON.string) ?? .null), ("host", .string(server.host)),
            ("port", .number(Double(bound))), ("api_key", .string(settings.apiKey == nil ? "off" : "set")),
            ("blas", .string(Pairranker.blasLine)), ("threads", .number(Double(blasThreads))),
            ("max_connections", .number(Double(server.maxConnections))), ("max_body_bytes", .number(Double(server.limits.maxBodyBytes))),
            ("max_header_bytes", .number(Double(server.limits.maxHeaderBytes))), ("idle_timeout", .number(server.idleTimeout)),
            ("read_timeout", .number(server.readTimeout)), ("write_timeout", .number(server.writeTimeout)),
            ("drain_timeout", .number(server.drainTimeout)), ("handler_threads", .number(Double(server.handlerThreads))), ("request_timeout", .number(settings.requestTimeout)),
            ("max_inputs", .number(Double(limits.maxInputs))), ("max_candidates", .number(Double(limits.maxCandidates))),
            ("max_text_bytes", .number(Double(limits.maxTextBytes))), ("max_pairs_per_request", .number(Double(limits.maxPairsPerRequest))),
            ("max_batch_tokens", .number(Double(engineConfig.maxBatchTokens))), ("max_batch_pairs", .number(Double(engineConfig.maxBatchPairs))),
            ("max_wait_ms", .number(engineConfig.maxWaitMilliseconds)), ("max_queue_pairs", .number(Double(engineConfig.maxQueuePairs))),
        ]
        log(#"{"level":"info","msg":"config","config":\#(JSON.object(config).text)}"#)

        // SIGTERM / SIGINT: /ready turns 503, new work is refused, in-flight requests finish.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let stopping = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { stopping.signal() }
            s.resume()
            sources.append(s)
        }

        // Load and warm up while /health already answers; then /ready turns 200.
        let limitsForLoad = limits
        let engineForLoad = engineConfig
        DispatchQueue.global().async {
            do {
                let dir = try ModelLocator.resolve(modelID)
                let m = try PairRankerModel(path: dir, checkpoint: weightsFile)
                if !m.unusedKeys.isEmpty {
                    log(#"{"level":"info","msg":"model.unused_keys","keys":\#(JSON.array(m.unusedKeys.map(JSON.string)).text)}"#)
                }
                let engine = BatchingEngine(model: m, config: engineForLoad, metrics: metrics)
                let service = RankerService(model: m, engine: engine, limits: limitsForLoad)
                let warm = DispatchTime.now().uptimeNanoseconds
                _ = try service.handle(.compare, body: Array(#"{"input":"warm up","candidate_a":"a","candidate_b":"b"}"#.utf8),
                                       context: RequestContext(id: "warmup"))
                app.attach(service: service, info: Self.info(m, modelID: modelID, blasThreads: blasThreads, limits: limitsForLoad,
                                                                engine: engineForLoad))
                app.setReady(true)
                log(#"{"level":"info","msg":"model.ready","model.dir":\#(JSON.string(dir).text),"model.load_ms":\#(Int(m.loadSeconds * 1000)),"warmup_ms":\#((DispatchTime.now().uptimeNanoseconds - warm) / 1_000_000)}"#)
            } catch {
                log(#"{"level":"error","msg":"model.load_failed","error":\#(JSON.string("\(error)").text)}"#)
                Foundation.exit(1)
            }
        }
        stopping.wait()
        log(#"{"level":"info","msg":"shutdown.drain","drain_timeout":\#(server.drainTimeout)}"#)
        app.beginDrain()
        let clean = http.stop()
        log(#"{"level":"info","msg":"shutdown.done","clean":\#(clean)}"#)
        withExtendedLifetime(sources) {}
        Foundation.exit(0)
    }

    static func info(_ m: PairRankerModel, modelID: String, blasThreads: Int, limits: ServiceLimits,
                     engine: BatchingEngine.Config) -> JSON {
        let d = m.directory, b = d.backbone
        return .object([
            ("model", .string(modelID)), ("directory", .string(d.path)), ("checkpoint", .string(d.checkpointPath)),
            ("backbone", .object([("source", .string(d.backboneSource)), ("hidden_size", .number(Double(b.hiddenSize))),
                                  ("num_hidden_layers", .number(Double(b.numHiddenLayers))),
                                  ("num_attention_heads", .number(Double(b.numAttentionHeads))),
                                  ("intermediate_size", .number(Double(b.intermediateSize))), ("vocab_size", .number(Double(b.vocabSize))),
                                  ("position_buckets", .number(Double(b.positionBuckets)))])),
            ("source_max_length", .number(Double(d.ranker.sourceMaxLength))),
            ("candidate_max_length", .number(Double(d.ranker.candidateMaxLength))),
            ("dtype", .string("float32")), ("tokenizer", .string(m.tokenizer.source)),
            ("openblas", .object([("core", .string(BLAS.coreName)), ("threads", .number(Double(blasThreads))), ("config", .string(BLAS.config))])),
            ("limits", .object([("max_inputs", .number(Double(limits.maxInputs))), ("max_candidates", .number(Double(limits.maxCandidates))),
                                ("max_text_bytes", .number(Double(limits.maxTextBytes))),
                                ("max_pairs_per_request", .number(Double(limits.maxPairsPerRequest)))])),
            ("batching", .object([("max_batch_tokens", .number(Double(engine.maxBatchTokens))),
                                  ("max_batch_pairs", .number(Double(engine.maxBatchPairs))),
                                  ("max_wait_ms", .number(engine.maxWaitMilliseconds)),
                                  ("max_queue_pairs", .number(Double(engine.maxQueuePairs)))])),
            ("version", .string(PairrankerVersion.string)),
        ])
    }
}

enum PairrankerVersion { static let string = "0.1.0" }
