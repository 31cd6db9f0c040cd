import DeBERTa
import HTTPServer
import PairEngine
import RankerHTTP
import RankerService

/// The resolved configuration of `pairranker serve`: one value per setting. Defaults live here
/// only; `ServeSetting.all` says, once per setting, its flag, environment mirror, range and help.
struct ServeSettings: Equatable, Sendable {
    var model = ModelLocator.defaultModel
    var weights: String? = nil
    var host = "127.0.0.1"
    var port = 8080
    var apiKey: String? = nil
    var threads: Int
    var backlog = 512
    var maxConnections = 1024
    var maxBodyBytes = 4 << 20
    var maxHeaderBytes = 32 << 10
    var maxBufferedRequestBytes = ServerConfig().maxBufferedRequestBytes
    var idleTimeout = 60.0
    var readTimeout = 30.0
    var writeTimeout = 30.0
    var drainTimeout = 30.0
    var requestTimeout = 120.0
    var maxInputs = ServiceLimits().maxInputs
    var maxCandidates = ServiceLimits().maxCandidates
    var maxTextBytes = ServiceLimits().maxTextBytes
    var maxPairsPerRequest = ServiceLimits().maxPairsPerRequest
    var handlerThreads = 64
    var maxBatchTokens = BatchingEngine.Config().maxBatchTokens
    var maxBatchPairs = BatchingEngine.Config().maxBatchPairs
    var maxWaitMs = BatchingEngine.Config().maxWaitMilliseconds
    var maxQueuePairs = BatchingEngine.Config().maxQueuePairs
    var cacheMb = 64
    var precision = "fp32"

    /// The defaults; BLAS threads default to the CPUs this process may use (`cpus`).
    init(cpus: Int) { threads = min(max(cpus, 1), ServeSetting.maxThreads) }

    var serverConfig: ServerConfig {
        var c = ServerConfig()
        c.host = host
        c.port = port
        c.backlog = Int32(clamping: backlog)
        c.maxConnections = maxConnections
        c.limits.maxBodyBytes = maxBodyBytes
        c.limits.maxHeaderBytes = maxHeaderBytes
        c.maxBufferedRequestBytes = maxBufferedRequestBytes
        c.idleTimeout = idleTimeout
        c.readTimeout = readTimeout
        c.writeTimeout = writeTimeout
        c.drainTimeout = drainTimeout
        c.handlerThreads = handlerThreads
        return c
    }

    var serviceLimits: ServiceLimits {
        var l = ServiceLimits()
        l.maxInputs = maxInputs
        l.maxCandidates = maxCandidates
        l.maxTextBytes = maxTextBytes
        l.maxPairsPerRequest = maxPairsPerRequest
        return l
    }

    var engineConfig: BatchingEngine.Config {
        var e = BatchingEngine.Config()
        e.maxBatchTokens = maxBatchTokens
        e.maxBatchPairs = maxBatchPairs
        e.maxWaitMilliseconds = maxWaitMs
        e.maxQueuePairs = maxQueuePairs
        return e
    }

    var appSettings: RankerHTTPApp.Settings {
        var s = RankerHTTPApp.Settings()
        s.apiKey = apiKey
        s.requestTimeout = requestTimeout
        s.maxBodyBytes = maxBodyBytes
        return s
    }

    /// Every setting as (snake_case name, value) for the start-up log; the API key shows as
    /// "set" or "off", never its value.
    var logFields: [(String, JSON)] {
        ServeSetting.all.map { s in (s.logName, s.json(of: self)) }
    }

    /// flags > PAIRRANKER_* environment > defaults, each value checked against its setting's
    /// range. `flags` maps a flag name (`max-wait-ms`) to its text as given on the command line;
    /// an empty environment variable counts as unset. Pure: no global state is read.
    static func resolve(flags: [String: String], environment: [String: String], cpus: Int) throws(ServeSettingError) -> ServeSettings {
        var settings = ServeSettings(cpus: cpus)
        for s in ServeSetting.all {
            if let raw = flags[s.flag] {
                try s.apply(raw, source: "--\(s.flag)", to: &settings)
            } else if let raw = environment[s.env], !raw.isEmpty {
                try s.apply(raw, source: s.env, to: &settings)
            }
        }
        if let unknown = flags.keys.first(where: { f in !ServeSetting.all.contains { $0.flag == f } }) {
            throw ServeSettingError(message: "--\(unknown) is not a serve setting")
        }
        return settings
    }
}

