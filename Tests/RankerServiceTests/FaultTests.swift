import Foundation
import HTTPServer
import Testing
#if canImport(Glibc)
import Glibc
#endif

@testable import RankerService

/// Hostile and broken clients against the live server (issue 8's fault tests).
@Suite(.serialized) struct FaultTests {
    static func openDescriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1 }
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
            c.send("POST /rank HTTP/1.1\r\nContent-Length: 200\r\n\r\n{\"input\":")   // mid-body, then gone
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
            for _ in 0..<20 {
                let t0 = Date()
                c.send(RawHTTPClient.request("POST", "/compare", body: body))
                guard c.read()?.status == 200 else { return .infinity }
                times.append(Date().timeIntervalSince(t0))
            }
            return times.sorted()[10]
        }
        let before = try latency()
        let idle = try (0..<1000).map { _ in try RawHTTPClient(port: live.port) }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(live.server.openConnections >= 1000)
        let during = try latency()
        #expect(during < max(before * 3, before + 0.02), "median latency \(during) s with 1000 idle connections vs \(before) s")
        withExtendedLifetime(idle) {}
    }

    @Test("10,000 short connections leave no descriptor or memory growth")
    func shortConnections() throws {
        let live = try LiveServerTests.Live()
        func burst(_ n: Int) throws {
            for _ in 0..<n {
                let c = try RawHTTPClient(port: live.port)
                c.send("GET /health HTTP/1.1\r\nConnection: close\r\n\r\n")
                _ = c.read()
            }
        }
        try burst(500)  // warm up allocators
        Thread.sleep(forTimeInterval: 0.2)
        let fds = Self.openDescriptors(), rss = Self.rssKB()
        try burst(10_000)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(live.server.openConnections == 0)
        #expect(Self.openDescriptors() <= fds + 2, "descriptors \(fds) -> \(Self.openDescriptors())")
        #expect(Self.rssKB() < rss + 20_000, "RSS \(rss) KB -> \(Self.rssKB()) KB")
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
        let port = 20000 + Int(getpid() % 20000) + 7
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
