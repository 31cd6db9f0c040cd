import Foundation
import HTTPServer
import Testing

@testable import RankerHTTP
@testable import RankerService

/// The answers the HTTP layer gives without a handler (parser refusals, 408, 503 past the
/// connection cap or the request-memory budget) come from `APIError`'s one table, are counted in
/// /metrics under route "http", and are logged with their request id.
@Suite(.serialized) struct WireRefusalTests {
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func add(_ s: String) { lock.withLock { lines.append(s) } }
        var all: [String] { lock.withLock { lines } }
    }

    static func count(_ metrics: String, status: Int) -> Int {
        let prefix = "pairranker_requests_total{route=\"http\",status=\"\(status)\"} "
        return metrics.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
    }

    @Test("every HTTP-layer refusal: APIError's body and status, X-Request-Id, counted, logged", arguments: [
        ("POST /rank HTTP/1.1\r\nHost: a\r\nX-Request-Id: rid-411\r\n\r\n", 411, "length_required", "rid-411"),
        ("POST /rank HTTP/1.1\r\nHost: a\r\nX-Request-Id: rid-400\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "invalid_request", "rid-400"),
        ("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n\r\n", 414, "uri_too_long", nil),
        ("POST /rank HTTP/1.1\r\nHost: a\r\nX-Request-Id: rid-417\r\nExpect: tea\r\nContent-Length: 2\r\n\r\n{}", 417, "expectation_failed", "rid-417"),
        ("POST /rank HTTP/1.1\r\nHost: a\r\nX-Request-Id: rid-413\r\nContent-Length: 99999999999\r\n\r\n", 413, "payload_too_large", "rid-413"),
        ("GET / HTTP/2.0\r\n\r\n", 505, "http_version_not_supported", nil),
    ] as [(String, Int, String, String?)])
    func refusals(_ raw: String, _ status: Int, _ type: String, _ id: String?) throws {
        let lines = Lines()
        let live = try LiveServerTests.Live(log: { lines.add($0) })
        let c = try RawHTTPClient(port: live.port)
        c.send(raw)
        let r = try #require(c.read())
        #expect(r.status == status, "\(r.text)")
        #expect(r.json?["error"]?["type"] == .string(type))
        #expect(r.json?["detail"] == r.json?["error"]?["message"])
        let rid = try #require(r.headers["x-request-id"])
        if let id { #expect(rid == id) } else { #expect(!rid.isEmpty) }
        let m = live.app.metrics.render()
        #expect(Self.count(m, status: status) == 1, "\(m.split(separator: "\n").filter { $0.contains("route=\"http\"") })")
        let logged = lines.all.filter { $0.contains(#""msg":"request.refused""#) }
        #expect(logged.count == 1)
        #expect(logged.first?.contains(#""request.id":"\#(rid)""#) == true, "\(logged)")
        #expect(logged.first?.contains(#""status":\#(status)"#) == true)
        #expect(try JSON.parse(Array((logged.first ?? "").utf8))["error"] != nil, "the log line is JSON")
    }

    @Test("408 and the 503s (connection cap, request memory) too, with Retry-After on the 503s")
    func timeoutsAndCaps() throws {
        let lines = Lines()
        var config = ServerConfig()
        config.readTimeout = 0.2
        config.maxConnections = 2
        config.maxBufferedRequestBytes = 1 << 20
        let live = try LiveServerTests.Live(config: config, log: { lines.add($0) })
        // 408: half a request, then silence.
        let slow = try RawHTTPClient(port: live.port)
        slow.send("POST /rank HTTP/1.1\r\nHost: a\r\nX-Request-Id: rid-408\r\nContent-Length: 10\r\n\r\n{")
        let t = try #require(slow.read())
        #expect(t.status == 408 && t.headers["x-request-id"] == "rid-408")
        #expect(t.json?["error"]?["type"] == .string("timeout"))
        // 503: a declared body past the request-memory budget.
        let big = try RawHTTPClient(port: live.port)
        big.send("POST /rank HTTP/1.1\r\nHost: a\r\nX-Request-Id: rid-503\r\nContent-Length: 2000000\r\n\r\n{")
        let b = try #require(big.read())
        #expect(b.status == 503 && b.headers["retry-after"] == "1" && b.headers["x-request-id"] == "rid-503", "\(b.text)")
        #expect(b.json?["error"]?["type"] == .string("overloaded"))
        // 503: past the connection cap.
        let held = try (0..<2).map { _ in try RawHTTPClient(port: live.port) }
        Thread.sleep(forTimeInterval: 0.1)
        let third = try RawHTTPClient(port: live.port)
        let cap = try #require(third.read())
        #expect(cap.status == 503 && cap.headers["retry-after"] == "1")
        #expect(cap.text.contains("limit of 2 connections"))
        withExtendedLifetime(held) {}
        let m = live.app.metrics.render()
        #expect(Self.count(m, status: 408) == 1)
        #expect(Self.count(m, status: 503) == 2)
        let logged = lines.all.filter { $0.contains(#""msg":"request.refused""#) }
        #expect(logged.count == 3, "\(logged)")
        #expect(logged.contains { $0.contains(#""request.id":"rid-408""#) && $0.contains(#""reason":"readTimeout""#) })
        #expect(logged.contains { $0.contains(#""request.id":"rid-503""#) && $0.contains(#""reason":"requestMemory""#) })
        #expect(logged.contains { $0.contains(#""reason":"connectionLimit""#) })
    }
}
