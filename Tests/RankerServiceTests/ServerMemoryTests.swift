import Foundation
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What clients send is not kept once answered (large bodies, pipelined writes), measured as the
/// resident memory of a real `pairranker serve` process (its own process, so other suites' allocations do not count).
@Suite(.serialized) struct ServerMemoryTests {
    static func rssKB(_ pid: Int32) -> Int {
        let s = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = s.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    /// `pairranker serve` on the fixture model in its own process, once /ready answers 200.
    static func serve(port: Int, _ extra: [String] = []) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Support.executable)
        p.arguments = ["serve", "--model", Support.modelDir, "--port", String(port)] + extra
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        var up = false
        for _ in 0..<200 where !up {
            if let c = try? RawHTTPClient(port: port) { c.send(RawHTTPClient.request("GET", "/ready")); up = c.read()?.status == 200 }
            if !up { Thread.sleep(forTimeInterval: 0.05) }
        }
        if !up { p.terminate(); p.waitUntilExit() }
        try #require(up)
        return p
    }

    @Test("what a client sent is not kept: RSS after 64 x 1 MiB on one connection (each write ending with the next request's first byte) and 100 x 4 MiB requests")
    func requestBytesAreReleased() throws {
        let port = FaultTests.freePort(23)
        let p = try Self.serve(port: port)
        defer { p.terminate(); p.waitUntilExit() }
        // Bodies that are not JSON: answered 400 at once, so what is measured is the HTTP layer.
        func request(_ size: Int) -> [UInt8] {
            Array("POST /rank HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: \(size)\r\n\r\n".utf8)
                + [0x78] + [UInt8](repeating: 0x61, count: size - 1)
        }
        let big = request(4 * 1024 * 1024 - 1)
        for _ in 0..<3 {   // warm up the allocator with the largest size first
            let c = try RawHTTPClient(port: port)
            c.send(big)
            #expect(c.read()?.status == 400)
        }
        let base = Self.rssKB(p.processIdentifier)
        // Item 6: one keep-alive connection; every write ends with the next request's first byte.
        let one = request(1024 * 1024)
        let c = try RawHTTPClient(port: port)
        c.send([one[0]])
        for _ in 0..<64 {
            c.send(Array(one[1...]) + [one[0]])
            #expect(c.read()?.status == 400)
        }
        let after6 = Self.rssKB(p.processIdentifier)
        // Item 8: 100 requests of 4 MiB one after another, each on its own connection.
        for _ in 0..<100 {
            let c = try RawHTTPClient(port: port)
            c.send(big)
            #expect(c.read()?.status == 400)
        }
        Thread.sleep(forTimeInterval: 0.2)
        let after8 = Self.rssKB(p.processIdentifier)
        print("server RSS: \(base) KB at start, \(after6) KB after 64 x 1 MiB pipelined, \(after8) KB after 100 x 4 MiB")
        // Kept, they would be 64 MiB and 400 MiB.
        #expect(after6 - base < 32 * 1024, "RSS \(base) -> \(after6) KB after 64 MiB on one connection")
        #expect(after8 - base < 48 * 1024, "RSS \(base) -> \(after8) KB after 400 MiB of requests")
    }

    @Test("parsed JSON is held within --max-buffered-request-bytes: 24 clients at once, each body's tree about 20x its size")
    func parsedJSONIsBounded() throws {
        let port = FaultTests.freePort(29)
        let budget = 48 << 20
        let p = try Self.serve(port: port, ["--max-buffered-request-bytes", String(budget)])
        defer { p.terminate(); p.waitUntilExit() }
        // 100,000 nested singletons: 600 KB of text, 300,000 values (a tree of 10-13 MB; 40 MB reserved).
        let body = #"{"input":"q","candidates":["a","b"],"x":["# + Array(repeating: "[[0]]", count: 100_000).joined(separator: ",") + "]}"
        let request = RawHTTPClient.request("POST", "/rank", body: body)
        for _ in 0..<2 {   // warm up the allocator
            let c = try RawHTTPClient(port: port)
            c.send(request)
            _ = c.read()
        }
        let base = Self.rssKB(p.processIdentifier)
        let peak = LockedCounter()
        let statuses = LockedStatuses()
        let sampling = LockedCounter()
        sampling.set(1)
        let sampler = Thread {
            while sampling.value == 1 { peak.max(Self.rssKB(p.processIdentifier)); usleep(2000) }
        }
        sampler.start()
        DispatchQueue.concurrentPerform(iterations: 24) { _ in
            for _ in 0..<4 {
                guard let c = try? RawHTTPClient(port: port, timeout: 60) else { statuses.add(-1); continue }
                c.send(request)
                statuses.add(c.read()?.status ?? 0)
            }
        }
        sampling.set(0)
        Thread.sleep(forTimeInterval: 0.01)
        let seen = statuses.all
        print("server RSS \(base) KB before, \(peak.value) KB at peak; statuses \(Dictionary(grouping: seen, by: { $0 }).mapValues(\.count))")
        #expect(seen.count == 96)
        #expect(seen.allSatisfy { [200, 422, 503].contains($0) }, "\(seen)")
        #expect(seen.contains(503), "some requests waited for the budget")
        #expect(seen.contains { $0 != 503 }, "and some ran")
        // 24 trees at once would be about 300 MB; the budget lets one or two be built at a time.
        #expect(peak.value - base < (budget >> 10) + 8 * 1024, "RSS \(base) -> \(peak.value) KB")
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var v = 0
    var value: Int { lock.withLock { v } }
    func set(_ x: Int) { lock.withLock { v = x } }
    func max(_ x: Int) { lock.withLock { v = Swift.max(v, x) } }
}

final class LockedStatuses: @unchecked Sendable {
    private let lock = NSLock()
    private var s: [Int] = []
    var all: [Int] { lock.withLock { s } }
    func add(_ x: Int) { lock.withLock { s.append(x) } }
}
