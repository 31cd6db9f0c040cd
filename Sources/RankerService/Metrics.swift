import Foundation
import Sync

/// Prometheus metrics with stable names (`pairranker_<thing>_<unit>`), rendered in the text
/// exposition format. Thread-safe; updates are a lock and a few adds.
///
/// Lock discipline (docs/architecture.md): `store`'s lock guards the stored values only and is a
/// leaf: nothing is called while it is held. `render` copies the values under the lock, releases
/// it, and only then reads the gauges, whose closures take their owners' locks (the engine's): a
/// scrape that coincides with the engine updating a counter can never wait in a cycle.
public final class Metrics: Sendable {
    struct Histogram {
        let buckets: [Double]
        var counts: [UInt64]
        var sum = 0.0
        var count: UInt64 = 0
        init(_ buckets: [Double]) { self.buckets = buckets; counts = Array(repeating: 0, count: buckets.count) }
        mutating func observe(_ v: Double) {
            for (i, b) in buckets.enumerated() where v <= b { counts[i] &+= 1 }
            sum += v
            count &+= 1
        }
    }

    struct RequestKey: Hashable, Comparable {
        let route: String
        let status: Int
        static func < (a: RequestKey, b: RequestKey) -> Bool { (a.route, a.status) < (b.route, b.status) }
    }

    struct Store {
        var requests: [RequestKey: UInt64] = [:]
        var failures: [String: UInt64] = [:]          // reason
        var histograms: [String: Histogram] = [:]
        /// Request durations per route label.
        var durations: [String: Histogram] = [:]
        var counters: [String: Double] = [:]
        var gauges: [String: @Sendable () -> Double] = [:]
        /// Counters whose value is read from their owner (monotonic, like the score cache's hits).
        var readCounters: [String: @Sendable () -> Double] = [:]
        /// Info metrics: constant 1 with labels (pairranker_build_info).
        var infos: [String: [(String, String)]] = [:]
    }
    /// Guards every stored value and the tables of gauges and read counters (not their values:
    /// `render` reads those after releasing it); a leaf lock.
    private let store: Locked<Store>