/// A setting refused at start: names the flag or variable, the value and what is allowed.
struct ServeSettingError: Error, Equatable, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// One `serve` setting, declared once: its flag, environment mirror, what it accepts and its
/// help. `--help`, resolution, validation and the start-up log are all built from `all`.
struct ServeSetting: Sendable {
    enum Kind: Sendable {
        /// Non-empty text.
        case text(WritableKeyPath<ServeSettings, String> & Sendable)
        /// Non-empty text, or unset (nil).
        case optionalText(WritableKeyPath<ServeSettings, String?> & Sendable, secret: Bool)
        case integer(WritableKeyPath<ServeSettings, Int> & Sendable, ClosedRange<Int>)
        /// A finite number in the range, with the unit it is counted in.
        case number(WritableKeyPath<ServeSettings, Double> & Sendable, ClosedRange<Double>, unit: String)
        /// One of the listed words.
        case choice(WritableKeyPath<ServeSettings, String> & Sendable, [String])
    }

    let flag: String
    let summary: String
    let kind: Kind
    /// Says what the default is where it is not a constant (threads, weights).
    var defaultNote: String? = nil

    var env: String { "PAIRRANKER_" + flag.uppercased().replacingOccurrences(of: "-", with: "_") }
    var logName: String { flag.replacingOccurrences(of: "-", with: "_") }

    static let maxThreads = 1024
    static let day = 86_400.0

    static let all: [ServeSetting] = [
        .init(flag: "model", summary: "Model directory or Hugging Face id in the hub cache.", kind: .text(\.model)),
        .init(flag: "weights", summary: "Checkpoint file in the model directory.", kind: .optionalText(\.weights, secret: false),
              defaultNote: "model.safetensors, else pytorch_model.bin"),
        .init(flag: "host", summary: "Address to listen on (0.0.0.0 or :: for all).", kind: .text(\.host)),
        .init(flag: "port", summary: "Port (0: any free port, logged at start).", kind: .integer(\.port, 0...65535)),
        .init(flag: "api-key", summary: "API key required on the inference routes and /info (Bearer, Basic password or X-API-Key).",
              kind: .optionalText(\.apiKey, secret: true), defaultNote: "off"),
        .init(flag: "threads", summary: "BLAS threads.", kind: .integer(\.threads, 1...maxThreads),
              defaultNote: "the CPUs this process may use"),
        .init(flag: "backlog", summary: "Listen backlog.", kind: .integer(\.backlog, 1...65535)),
        .init(flag: "max-connections", summary: "Open connections at most.", kind: .integer(\.maxConnections, 1...100_000)),
        .init(flag: "max-body-bytes", summary: "Request body bytes at most, as sent and once inflated (413 past it).", kind: .integer(\.maxBodyBytes, 1...(256 << 20))),
        .init(flag: "max-header-bytes", summary: "Request header bytes at most (431 past it).",
              kind: .integer(\.maxHeaderBytes, 1024...(1 << 20))),
        .init(flag: "max-buffered-request-bytes",
              summary: "Request bytes the server holds at once: heads and bodies received or queued, inflated bodies and their parsed JSON (503 with Retry-After past it).",
              kind: .integer(\.maxBufferedRequestBytes, (1 << 20)...(1 << 40))),
        .init(flag: "idle-timeout", summary: "Seconds a keep-alive connection may idle.",
              kind: .number(\.idleTimeout, 0.001...day, unit: "seconds")),
        .init(flag: "read-timeout", summary: "Seconds to receive a whole request.",
              kind: .number(\.readTimeout, 0.001...day, unit: "seconds")),
        .init(flag: "write-timeout", summary: "Seconds a response may wait for the client.",
              kind: .number(\.writeTimeout, 0.001...day, unit: "seconds")),
        .init(flag: "drain-timeout", summary: "Seconds to finish in-flight requests on SIGTERM, SIGINT or SIGHUP.",
              kind: .number(\.drainTimeout, 0...day, unit: "seconds")),
        .init(flag: "request-timeout", summary: "Seconds a request may take before 504 (X-Request-Timeout may lower it).",
              kind: .number(\.requestTimeout, 0.001...day, unit: "seconds")),
        .init(flag: "max-inputs", summary: "Inputs per request at most.", kind: .integer(\.maxInputs, 1...65536)),
        .init(flag: "max-candidates", summary: "Candidates per input at most.", kind: .integer(\.maxCandidates, 1...4096)),
        .init(flag: "max-text-bytes", summary: "UTF-8 bytes per text at most.", kind: .integer(\.maxTextBytes, 1...(64 << 20))),
        .init(flag: "max-pairs-per-request", summary: "Pair sequences per request at most.",
              kind: .integer(\.maxPairsPerRequest, 1...(1 << 24))),
        .init(flag: "handler-threads", summary: "Threads that run request handlers (each waiting request holds one).",
              kind: .integer(\.handlerThreads, 1...4096)),
        .init(flag: "max-batch-tokens", summary: "Tokens in one batch at most.", kind: .integer(\.maxBatchTokens, 1...(1 << 20))),
        .init(flag: "max-batch-pairs", summary: "Pair sequences in one batch at most.", kind: .integer(\.maxBatchPairs, 1...65536)),
        .init(flag: "max-wait-ms", summary: "Milliseconds a batch waits for more pairs.",
              kind: .number(\.maxWaitMs, 0...60_000, unit: "milliseconds")),
        .init(flag: "max-queue-pairs", summary: "Admitted pairs at most; a request past it gets 429.",
              kind: .integer(\.maxQueuePairs, 1...(1 << 30))),
        .init(flag: "cache-mb", summary: "Megabytes of the exact score cache (pair logits by their token ids; 0: off).",
              kind: .integer(\.cacheMb, 0...(1 << 20))),
        .init(flag: "precision",
              summary: "Arithmetic of the encoder's dense layers: fp32 (exact) or int8 (approximate, needs AVX512-VNNI or AVX-VNNI; run `pairranker agreement` on your data first).",
              kind: .choice(\.precision, Precision.names)),
    ]

