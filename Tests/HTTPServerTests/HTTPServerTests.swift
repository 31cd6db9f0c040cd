import Foundation
import Sync
import Testing

@testable import HTTPServer

#if canImport(Glibc)
import Glibc
#endif

/// The server against hostile and busy clients: each test is one class of failure a hostile or busy client caused.
@Suite(.serialized) struct HTTPServerTests {
    // MARK: memory

    @Test("item 6: a keep-alive client ending every write with the next request's first byte holds one request, not all")
    func compactionLive() throws {
        let s = try TestServer()
        let c = try TestClient(port: s.port)
        let body = String(repeating: "b", count: 256 * 1024)
        let request = Array(TestClient.request("POST", "/echo", body: body).utf8)
        c.send([request[0]])
        for _ in 0..<60 {
            c.send(Array(request[1...]) + [request[0]])
            #expect(c.readFinal()?.text == "POST /echo - \(body.utf8.count)")
        }
        // 60 requests of 256 KiB: kept, they would be 15 MiB.
        #expect(s.server.peakBufferedRequestBytes < 3 * request.count, "peak \(s.server.peakBufferedRequestBytes)")
    }

    @Test("parsed heads of queued and running requests count in the budget, not only their bodies")
    func headsCount() throws {
        let s = try TestServer(config: ServerConfig())
        let c = try TestClient(port: s.port)
        // One slow request runs while three more with 20 KiB of headers each wait behind it.
        let big = String(repeating: "h", count: 20 * 1024)
        c.send("GET /slow?800 HTTP/1.1\r\nHost: a\r\nX-Pad: \(big)\r\n\r\n")
        for _ in 0..<3 { c.send("GET /echo HTTP/1.1\r\nHost: a\r\nX-Pad: \(big)\r\n\r\n") }
        #expect(eventually { s.server.bufferedRequestBytes >= 4 * 20 * 1024 }, "held \(s.server.bufferedRequestBytes)")
        for _ in 0..<4 { #expect(c.readFinal()?.status == 200) }
        #expect(eventually { s.server.bufferedRequestBytes == 0 }, "held \(s.server.bufferedRequestBytes) after the answers")
    }

    @Test("item 9: past the global budget of buffered request bytes: 503 with Retry-After, then close; the budget holds")
    func globalBudget() throws {
        var config = ServerConfig()
        config.maxBufferedRequestBytes = 1 << 20
        let s = try TestServer(config: config)
        // Two clients each send 400 KiB of a 600 KiB body and wait: 800 KiB held.
        let holders = try (0..<2).map { _ in try TestClient(port: s.port) }
        for h in holders {
            h.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: \(600 * 1024)\r\n\r\n")
            h.send([UInt8](repeating: 0x61, count: 400 * 1024))
        }
        #expect(eventually { s.server.bufferedRequestBytes >= 800 * 1024 }, "held \(s.server.bufferedRequestBytes)")
        // A third declaring 600 KiB is refused at once, before it sends its body.
        let third = try TestClient(port: s.port)
        third.send("POST /echo HTTP/1.1\r\nHost: a\r\nX-Request-Id: over-1\r\nContent-Length: \(600 * 1024)\r\n\r\n")
        let r = third.readFinal()
        #expect(r?.status == 503)
        #expect(r?.headers["retry-after"] == "1")
        #expect(r?.headers["x-request-id"]?.isEmpty == false)
        #expect(third.closedByServer())
        // Sending (not declaring) past it: a first holder's remaining 200 KiB fit? 800 + 200 = 1000 KiB <= 1024 KiB: yes.
        holders[0].send([UInt8](repeating: 0x61, count: 200 * 1024))
        #expect(holders[0].readFinal()?.status == 200)
        // A chunked body (no declared size) is cut when its bytes pass the budget.
        let chunked = try TestClient(port: s.port)
        chunked.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        var answered: TestClient.Response?
        for _ in 0..<40 where answered == nil {
            guard chunked.send("10000\r\n" + String(repeating: "c", count: 0x10000) + "\r\n") else { break }
            chunked.setTimeout(0.05)
            answered = chunked.read()
        }
        chunked.setTimeout(5)
        if answered == nil { answered = chunked.readFinal() }
        #expect(answered?.status == 503 || answered?.status == 413, "\(String(describing: answered?.status))")
        #expect(s.server.peakBufferedRequestBytes <= config.maxBufferedRequestBytes, "peak \(s.server.peakBufferedRequestBytes)")
        withExtendedLifetime(holders) {}
    }

    @Test("item 9: a pipelining client holds a bounded read-ahead while its requests wait")
    func pipelineReadAhead() throws {
        var config = ServerConfig()
        config.handlerThreads = 2
        let s = try TestServer(config: config)
        let c = try TestClient(port: s.port)
        let body = String(repeating: "p", count: 32 * 1024)
        let one = TestClient.request("POST", "/slow?20", body: body)
        let writer = Thread { _ = c.send(String(repeating: one, count: 200)) }   // 6.4 MiB pipelined
        writer.start()
        Thread.sleep(forTimeInterval: 1)
        let held = s.server.peakBufferedRequestBytes
        // 16 queued + the one running + 64 KiB read ahead (+ one read) at most.
        let bound = (16 + 1) * (one.utf8.count) + 3 * 64 * 1024
        #expect(held <= bound, "peak \(held) bytes, bound \(bound)")
        #expect(held > 0)
        c.reset()
    }

    // MARK: liveness and fairness

    @Test("item 10: inline routes answer in milliseconds while every handler thread is busy")
    func inlineProbes() throws {
        var config = ServerConfig()
        config.handlerThreads = 4
        let s = try TestServer(config: config, inline: ["/health"])
        // 40 slow requests (4 running, 36 waiting for a thread), 6 s each.
        let slow = try (0..<40).map { _ in try TestClient(port: s.port) }
        for c in slow { c.send(TestClient.request("GET", "/slow?6000")) }
        #expect(eventually { s.started >= 4 })
        var times: [Double] = []
        let probe = try TestClient(port: s.port)
        for i in 0..<400 {
            let c = i % 2 == 0 ? probe : try TestClient(port: s.port)   // kept-alive and fresh connections
            let t0 = Date()
            c.send(TestClient.request("GET", "/health"))
            let r = c.readFinal()
            times.append(Date().timeIntervalSince(t0))
            #expect(r?.status == 200 && r?.text == "inline /health")
        }
        let p99 = percentile(times, 0.99)
        print("inline /health with 40 slow requests in flight: p50 \(percentile(times, 0.5) * 1000) ms, p99 \(p99 * 1000) ms, max \(percentile(times, 1) * 1000) ms")
        #expect(p99 < 0.05, "p99 \(p99 * 1000) ms")
        #expect(s.started <= 4, "no probe went through a handler thread")
        for c in slow { c.reset() }
    }

    @Test("item 11: a client streaming as fast as it can does not freeze the others")
    func fairness() throws {
        var config = ServerConfig()
        config.limits.maxBodyBytes = 1 << 30
        let s = try TestServer(config: config)
        let hog = try TestClient(port: s.port)
        let stop = Locked(0)
        // A chunked body of one-byte chunks, as fast as the socket takes it.
        hog.send("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        let block = Array(String(repeating: "1\r\nA\r\n", count: 100_000).utf8)
        let writer = Thread {
            while stop.withLock({ $0 }) == 0 { if !hog.send(block) { break } }
        }
        writer.start()
        Thread.sleep(forTimeInterval: 0.3)
        let other = try TestClient(port: s.port, timeout: 3)
        var worst = 0.0
        for _ in 0..<20 {
            let t0 = Date()
            other.send(TestClient.request("GET", "/echo"))
            #expect(other.readFinal()?.status == 200)
            worst = max(worst, Date().timeIntervalSince(t0))
            Thread.sleep(forTimeInterval: 0.05)
        }
        stop.withLock { $0 = 1 }
        hog.reset()
        print("beside a client streaming a chunked body: slowest of 20 requests \(worst * 1000) ms")
        #expect(worst < 1.0, "slowest request beside the stream: \(worst) s")
    }

    @Test("item 12: empty lines are not activity; the idle timeout closes a CRLF trickler")
    func emptyLinesIdle() throws {
        var config = ServerConfig()
        config.idleTimeout = 1
        let s = try TestServer(config: config)
        let c = try TestClient(port: s.port)
        let t0 = Date()
        var closed = false
        while !closed && Date().timeIntervalSince(t0) < 6 {
            if !c.send("\r\n") { closed = true; break }
            c.setTimeout(0.3)
            var b = [UInt8](repeating: 0, count: 256)
            let n = recv(c.fd, &b, b.count, 0)
            if n == 0 || (n < 0 && errno == ECONNRESET) { closed = true }
            if n > 0 { closed = c.closedByServer() }   // a 400 for too many empty lines, then close
        }
        #expect(closed, "closed after \(Date().timeIntervalSince(t0)) s")
        #expect(Date().timeIntervalSince(t0) < 4)
    }

    @Test("item 12: past the connection cap a new client gets 503 at once, then the server serves again")
    func connectionCap() throws {
        var config = ServerConfig()
        config.maxConnections = 3
        let s = try TestServer(config: config)
        var held = try (0..<3).map { _ in try TestClient(port: s.port) }
        #expect(eventually { s.server.openConnections == 3 })
        for _ in 0..<5 {
            let c = try TestClient(port: s.port, timeout: 3)
            let t0 = Date()
            c.send(TestClient.request("GET", "/x"))
            let r = c.readFinal()
            #expect(r?.status == 503 && r?.headers["retry-after"] == "1" && r?.headers["connection"] == "close")
            #expect(c.closedByServer())
            #expect(Date().timeIntervalSince(t0) < 2)
        }
        held.removeAll()
        #expect(eventually { s.server.openConnections == 0 })
        let c = try TestClient(port: s.port)
        c.send(TestClient.request("GET", "/x"))
        #expect(c.readFinal()?.status == 200)
    }

    @Test("item 14: a departed client's pipelined requests are cancelled at once (FIN after close, or reset)", arguments: [false, true])
    func departedPipeline(reset: Bool) throws {
        var config = ServerConfig()
        config.handlerThreads = 2
        let s = try TestServer(config: config)
        let c = try TestClient(port: s.port)
        // 40 pipelined requests of 3 s each: the server has 16+ queued and reads no more.
        c.send(String(repeating: TestClient.request("GET", "/slow?3000"), count: 40))
        #expect(eventually { s.started >= 1 })
        Thread.sleep(forTimeInterval: 0.2)
        let t0 = Date()
        if reset { c.reset() } else { c.closeNow() }
        // Noticed while the first request still runs (not when its answer bounces 3 s later).
        #expect(eventually(1.5) { s.cancelled >= 1 }, "the running request was cancelled")
        #expect(Date().timeIntervalSince(t0) < 1.5)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(s.started == 1, "\(s.started) handlers ran for a client that had left")
        #expect(eventually { s.server.openConnections == 0 })
    }

    @Test("item 20: a half-closed client (shutdown(SHUT_WR) after sending, like nc -N) still gets its answers")
    func halfClose() throws {
        let s = try TestServer()
        for path in ["/slow?300", "/x"] {
            let c = try TestClient(port: s.port)
            c.send(TestClient.request("GET", path) + TestClient.request("GET", "/echo?second"))
            c.shutdownWrite()
            let first = c.readFinal()
            #expect(first?.status == 200, "\(path)")
            #expect(c.readFinal()?.text == "GET /echo second 0")
            #expect(c.closedByServer())
        }
        #expect(s.cancelled == 0)
    }

    @Test("item 20: a 408 carries X-Request-Id (the client's when its head arrived)")
    func timeoutHasRequestID() throws {
        var config = ServerConfig()
        config.readTimeout = 0.5
        let s = try TestServer(config: config)
        let a = try TestClient(port: s.port)
        a.send("POST /echo HTTP/1.1\r\nHost: a\r\nX-Request-Id: slow-1\r\nContent-Length: 10\r\n\r\nabc")
        let ra = a.readFinal()
        #expect(ra?.status == 408)
        #expect(ra?.headers["x-request-id"] == "slow-1")
        let b = try TestClient(port: s.port)
        b.send("POST /echo HTTP/1.1\r\nHost: a\r\n")
        let rb = b.readFinal()
        #expect(rb?.status == 408)
        #expect((rb?.headers["x-request-id"]?.count ?? 0) >= 16)
    }

    // MARK: HTTP correctness

    @Test("item 16: HEAD answers never carry a body, and never take the next answer's body")
    func headRace() throws {
        let s = try TestServer()
        // Another client keeps the event loop busy, so that it often looks at finished work
        // between a handler's return and the next poll.
        let stop = Locked(0)
        let busy = try TestClient(port: s.port)
        let hammer = Thread {
            while stop.withLock({ $0 }) == 0 {
                busy.send(TestClient.request("GET", "/x"))
                if busy.readFinal() == nil { break }
            }
        }
        hammer.start()
        defer { stop.withLock { $0 = 1 } }
        let c = try TestClient(port: s.port)
        for i in 0..<800 {
            c.send(TestClient.request("HEAD", "/echo") + TestClient.request("GET", "/echo?\(i)"))
            let h = c.read(head: true)
            #expect(h?.status == 200 && h?.headers["content-length"] == "\("HEAD /echo - 0".utf8.count)")
            let g = c.read()
            guard g?.text == "GET /echo \(i) 0" else {
                Issue.record("round \(i): \(String(describing: g?.status)) \(g?.text ?? "nil")")
                return
            }
        }
    }

    @Test("item 18: absolute-form routed by path; missing or double Host 400; Expect other than 100-continue 417")
    func targetsHostExpect() throws {
        let s = try TestServer()
        let a = try TestClient(port: s.port)
        a.send("POST http://127.0.0.1/echo?q=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}")
        #expect(a.readFinal()?.text == "POST /echo q=1 2")
        for (text, want) in [("GET /x HTTP/1.1\r\n\r\n", 400), ("GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
                             ("POST /x HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}", 417)] {
            let c = try TestClient(port: s.port)
            c.send(text)
            let r = c.readFinal()
            #expect(r?.status == want, "\(text.debugDescription)")
            #expect(r?.headers["x-request-id"]?.isEmpty == false)
            #expect(c.closedByServer())
        }
        let old = try TestClient(port: s.port)
        old.send("GET /x HTTP/1.0\r\n\r\n")
        #expect(old.readFinal()?.status == 200)
    }

    @Test("item 18: a pipelined Expect: 100-continue is answered 100 only after the earlier response")
    func pipelinedContinue() throws {
        let s = try TestServer()
        let c = try TestClient(port: s.port)
        c.send(TestClient.request("GET", "/slow?300") + "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        let first = c.read()
        #expect(first?.status == 200 && first?.text == "slept", "the earlier answer first, got \(String(describing: first?.status))")
        let cont = c.read()
        #expect(cont?.status == 100)
        c.send("body")
        #expect(c.read()?.text == "POST /echo - 4")
    }
}
