import Foundation
import HTTPServer
import TestSupport
import Testing

@testable import RankerHTTP
@testable import RankerService

#if canImport(Glibc)
import Glibc
#endif

/// Hostile and broken clients against the live server: each test names the fault it injects.
@Suite(.serialized) struct FaultTests {
    /// A port for a server process: below the kernel's ephemeral range (32768 and up), where the
    /// thousands of client sockets the suites open take their local ports, and free of listeners
    /// when chosen (20000 + pid % 20000 landed in that range half the time, and failed to bind
    /// when a client socket of this process held the port).
    static func freePort(_ salt: Int) -> Int {
        for k in 0..<200 {
            let port = 20000 + (Int(getpid()) * 7 + salt * 997 + k * 131) % 12000
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 } }
            close(fd)
            if ok { return port }
        }
        return 20000 + Int(getpid() % 12000) + salt
    }

    /// Descriptors in this process that are sockets bound to `port` on this side: the server's
    /// listener and its connections, and none of the sockets other suites running beside this
    /// one open (the whole-process count moves with them).
    static func serverSockets(port: Int) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        var n = 0
        for name in names {
            guard let fd = Int32(name) else { continue }
            var st = stat()
            guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFSOCK else { continue }
            var addr = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let ok = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) == 0 } }
            guard ok else { continue }
            let local: UInt16 = addr.ss_family == sa_family_t(AF_INET6)
                ? withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) } }
                : withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) } }
            if Int(local) == port { n += 1 }
        }
        return n
    }
    static func rssKB() -> Int {
        let s = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = s.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    @Test("clients that disconnect mid-body and mid-inference lose nothing for others")
    func disconnects() throws {
        let live = try LiveServerTests.Live()
        let body = #"{"input":"q","candidates":["a","b","c","d"]}"#
        for _ in 0..<20 {
            let c = try RawHTTPClient(port: live.port)
            c.send("POST /rank HTTP/1.1\r\nHost: a\r\nContent-Length: 200\r\n\r\n{\"input\":")   // mid-body, then gone
        }
        for _ in 0..<10 {
            let c = try RawHTTPClient(port: live.port)
            c.send(RawHTTPClient.request("POST", "/rank", body: body))                  // mid-inference, then gone
        }
        Thread.sleep(forTimeInterval: 0.2)
        let ok = try RawHTTPClient(port: live.port)
        ok.send(RawHTTPClient.request("POST", "/rank", body: body))
        let r = ok.read()
        #expect(r?.status == 200)
        #expect(r?.json?["ranks"]?.numbers.count == 4)
    }

    @Test("a thousand idle connections do not slow real requests")
    func idleConnections() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 2600 { limit.rlim_cur = min(limit.rlim_max, 4096); setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) }
        #expect(limit.rlim_cur >= 2600, "needs 2 descriptors per idle connection in this process")
        let live = try LiveServerTests.Live()
        let body = #"{"input":"q","candidate_a":"a","candidate_b":"b"}"#
        func latency() throws -> Double {
            let c = try RawHTTPClient(port: live.port)
            var times: [Double] = []
            for _ in 0..<50 {
                let t0 = Date()
                c.send(RawHTTPClient.request("POST", "/compare", body: body))
                guard c.read()?.status == 200 else { return .infinity }
                times.append(Date().timeIntervalSince(t0))
            }
            // The fastest of 50: other suites run beside this one and inflate medians, while a
            // server whose per-request cost grew with idle connections would raise even the fastest.
            return times.min()!
        }
        let before = try latency()
        let idle = try (0..<1000).map { _ in try RawHTTPClient(port: live.port) }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(live.server.openConnections >= 1000)
        // What must not happen is latency that grows with the number of idle connections
        // (a thread per connection, or a per-connection scan that costs more than the request).
        // Such growth shows in every round; a burst of CPU from a suite running beside this one
        // shows in one, so a round that misses is measured again (at most three in all).
        var during = try latency()
        for _ in 0..<2 where during >= before * 3 + 0.005 { during = min(during, try latency()) }
        print("fastest /compare: \(before * 1000) ms, with 1000 idle connections \(during * 1000) ms")
        #expect(during < before * 3 + 0.005, "fastest latency \(during) s with 1000 idle connections vs \(before) s")
        withExtendedLifetime(idle) {}
    }

    @Test("10,000 short connections leave no descriptor or memory growth")
    func shortConnections() throws {
        let live = try LiveServerTests.Live()
        func burst(_ n: Int) throws {
            for _ in 0..<n {
                let c = try RawHTTPClient(port: live.port)
                c.send("GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                _ = c.read()
            }
        }
        try burst(500)  // warm up allocators
        Thread.sleep(forTimeInterval: 0.2)
        let fds = Self.serverSockets(port: live.port), rss = Self.rssKB()
        try burst(10_000)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(live.server.openConnections == 0)
        #expect(fds >= 1, "the listener is found")
        #expect(Self.serverSockets(port: live.port) <= fds + 1, "server sockets \(fds) -> \(Self.serverSockets(port: live.port))")
        #expect(Self.rssKB() < rss + 20_000, "RSS \(rss) KB -> \(Self.rssKB()) KB")
    }

    @Test("a client that does not read its responses is cut off by the write timeout")
    func writeTimeout() throws {
        var config = ServerConfig()
        config.writeTimeout = 0.5
        let live = try LiveServerTests.Live(config: config)
        let c = try RawHTTPClient(port: live.port)
        var rcv: Int32 = 4096
        setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &rcv, socklen_t(MemoryLayout<Int32>.size))
        // Pipeline far more response bytes than the socket buffers hold, and never read.
        c.send(String(repeating: RawHTTPClient.request("GET", "/openapi.yaml"), count: 300))
        Thread.sleep(forTimeInterval: 0.5)
        var closed = false
        for _ in 0..<40 where !closed {
            Thread.sleep(forTimeInterval: 0.1)
            closed = live.server.openConnections == 0
        }
        #expect(closed, "the stalled connection was closed")
        let other = try RawHTTPClient(port: live.port)
        other.send(RawHTTPClient.request("GET", "/health"))
        #expect(other.read()?.status == 200)
    }

    @Test("past the connection cap a new client is answered 503 with Retry-After at once, and served once one closes")
    func connectionCap() throws {
        var config = ServerConfig()
        config.maxConnections = 2
        let live = try LiveServerTests.Live(config: config)
        var idle: [RawHTTPClient] = try (0..<2).map { _ in try RawHTTPClient(port: live.port) }
        Thread.sleep(forTimeInterval: 0.2)
        let refused = try RawHTTPClient(port: live.port, timeout: 5)
        let start = Date()
        refused.send(RawHTTPClient.request("GET", "/health"))
        let r = refused.read()
        #expect(r?.status == 503, "refused, not left waiting")
        #expect(r?.headers["retry-after"] == "1")
        #expect(r?.headers["x-request-id"]?.isEmpty == false)
        #expect(refused.closedByServer())
        #expect(Date().timeIntervalSince(start) < 2)
        idle.removeAll()
        Thread.sleep(forTimeInterval: 0.2)
        let after = try RawHTTPClient(port: live.port, timeout: 5)
        after.send(RawHTTPClient.request("GET", "/health"))
        #expect(after.read()?.status == 200)
    }

    @Test("out of descriptors (EMFILE), the server keeps running and serves again once they free up")
    func emfile() throws {
        let port = Self.freePort(11)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ulimit -n 48; exec \"$0\" serve --model \"$1\" --port \"$2\"", Support.executable, Support.modelDir, String(port)]
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { p.terminate(); p.waitUntilExit() }
        var up = false
        for _ in 0..<600 where !up {   // up to 30 s: start-up on a loaded machine
            if let c = try? RawHTTPClient(port: port) { c.send(RawHTTPClient.request("GET", "/ready")); up = c.read()?.status == 200 }
            if !up { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(up)
        var hogs = try (0..<80).map { _ in try RawHTTPClient(port: port, timeout: 0.3) }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(p.isRunning, "EMFILE did not stop the server")
        hogs.removeAll()
        Thread.sleep(forTimeInterval: 0.5)
        var served = false
        for _ in 0..<20 where !served {
            if let c = try? RawHTTPClient(port: port, timeout: 2) { c.send(RawHTTPClient.request("GET", "/health")); served = c.read()?.status == 200 }
            if !served { Thread.sleep(forTimeInterval: 0.2) }
        }
        #expect(served)
    }

    @Test("a corrupt or truncated weight file fails at start with a clear message and never serves")
    func corruptModel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pairranker-corrupt-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in ["config.json", "ranker_config.json", "tokenizer.json"] {
            try FileManager.default.copyItem(atPath: Support.modelDir + "/" + f, toPath: dir + "/" + f)
        }
        let weights = try Data(contentsOf: URL(fileURLWithPath: Support.modelDir + "/model.safetensors"))
        try weights.prefix(weights.count / 2).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        let port = Self.freePort(7)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Support.executable)
        p.arguments = ["serve", "--model", dir, "--port", String(port)]
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus != 0)
        #expect(log.contains("model.load_failed") && log.contains("model.safetensors"), "\(log)")
        #expect(log.contains("outside the data section"), "names the problem: \(log)")
    }
}