    static let seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
    static let sizes = [1.0, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    static let tokens = [64.0, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768]
    static let requestDuration = "pairranker_request_duration_seconds"

    /// `# HELP` text of every metric this process exports; a name registered without one is a
    /// programming error caught by the tests (promtool wants HELP on every metric).
    public static let help: [String: String] = [
        "pairranker_requests_total": "Requests answered, by route and status (parser refusals included).",
        "pairranker_request_failures_total": "Failed requests, by reason.",
        requestDuration: "Time from a request's arrival to its answer, by route.",
        "pairranker_queue_duration_seconds": "Time a request's pairs waited for the engine.",
        "pairranker_inference_duration_seconds": "Time spent in forward passes for a request.",
        "pairranker_batch_pairs": "Pair sequences per forward batch.",
        "pairranker_batch_tokens": "Tokens per forward batch.",
        "pairranker_pairs_processed_total": "Pair sequences computed by the model.",
        "pairranker_tokens_processed_total": "Tokens in the pair sequences computed by the model.",
        "pairranker_pairs_dropped_total": "Queued pair sequences dropped before computing (deadline passed or client gone).",
        "pairranker_queue_pairs": "Pair sequences waiting in the engine's queue.",
        "pairranker_admitted_pairs": "Pair sequences of admitted requests not yet finished.",
        "pairranker_cache_hits_total": "Pair logits answered from the exact score cache.",
        "pairranker_cache_misses_total": "Pair logits looked up in the score cache and not found.",
        "pairranker_cache_evictions_total": "Score cache entries evicted to stay under its size.",
        "pairranker_cache_entries": "Pair logits held by the score cache.",
        "pairranker_cache_bytes": "Bytes the score cache accounts for its entries.",
        "pairranker_cache_capacity_bytes": "The score cache's size limit in bytes (--cache-mb).",
        "pairranker_build_info": "Version and runtime facts of this build (value 1).",
        "process_resident_memory_bytes": "Resident memory size in bytes.",
        "process_virtual_memory_bytes": "Virtual memory size in bytes.",
        "process_cpu_seconds_total": "User and system CPU time spent in seconds.",
        "process_open_fds": "Number of open file descriptors.",
        "process_max_fds": "Maximum number of open file descriptors.",
        "process_start_time_seconds": "Start time of the process since the Unix epoch in seconds.",
    ]

    static func describe(_ name: String) -> String { help[name] ?? name.replacingOccurrences(of: "_", with: " ") }

    public init() {
        var s = Store()
        for (name, buckets) in [("pairranker_queue_duration_seconds", Self.seconds),
                                ("pairranker_inference_duration_seconds", Self.seconds), ("pairranker_batch_pairs", Self.sizes),
                                ("pairranker_batch_tokens", Self.tokens)] {
            s.histograms[name] = Histogram(buckets)
        }
        for reason in ["validation", "overloaded", "timeout", "cancelled", "internal", "unauthorized", "not_ready", "http"] {
            s.failures[reason] = 0
        }
        s.counters["pairranker_pairs_processed_total"] = 0
        s.counters["pairranker_tokens_processed_total"] = 0
        s.counters["pairranker_pairs_dropped_total"] = 0
        store = Locked(s)
    }

    public func request(route: String, status: Int, seconds: Double) {
        store.withLock { s in
            s.requests[RequestKey(route: route, status: status), default: 0] &+= 1
            s.durations[route, default: Histogram(Self.seconds)].observe(seconds)
        }
    }

    public func failure(_ reason: String) { store.withLock { $0.failures[reason, default: 0] &+= 1 } }

    public func observe(_ histogram: String, _ value: Double) { store.withLock { $0.histograms[histogram]?.observe(value) } }

    public func add(_ counter: String, _ value: Double) { store.withLock { $0.counters[counter, default: 0] += value } }

    public func counter(_ name: String) -> Double { store.withLock { $0.counters[name] ?? 0 } }

    /// Registers a gauge. `read` is called by `render` with no Metrics lock held; it may take its
    /// owner's lock but must not call back into Metrics.
    public func gauge(_ name: String, _ read: @escaping @Sendable () -> Double) { store.withLock { $0.gauges[name] = read } }

    /// Registers a counter whose value its owner keeps (read like a gauge, exported as a counter).
    public func counter(_ name: String, read: @escaping @Sendable () -> Double) { store.withLock { $0.readCounters[name] = read } }

    /// Registers an info metric: `name{labels} 1`.
    public func info(_ name: String, labels: [(String, String)]) { store.withLock { $0.infos[name] = labels } }

    /// The text exposition format: HELP and TYPE on every metric, the standard process_* metrics.
    public func render() -> String {
        let snapshot = store.withLock { $0 }
        let requests = snapshot.requests, failures = snapshot.failures, counters = snapshot.counters
        let histograms = snapshot.histograms, durations = snapshot.durations, infos = snapshot.infos
        // Gauges and read counters are read after the lock is released (they take other locks).
        let gaugeValues = snapshot.gauges.sorted { $0.key < $1.key }.map { ($0.key, $0.value()) }
        let readCounterValues = snapshot.readCounters.sorted { $0.key < $1.key }.map { ($0.key, $0.value()) }
        var out = ""
        func header(_ name: String, _ type: String) { out += "# HELP \(name) \(Self.describe(name))\n# TYPE \(name) \(type)\n" }
        header("pairranker_requests_total", "counter")
        for (key, v) in requests.sorted(by: { $0.key < $1.key }) {
            out += "pairranker_requests_total{route=\"\(Self.label(key.route))\",status=\"\(key.status)\"} \(v)\n"
        }
        header("pairranker_request_failures_total", "counter")
        for (reason, v) in failures.sorted(by: { $0.key < $1.key }) { out += "pairranker_request_failures_total{reason=\"\(Self.label(reason))\"} \(v)\n" }
        for (name, v) in counters.sorted(by: { $0.key < $1.key }) {
            header(name, "counter")
            out += "\(name) \(JSON.format(v))\n"
        }
        for (name, v) in readCounterValues {
            header(name, "counter")
            out += "\(name) \(JSON.format(v))\n"
        }
        for (name, v) in gaugeValues {
            header(name, "gauge")
            out += "\(name) \(JSON.format(v))\n"
        }
        for (name, labels) in infos.sorted(by: { $0.key < $1.key }) {
            header(name, "gauge")
            out += "\(name){\(labels.map { "\($0.0)=\"\(Self.label($0.1))\"" }.joined(separator: ","))} 1\n"
        }
        header(Self.requestDuration, "histogram")
        for (route, h) in durations.sorted(by: { $0.key < $1.key }) {
            Self.render(h, name: Self.requestDuration, labels: "route=\"\(Self.label(route))\",", into: &out)
        }
        for (name, h) in histograms.sorted(by: { $0.key < $1.key }) {
            header(name, "histogram")
            Self.render(h, name: name, labels: "", into: &out)
        }
        for (name, type, value) in ProcessStats.read() {
            header(name, type)
            out += "\(name) \(JSON.format(value))\n"
        }
        return out
    }

    static func render(_ h: Histogram, name: String, labels: String, into out: inout String) {
        for (b, c) in zip(h.buckets, h.counts) { out += "\(name)_bucket{\(labels)le=\"\(JSON.format(b))\"} \(c)\n" }
        let bare = labels.isEmpty ? "" : "{\(labels.dropLast())}"
        out += "\(name)_bucket{\(labels)le=\"+Inf\"} \(h.count)\n\(name)_sum\(bare) \(h.sum)\n\(name)_count\(bare) \(h.count)\n"
    }

    /// A label value in the exposition format's escaping (backslash, quote, newline).
    static func label(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

/// The standard process_* metrics, from /proc (Linux).
enum ProcessStats {
    static func read() -> [(String, String, Double)] {
        var out: [(String, String, Double)] = []
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE))), ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let f = statm.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if f.count >= 2 {
                out.append(("process_resident_memory_bytes", "gauge", f[1] * pageSize))
                out.append(("process_virtual_memory_bytes", "gauge", f[0] * pageSize))
            }
        }
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") {
            // Fields after the command name: state is field 3; utime 14, stime 15, starttime 22.
            let f = stat[stat.index(after: close)...].split(separator: " ")
            if f.count > 19, let utime = Double(f[11]), let stime = Double(f[12]), let start = Double(f[19]), ticks > 0 {
                out.append(("process_cpu_seconds_total", "counter", (utime + stime) / ticks))
                if let boot = bootTime { out.append(("process_start_time_seconds", "gauge", boot + start / ticks)) }
            }
        }
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            out.append(("process_open_fds", "gauge", Double(fds.count)))
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            out.append(("process_max_fds", "gauge", limit.rlim_cur == rlim_t.max ? Double(Int64.max) : Double(limit.rlim_cur)))
        }
        return out
    }

    /// Seconds since the epoch at boot (`btime` of /proc/stat), read once.
    static let bootTime: Double? = {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") { return Double(line.dropFirst(6)) }
        return nil
    }()
}
