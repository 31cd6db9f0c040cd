import ArgumentParser
import DeBERTa
import Dispatch
import Foundation
import HTTPServer
import PairEngine
import PairRanker
import RankerHTTP
import RankerService
import Sync
import Tensors

/// `pairranker serve`. Each setting is declared once, in `ServeSetting.all` (flag, environment
/// mirror PAIRRANKER_<FLAG>, default, range, help); the options below only carry the flag's text
/// to `ServeSettings.resolve`, which checks every value before anything starts.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the model over HTTP (see openapi.yaml). Every flag can also be set as PAIRRANKER_<FLAG_NAME>.",
        discussion: """
            A flag on the command line wins over its variable, which wins over the default. Every value is checked at \
            start: one out of range exits with status 64, naming the setting, the value and what it accepts, before \
            the model is loaded. SIGTERM, SIGINT and SIGHUP drain: /ready turns 503, new work is refused, in-flight \
            requests finish (at most --drain-timeout), exit 0.
            Example: pairranker serve --model Tests/Fixtures/tiny-pair-ranker --port 8080
            """)

    static func help(_ flag: String) -> ArgumentHelp {
        ArgumentHelp(ServeSetting.named(flag).help, valueName: flag)
    }

    @Option(name: .customLong("model"), parsing: .unconditional, help: Self.help("model")) var model: String?
    @Option(name: .customLong("weights"), parsing: .unconditional, help: Self.help("weights")) var weights: String?
    @Option(name: .customLong("host"), parsing: .unconditional, help: Self.help("host")) var host: String?
    @Option(name: .customLong("port"), parsing: .unconditional, help: Self.help("port")) var port: String?
    @Option(name: .customLong("api-key"), parsing: .unconditional, help: Self.help("api-key")) var apiKey: String?
    @Option(name: .customLong("threads"), parsing: .unconditional, help: Self.help("threads")) var threads: String?
    @Option(name: .customLong("backlog"), parsing: .unconditional, help: Self.help("backlog")) var backlog: String?
    @Option(name: .customLong("max-connections"), parsing: .unconditional, help: Self.help("max-connections")) var maxConnections: String?
    @Option(name: .customLong("max-body-bytes"), parsing: .unconditional, help: Self.help("max-body-bytes")) var maxBodyBytes: String?
    @Option(name: .customLong("max-header-bytes"), parsing: .unconditional, help: Self.help("max-header-bytes")) var maxHeaderBytes: String?
    @Option(name: .customLong("max-buffered-request-bytes"), parsing: .unconditional, help: Self.help("max-buffered-request-bytes")) var maxBufferedRequestBytes: String?
    @Option(name: .customLong("idle-timeout"), parsing: .unconditional, help: Self.help("idle-timeout")) var idleTimeout: String?
    @Option(name: .customLong("read-timeout"), parsing: .unconditional, help: Self.help("read-timeout")) var readTimeout: String?
    @Option(name: .customLong("write-timeout"), parsing: .unconditional, help: Self.help("write-timeout")) var writeTimeout: String?
    @Option(name: .customLong("drain-timeout"), parsing: .unconditional, help: Self.help("drain-timeout")) var drainTimeout: String?
    @Option(name: .customLong("request-timeout"), parsing: .unconditional, help: Self.help("request-timeout")) var requestTimeout: String?
    @Option(name: .customLong("max-inputs"), parsing: .unconditional, help: Self.help("max-inputs")) var maxInputs: String?
    @Option(name: .customLong("max-candidates"), parsing: .unconditional, help: Self.help("max-candidates")) var maxCandidates: String?
    @Option(name: .customLong("max-text-bytes"), parsing: .unconditional, help: Self.help("max-text-bytes")) var maxTextBytes: String?
    @Option(name: .customLong("max-pairs-per-request"), parsing: .unconditional, help: Self.help("max-pairs-per-request")) var maxPairsPerRequest: String?
    @Option(name: .customLong("handler-threads"), parsing: .unconditional, help: Self.help("handler-threads")) var handlerThreads: String?
    @Option(name: .customLong("max-batch-tokens"), parsing: .unconditional, help: Self.help("max-batch-tokens")) var maxBatchTokens: String?
    @Option(name: .customLong("max-batch-pairs"), parsing: .unconditional, help: Self.help("max-batch-pairs")) var maxBatchPairs: String?
    @Option(name: .customLong("max-wait-ms"), parsing: .unconditional, help: Self.help("max-wait-ms")) var maxWaitMs: String?
    @Option(name: .customLong("max-queue-pairs"), parsing: .unconditional, help: Self.help("max-queue-pairs")) var maxQueuePairs: String?
    @Option(name: .customLong("cache-mb"), parsing: .unconditional, help: Self.help("cache-mb")) var cacheMb: String?
    @Option(name: .customLong("precision"), parsing: .unconditional, help: Self.help("precision")) var precision: String?

    /// The flags given on the command line, by flag name, as typed.
    var flags: [String: String] {
        let given: [(String, String?)] = [
            ("model", model),
            ("weights", weights),
            ("host", host),
            ("port", port),
            ("api-key", apiKey),
            ("threads", threads),
            ("backlog", backlog),
            ("max-connections", maxConnections),
            ("max-body-bytes", maxBodyBytes),
            ("max-header-bytes", maxHeaderBytes),
            ("max-buffered-request-bytes", maxBufferedRequestBytes),
            ("idle-timeout", idleTimeout),
            ("read-timeout", readTimeout),
            ("write-timeout", writeTimeout),
            ("drain-timeout", drainTimeout),
            ("request-timeout", requestTimeout),
            ("max-inputs", maxInputs),
            ("max-candidates", maxCandidates),
            ("max-text-bytes", maxTextBytes),
            ("max-pairs-per-request", maxPairsPerRequest),
            ("handler-threads", handlerThreads),
            ("max-batch-tokens", maxBatchTokens),
            ("max-batch-pairs", maxBatchPairs),
            ("max-wait-ms", maxWaitMs),
            ("max-queue-pairs", maxQueuePairs),
            ("cache-mb", cacheMb),
            ("precision", precision),
        ]
        return Dictionary(given.compactMap { f, v in v.map { (f, $0) } }, uniquingKeysWith: { $1 })
    }

    func settings(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServeSettings {
        do {
            return try ServeSettings.resolve(flags: flags, environment: environment, cpus: ProcessInfo.processInfo.activeProcessorCount)
        } catch {
            throw ValidationError(error.message)
        }
    }

    /// Runs while the arguments are parsed: a bad setting exits 64 before anything starts.
    func validate() throws { _ = try settings() }

    func run() throws {
        let s = try settings()
        let log = Logger.standardError
        // Signals first: one arriving while the listener starts or the model loads drains too.
        let stopping = Self.drainSignals()
        BLAS.setThreads(s.threads)
        Parallel.threads = s.threads
        MallocSetup.capArenas(cpus: s.threads)

        let metrics = Metrics()
        var appSettings = s.appSettings
        appSettings.openapi = OpenAPIDocument.text
        let app = RankerHTTPApp(metrics: metrics, settings: appSettings, log: { line in FileHandle.standardError.write(Data((line + "\n").utf8)) })
        // The HTTP layer's own events (accept errors, write and drain timeouts) as warnings.
        let http = HTTPServer(config: s.serverConfig, log: { log(.warning, $0) }, handler: app.handle)
        app.install(on: http)
        let bound: Int
        do { bound = try http.start() } catch {
            throw StartError(message: "--host \(s.host) --port \(s.port): cannot listen: \(error)")
        }
        var config = s.logFields.map { k, v in k == "port" ? (k, JSON.number(Double(bound))) : (k, v) }
        config.insert(("blas", .string(Pairranker.blasLine)), at: 5)
        log(.info, "config", ("config", .object(config)))

        // Load and warm up while /health already answers; then /ready turns 200.
        DispatchQueue.global().async {
            do {
                let dir = try ModelLocator.resolve(s.model)
                let m = try PairRankerModel(path: dir, checkpoint: s.weights, precision: try Precision.named(s.precision))
                if !m.unusedKeys.isEmpty {
                    log(.info, "model.unused_keys", ("keys", .array(m.unusedKeys.map(JSON.string))))
                }
                let engine = BatchingEngine(model: m, config: s.engineConfig, metrics: metrics)
                let cache = s.cacheMb > 0 ? ScoreCache(capacityBytes: s.cacheMb << 20) : nil
                if let cache { Self.register(cache, in: metrics) }
                metrics.info("pairranker_build_info", labels: [("version", PairrankerVersion.string), ("openblas_core", BLAS.coreName),
                                                               ("gemm_rows", m.gemmRows.rawValue), ("kernels", CPUCheck.level),
                                                               ("precision", m.precision.name)])
                let service = RankerService(model: m, engine: engine, limits: s.serviceLimits, cache: cache)
                let warm = DispatchTime.now().uptimeNanoseconds
                _ = try service.handle(.compare, body: Array(#"{"input":"warm up","candidate_a":"a","candidate_b":"b"}"#.utf8),
                                       context: RequestContext(id: "warmup"))
                app.attach(service: service, info: Self.info(m, settings: s))
                app.setReady(true)
                log(.info, "model.ready", ("model.dir", .string(dir)), ("model.load_ms", .number(Double(Int(m.loadSeconds * 1000)))),
                    ("precision", .string(m.precision.description)), ("fp32_kernel", m.floatKernel.map { .string($0.rawValue) } ?? .null),
                    ("attention_kernel", .string(m.attentionKernel.rawValue)),
                    ("warmup_ms", .number(Double((DispatchTime.now().uptimeNanoseconds - warm) / 1_000_000))))
            } catch {
                log(.error, "model.load_failed", ("error", .string("\(error)")))
                Foundation.exit(1)
            }
        }
        let signalName = stopping.wait()
        log(.info, "shutdown.drain", ("signal", .string(signalName)), ("drain_timeout", .number(s.drainTimeout)))
        app.beginDrain()
        let clean = http.stop()
        log(.info, "shutdown.done", ("clean", .bool(clean)))
        Foundation.exit(0)
    }

    /// The score cache's counters and sizes in /metrics (read at scrape time, no Metrics lock held).
    static func register(_ cache: ScoreCache, in metrics: Metrics) {
        metrics.counter("pairranker_cache_hits_total", read: { Double(cache.stats.hits) })
        metrics.counter("pairranker_cache_misses_total", read: { Double(cache.stats.misses) })
        metrics.counter("pairranker_cache_evictions_total", read: { Double(cache.stats.evictions) })
        metrics.gauge("pairranker_cache_entries") { Double(cache.stats.entries) }
        metrics.gauge("pairranker_cache_bytes") { Double(cache.stats.bytes) }
        metrics.gauge("pairranker_cache_capacity_bytes") { Double(cache.capacityBytes) }
    }

    /// SIGTERM, SIGINT and SIGHUP all start a graceful drain. SIGHUP is not ignored: a closed
    /// terminal or a supervisor's hang-up still stops the server, but without losing the
    /// requests in flight (its default action killed the process at once).
    // @unchecked only for `sources` (Dispatch's sources are not Sendable): `drainSignals()`
    // fills it before it returns the object, and nothing touches it after.
    final class DrainSignals: @unchecked Sendable {
        /// A one-shot completion signal: `fire` signals it once, for the first signal to arrive;
        /// `wait` waits for it.
        private let semaphore = DispatchSemaphore(value: 0)
        /// Guards the first signal's name; a leaf lock.
        private let first = Locked<String?>(nil)
        /// The signal sources, kept here so they live as long as this object.
        fileprivate var sources: [DispatchSourceSignal] = []

        fileprivate func fire(_ name: String) {
            let isFirst: Bool = first.withLock { first in
                if first != nil { return false }
                first = name
                return true
            }
            if isFirst { semaphore.signal() }
        }

        /// Blocks until one of the signals arrives; returns its name.
        func wait() -> String {
            semaphore.wait()
            return first.withLock { $0 ?? "" }
        }
    }

    static let drainSignalNames: [(Int32, String)] = [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT"), (SIGHUP, "SIGHUP")]

    static func drainSignals() -> DrainSignals {
        let d = DrainSignals()
        for (sig, name) in drainSignalNames {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { d.fire(name) }
            source.resume()
            d.sources.append(source)
        }
        return d
    }

    /// The /info body, from the same resolved settings as the start-up log.
    static func info(_ m: PairRankerModel, settings s: ServeSettings) -> JSON {
        let modelID = s.model, blasThreads = s.threads, limits = s.serviceLimits, engine = s.engineConfig
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
            ("dtype", .string("float32")), ("precision", .string(m.precision.name)),
            ("int8_kernel", { if case let .int8(k) = m.precision { return .string(k.rawValue) } else { return .null } }()),
            ("fp32_kernel", m.floatKernel.map { .string($0.rawValue) } ?? .null),
            ("attention_kernel", .string(m.attentionKernel.rawValue)),
            ("tokenizer", .string(m.tokenizer.source)),
            ("openblas", .object([("core", .string(BLAS.coreName)), ("threads", .number(Double(blasThreads))), ("config", .string(BLAS.config)),
                                  ("gemm_rows", .string(m.gemmRows.rawValue))])),
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

/// A failure to start that is not a bad value (the address is taken, the host does not resolve).
struct StartError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

enum PairrankerVersion { static let string = "0.1.0" }
