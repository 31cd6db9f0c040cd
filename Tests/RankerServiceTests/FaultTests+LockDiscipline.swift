import EngineTestSupport
import Foundation
import HTTPServer
import PairEngine
import TestSupport
import Testing

@testable import RankerHTTP
@testable import RankerService

/// The /metrics scrape and the engine's drops used to take the metrics and engine locks in
/// opposite orders, which hung the whole server (probes included) within seconds.
///
/// Part of the serialized FaultTests suite: its 20 s of connection churn must not overlap the
/// descriptor and RSS counts taken there.
extension FaultTests {
    final class LockCounts: @unchecked Sendable {
        let lock = NSLock()
        var scrapes = 0, timeouts = 0, departed = 0, probes = 0, probeFailures = 0
        var slowestProbe = 0.0
        func add(_ body: (LockCounts) -> Void) { lock.lock(); body(self); lock.unlock() }
    }

    @Test("scraping /metrics while requests are dropped by deadline and by disconnect never hangs /health (20 s)")
    func scrapeWhileDropping() throws {
        let metrics = Metrics()
        let fake = FakeScorer(delay: 0.003)
        var ec = BatchingEngine.Config()
        ec.maxBatchPairs = 2
        ec.maxWaitMilliseconds = 0.5
        ec.maxQueuePairs = 1 << 20
        let engine = BatchingEngine(config: ec, metrics: metrics, scorer: fake.score)
        defer { engine.shutdown() }
        let app = RankerHTTPApp(metrics: metrics, settings: RankerHTTPApp.Settings(), log: { _ in })
        app.attach(service: RankerService(model: Support.model, engine: engine), info: .object([]))
        app.setReady(true)
        var config = ServerConfig()
        config.port = 0
        let server = HTTPServer(config: config, handler: { app.handle($0, $1) })
        try server.start()
        defer { server.stop() }
        let port = server.port

        let counts = LockCounts()
        let duration = 20.0
        let end = Date(timeIntervalSinceNow: duration)
        let body = #"{"input":"q","candidates":["a","b","c","d"]}"#   // 12 pairs
        let group = DispatchGroup()
        func worker(_ body: @escaping @Sendable () -> Void) {
            group.enter()
            Thread { while Date() < end { body() }; group.leave() }.start()
        }
        for _ in 0..<2 {
            worker {   // scrapers, one connection each, as fast as they are answered
                guard let c = try? RawHTTPClient(port: port) else { return }
                while Date() < end {
                    c.send(RawHTTPClient.request("GET", "/metrics"))
                    guard c.read()?.status == 200 else { return }
                    counts.add { $0.scrapes += 1 }
                }
            }
        }
        for _ in 0..<3 {
            worker {   // requests whose deadline passes while their pairs wait
                guard let c = try? RawHTTPClient(port: port) else { return }
                while Date() < end {
                    c.send(RawHTTPClient.request("POST", "/rank", body: body, headers: ["X-Request-Timeout": "0.02"]))
                    guard let r = c.read() else { return }
                    if r.status == 504 { counts.add { $0.timeouts += 1 } }
                }
            }
        }
        for _ in 0..<2 {
            worker {   // clients that leave while their pairs wait
                guard let c = try? RawHTTPClient(port: port) else { return }
                c.send(RawHTTPClient.request("POST", "/rank", body: body))
                Thread.sleep(forTimeInterval: 0.01)
                counts.add { $0.departed += 1 }
            }
        }
        // The probe: a fresh connection every 100 ms, as a kubelet would.
        while Date() < end {
            let t0 = Date()
            let ok = (try? RawHTTPClient(port: port, timeout: 10)).map { c -> Bool in
                c.send(RawHTTPClient.request("GET", "/health"))
                return c.read()?.status == 200
            } ?? false
            let dt = Date().timeIntervalSince(t0)
            counts.add { $0.probes += 1; $0.probeFailures += ok ? 0 : 1; $0.slowestProbe = max($0.slowestProbe, dt) }
            if !ok { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(group.wait(timeout: .now() + 30) == .success, "every client loop ended")
        // One more scrape after the storm: still answering.
        let last = try RawHTTPClient(port: port)
        last.send(RawHTTPClient.request("GET", "/metrics"))
        let text = last.read()?.text ?? ""
        counts.lock.lock(); defer { counts.lock.unlock() }
        #expect(counts.probeFailures == 0 && counts.probes >= 50, "\(counts.probes) probes, \(counts.probeFailures) failed")
        #expect(counts.slowestProbe < 5, "slowest /health: \(counts.slowestProbe) s")
        #expect(counts.scrapes >= 200, "\(counts.scrapes) scrapes")
        #expect(counts.timeouts >= 20, "\(counts.timeouts) requests dropped by deadline")
        #expect(counts.departed >= 20, "\(counts.departed) clients left")
        let dropped = metrics.counter("pairranker_pairs_dropped_total")
        #expect(dropped > 0, "pairs dropped: \(dropped)")
        #expect(text.contains(#"pairranker_request_failures_total{reason="cancelled"}"#) && !text.contains(#"reason="cancelled"} 0"#),
                "disconnects were noticed and counted")
        print("lock discipline: \(counts.scrapes) scrapes, \(counts.timeouts) deadline drops, \(counts.departed) departures, "
              + "\(counts.probes) probes, slowest \(String(format: "%.3f", counts.slowestProbe)) s, \(dropped) pairs dropped")
    }
}