    static func named(_ flag: String) -> ServeSetting {
        guard let s = all.first(where: { $0.flag == flag }) else { preconditionFailure("no serve setting --\(flag)") }
        return s
    }

    /// What the setting accepts, as said in help and errors: "an integer in 0...65535".
    var allowed: String {
        switch kind {
        case .text, .optionalText: return "a non-empty text"
        case let .integer(_, r): return "an integer in \(r.lowerBound)...\(r.upperBound)"
        case let .number(_, r, unit): return "a number of \(unit) in \(Self.format(r.lowerBound))...\(Self.format(r.upperBound))"
        case let .choice(_, words): return "one of " + words.joined(separator: ", ")
        }
    }

    /// The default, as text for the help.
    var defaultText: String? {
        if let defaultNote { return defaultNote }
        let d = ServeSettings(cpus: 1)
        switch kind {
        case let .text(k): return d[keyPath: k]
        case let .optionalText(k, _): return d[keyPath: k]
        case let .integer(k, _): return String(d[keyPath: k])
        case let .number(k, _, _): return Self.format(d[keyPath: k])
        case let .choice(k, _): return d[keyPath: k]
        }
    }

    /// The --help text: summary, then [variable, default, what is accepted].
    var help: String {
        var parts = [env]
        if let defaultText { parts.append("default \(defaultText)") }
        if case .text = kind {} else if case .optionalText = kind {} else { parts.append(allowed) }
        return "\(summary) [\(parts.joined(separator: "; "))]"
    }

    func apply(_ raw: String, source: String, to settings: inout ServeSettings) throws(ServeSettingError) {
        func refuse(_ why: String) -> ServeSettingError {
            let shown = raw.count > 40 ? String(raw.prefix(40)) + "…" : raw
            return ServeSettingError(message: "\(source)=\(shown) \(why): \(flag) must be \(allowed)")
        }
        switch kind {
        case let .text(k):
            guard !raw.isEmpty else { throw refuse("is empty") }
            settings[keyPath: k] = raw
        case let .optionalText(k, _):
            guard !raw.isEmpty else { throw refuse("is empty") }
            settings[keyPath: k] = raw
        case let .integer(k, range):
            guard let v = Int(raw) else { throw refuse("is not an integer") }
            guard range.contains(v) else { throw refuse("is out of range") }
            settings[keyPath: k] = v
        case let .number(k, range, _):
            guard let v = Double(raw) else { throw refuse("is not a number") }
            guard v.isFinite else { throw refuse("is not finite") }
            guard range.contains(v) else { throw refuse("is out of range") }
            settings[keyPath: k] = v
        case let .choice(k, words):
            guard words.contains(raw) else { throw refuse("is not a choice") }
            settings[keyPath: k] = raw
        }
    }

    func json(of settings: ServeSettings) -> JSON {
        switch kind {
        case let .text(k): return .string(settings[keyPath: k])
        case let .optionalText(k, secret):
            let v = settings[keyPath: k]
            if secret { return .string(v == nil ? "off" : "set") }
            return v.map(JSON.string) ?? .null
        case let .integer(k, _): return .number(Double(settings[keyPath: k]))
        case let .number(k, _, _): return .number(settings[keyPath: k])
        case let .choice(k, _): return .string(settings[keyPath: k])
        }
    }

    static func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
    }
}
