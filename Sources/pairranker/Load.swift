import ArgumentParser
import Foundation
import Sync
#if canImport(Glibc)
import Glibc
#endif

/// `pairranker dev load`: drives a running server over loopback at constant concurrency or at a
/// constant rate for a bounded time, and reports throughput (requests/s and pairs/s from the
/// responses' usage), latency percentiles and errors, as one JSON line.
struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load-test a running server (constant concurrency or constant rate); prints a JSON report.",
        discussion: #"Example: pairranker dev load --port 8080 --path /rank --body '{"input":"q","candidates":["a","b"]}' --concurrency 4 --duration 10"#)

    @Option(help: "Server host (loopback or this machine's own test hosts).") var host = "127.0.0.1"
    @Option(help: "Server port.") var port = 8080
    @Option(help: "Route to POST to.") var path = "/rank"
    @Option(help: "Request body (JSON text), or @FILE with one body per line, sent in turn (distinct bodies keep the engine from sharing identical pairs).")
    var body: String
    @Option(help: "Concurrent connections (constant-concurrency mode).") var concurrency = 1
    @Option(help: "Requests per second (constant-rate mode; overrides --concurrency's closed loop).") var rate: Double?
    @Option(help: "Seconds to run.") var duration = 10.0
    @Option(help: "Requests at most (0: no limit).") var maxRequests = 0
    @Option(help: "Label for the report.") var label = ""

    struct Stats {
        var latencies: [Double] = []
        var statuses: [Int: Int] = [:]
        var pairs = 0
        var sent = 0
        mutating func record(_ seconds: Double, status: Int, pairs p: Int) {
            latencies.append(seconds); statuses[status, default: 0] += 1; pairs += p
        }
        /// The index of the next request to send, or nil past the limit.
        mutating func take(limit: Int) -> Int? { if limit > 0 && sent >= limit { return nil }; sent += 1; return sent - 1 }
    }

    func run() throws {
        var payloads = [body]
        if body.hasPrefix("@") {
            guard let s = try? String(contentsOfFile: String(body.dropFirst()), encoding: .utf8) else { throw ValidationError("cannot read \(body)") }
            payloads = s.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            guard !payloads.isEmpty else { throw ValidationError("\(body) has no bodies") }
        }
        let requests = payloads.map { p in
            Array("POST \(path) HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json\r\nContent-Length: \(p.utf8.count)\r\n\r\n\(p)".utf8)
        }
        /// Guards the counts every connection thread adds to; a leaf lock.
        let stats = Locked(Stats())
        let end = Date().addingTimeInterval(duration)
        let start = Date()
        let limit = maxRequests
        let workers: Int
        var gap = 0.0
        if let rate {
            guard rate > 0 else { throw ValidationError("--rate must be positive") }
            gap = 1 / rate
            workers = max(concurrency, min(256, Int(rate * 2) + 1))  // enough open connections to keep the rate
        } else {
            workers = concurrency
        }
        let interval = gap
        let group = DispatchGroup()
        /// Guards the next send time of constant-rate mode; a leaf lock.
        let schedule = Locked(Date())
        for _ in 0..<workers {
            group.enter()
            let t = Thread { [host, port] in
                defer { group.leave() }
                var conn: LoadConnection?
                while Date() < end, let k = stats.withLock({ $0.take(limit: limit) }) {
                    let request = requests[k % requests.count]
                    if interval > 0 {
                        let due = schedule.withLock { next in
                            defer { next = next.addingTimeInterval(interval) }
                            return next
                        }
                        let wait = due.timeIntervalSinceNow
                        if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                        if Date() >= end { break }
                    }
                    if conn == nil { conn = try? LoadConnection(host: host, port: port) }
                    guard let c = conn else {
                        stats.withLock { $0.record(0, status: -1, pairs: 0) }
                        Thread.sleep(forTimeInterval: 0.01)
                        continue
                    }
                    let t0 = Date()
                    if let (status, body) = c.roundTrip(request) {
                        var pairs = 0
                        if let obj = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                           let usage = obj["usage"] as? [String: Any], let p = usage["pairs"] as? Int { pairs = p }
                        let seconds = Date().timeIntervalSince(t0)
                        stats.withLock { $0.record(seconds, status: status, pairs: pairs) }
                    } else {
                        let seconds = Date().timeIntervalSince(t0)
                        stats.withLock { $0.record(seconds, status: -1, pairs: 0) }
                        conn = nil
                    }
                }
            }
            t.start()
        }
        group.wait()
        let elapsed = Date().timeIntervalSince(start)
        let done = stats.withLock { $0 }
        let ok = done.latencies.sorted()
        func pct(_ p: Double) -> Double { ok.isEmpty ? 0 : ok[min(ok.count - 1, Int((p * Double(ok.count)).rounded(.up)) - 1)] * 1000 }
        let errors = done.statuses.filter { $0.key != 200 }.values.reduce(0, +)
        let statuses = done.statuses.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
        print(#"{"label":"\#(label)","mode":"\#(rate == nil ? "concurrency" : "rate")","concurrency":\#(workers),"rate":\#(rate ?? 0),"seconds":\#(String(format: "%.2f", elapsed)),"requests":\#(ok.count),"errors":\#(errors),"statuses":{\#(statuses)},"requests_per_second":\#(String(format: "%.3f", Double(ok.count) / elapsed)),"pairs_per_second":\#(String(format: "%.3f", Double(done.pairs) / elapsed)),"p50_ms":\#(String(format: "%.1f", pct(0.5))),"p95_ms":\#(String(format: "%.1f", pct(0.95))),"p99_ms":\#(String(format: "%.1f", pct(0.99)))}"#)
    }
}

/// A keep-alive loopback connection that sends one request and reads one Content-Length response.
final class LoadConnection {
    let fd: Int32
    var buffer: [UInt8] = []

    init(host: String, port: Int) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let ai = res else { throw ValidationError("cannot resolve \(host)") }
        defer { freeaddrinfo(res) }
        fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, 0)
        guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else { close(fd); throw ValidationError("cannot connect") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var tv = timeval(tv_sec: 300, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func roundTrip(_ request: [UInt8]) -> (Int, [UInt8])? {
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == request.count else { return nil }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = headerEnd() {
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                let lines = head.components(separatedBy: "\r\n")
                let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? 0
                let length = lines.compactMap { l -> Int? in
                    let p = l.split(separator: ":", maxSplits: 1)
                    return p.count == 2 && p[0].lowercased() == "content-length" ? Int(p[1].trimmingCharacters(in: .whitespaces)) : nil
                }.first ?? 0
                if buffer.count >= end + 4 + length {
                    let body = Array(buffer[(end + 4)..<(end + 4 + length)])
                    buffer.removeFirst(end + 4 + length)
                    if head.lowercased().contains("connection: close") { return nil }
                    return (status, body)
                }
            }
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
    }

    private func headerEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for i in 0...(buffer.count - 4) where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 { return i }
        return nil
    }
}
