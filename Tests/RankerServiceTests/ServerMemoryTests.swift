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

    @Test("what a client sent is not kept: RSS after 64 x 1 MiB on one connection (each write ending with the next request's first byte) and 100 x 4 MiB requests")
    func requestBytesAreReleased() throws {
        let port = FaultTests.freePort(23)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Support.executable)
        p.arguments = ["serve", "--model", Support.modelDir, "--port", String(port)]
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        defer { p.terminate(); p.waitUntilExit() }
        var up = false
        for _ in 0..<200 where !up {
            if let c = try? RawHTTPClient(port: port) { c.send(RawHTTPClient.request("GET", "/ready")); up = c.read()?.status == 200 }
            if !up { Thread.sleep(forTimeInterval: 0.05) }
        }
        try #require(up)
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
}
