import EngineTestSupport
import Foundation
import HTTPServer
import PairEngine
import TestSupport
import Testing

@testable import RankerHTTP
@testable import RankerService

/// The real server on 127.0.0.1 with the fixture model.
@Suite(.serialized) struct LiveServerTests {
    final class Live: @unchecked Sendable {
        let server: HTTPServer
        let app: RankerHTTPApp
        var port: Int { server.port }
        init(config: ServerConfig = ServerConfig(), apiKey: String? = nil, ready: Bool = true, engine: InferenceEngine? = nil,
             maxBodyBytes: Int = RankerHTTPApp.Settings().maxBodyBytes, log: @escaping @Sendable (String) -> Void = { _ in }) throws {
            var settings = RankerHTTPApp.Settings()
            settings.apiKey = apiKey
            settings.maxBodyBytes = maxBodyBytes
            settings.openapi = OpenAPIDocument.text
            app = RankerHTTPApp(metrics: Metrics(), settings: settings, log: log)
            let service = engine.map { RankerService(model: Support.model, engine: $0) } ?? Support.service
            app.attach(service: service, info: .object([("model", .string("fixture"))]))
            app.setReady(ready)
            var c = config
            c.port = 0
            let app = self.app
            server = HTTPServer(config: c, handler: { app.handle($0, $1) })
            app.install(on: server)
            try server.start()
        }
        deinit { server.stop() }
    }

    static let live = try! Live()

    @Test("every route answers, with request id and timing headers")
    func routes() throws {
        let c = try RawHTTPClient(port: Self.live.port)
        let posts: [(String, String)] = [
            ("/compare", #"{"input":"2+2?","candidate_a":"4","candidate_b":"5"}"#),
            ("/rank", #"{"input":"2+2?","candidates":["4","5"]}"#),
            ("/rank", #"{"input":"2+2?","candidates":["4","5","6"],"mode":"bubble","seed":1}"#),
            ("/rank", #"{"input":"2+2?","candidates":["4","5"],"mode":"ref"}"#),
            ("/rerank", #"{"query":"2+2?","documents":["4","5"]}"#),
            ("/v1/rerank", #"{"query":"2+2?","documents":["4","5"]}"#),
            ("/v2/rerank", #"{"query":"2+2?","documents":["4","5"]}"#),
            ("/get_reward", #"{"query":["2+2? 4"],"prompts":["2+2?"],"labels":["4"]}"#),
            ("/tokenize", #"{"text":"hello"}"#),
        ]
        for (path, body) in posts {
            c.send(RawHTTPClient.request("POST", path, body: body, headers: ["X-Request-Id": "req-\(path.count)"]))
            let r = c.read()!
            #expect(r.status == 200, "\(path): \(r.text)")
            #expect(r.headers["x-request-id"] == "req-\(path.count)")
            #expect(r.headers["x-queue-time"] != nil && r.headers["x-inference-time"] != nil)
        }
        for path in ["/health", "/ready", "/metrics", "/info", "/openapi.yaml"] {
            c.send(RawHTTPClient.request("GET", path))
            let r = c.read()!
            #expect(r.status == 200, "\(path)")
            #expect(r.headers["x-request-id"]?.isEmpty == false)
        }
        c.send(RawHTTPClient.request("GET", "/openapi.yaml"))
        #expect(c.read()!.text == OpenAPIDocument.text)
        c.send(RawHTTPClient.request("GET", "/metrics"))
        let metrics = c.read()!.text
        #expect(metrics.contains(#"pairranker_requests_total{route="/compare",status="200"}"#))
        #expect(metrics.contains("pairranker_request_duration_seconds_bucket"))
    }

    @Test("documented error statuses")
    func errors() throws {
        let port = Self.live.port
        func one(_ raw: String) throws -> RawHTTPClient.Response {
            let c = try RawHTTPClient(port: port)
            c.send(raw)
            return c.read()!
        }
        let cases: [(String, Int)] = [
            (RawHTTPClient.request("POST", "/rank", body: "{nope"), 400),
            (RawHTTPClient.request("GET", "/nope"), 404),
            (RawHTTPClient.request("GET", "/rank"), 405),
            (RawHTTPClient.request("POST", "/health", body: "{}"), 405),
            ("POST /rank HTTP/1.1\r\nHost: a\r\n\r\n", 411),
            ("POST /rank HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413),
            (RawHTTPClient.request("POST", "/rank", body: "{}", headers: ["Content-Type": "application/xml"]).replacingOccurrences(of: "Content-Type: application/json\r\n", with: ""), 415),
            (RawHTTPClient.request("POST", "/rank", body: #"{"input":"q","candidates":[]}"#), 422),
            ("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 40000) + "\r\n\r\n", 431),
            ("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n\r\n", 414),
            ("GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ]
        for (raw, status) in cases {
            let r = try one(raw)
            #expect(r.status == status, "\(raw.prefix(60).debugDescription): \(r.status) \(r.text)")
            if status != 404 && status != 405 || true {
                #expect(r.json?["error"]?["message"] != nil, "\(status) has an error body")
            }
        }
        let r405 = try one(RawHTTPClient.request("GET", "/rank"))
        #expect(r405.headers["allow"] == "POST")

        let secured = try Live(apiKey: "s3cret")
        let a = try RawHTTPClient(port: secured.port)
        a.send(RawHTTPClient.request("POST", "/rank", body: #"{"input":"q","candidates":["a"]}"#))
        #expect(a.read()!.status == 401)
        a.send(RawHTTPClient.request("POST", "/rank", body: #"{"input":"q","candidates":["a"]}"#, headers: ["Authorization": "Bearer s3cret"]))
        #expect(a.read()!.status == 200)
        a.send(RawHTTPClient.request("GET", "/health"))
        #expect(a.read()!.status == 200)
        a.send(RawHTTPClient.request("GET", "/info"))
        #expect(a.read()!.status == 401)

        let loading = try Live(ready: false)
        let b = try RawHTTPClient(port: loading.port)
        b.send(RawHTTPClient.request("GET", "/ready"))
        #expect(b.read()!.status == 503)
        b.send(RawHTTPClient.request("POST", "/rank", body: #"{"input":"q","candidates":["a"]}"#))
        #expect(b.read()!.status == 503)
        b.send(RawHTTPClient.request("GET", "/health"))
        #expect(b.read()!.status == 200)
    }

    @Test("429 when over the admission limit and 504 past a deadline, through HTTP")
    func overloadAndDeadline() throws {
        let fake = FakeScorer(holding: true)
        var ec = BatchingEngine.Config()
        ec.maxQueuePairs = 4
        let engine = BatchingEngine(config: ec, scorer: fake.score)
        defer { engine.shutdown() }
        let live = try Live(engine: engine)
        let body = #"{"input":"q","candidate_a":"a","candidate_b":"b"}"#
        let a = try RawHTTPClient(port: live.port), b = try RawHTTPClient(port: live.port), c = try RawHTTPClient(port: live.port)
        a.send(RawHTTPClient.request("POST", "/compare", body: body))
        fake.entered.wait()
        b.send(RawHTTPClient.request("POST", "/compare", body: body, headers: ["X-Request-Timeout": "0.2"]))
        Thread.sleep(forTimeInterval: 0.05)
        c.send(RawHTTPClient.request("POST", "/compare", body: body))
        let rc = c.read()!
        #expect(rc.status == 429, "\(rc.text)")
        #expect(rc.json?["error"]?["type"] == .string("overloaded"))
        let rb = b.read()!
        #expect(rb.status == 504, "\(rb.text)")
        fake.holding = false
        fake.gate.signal()
        #expect(a.read()?.status == 200)
    }

    @Test("keep-alive, pipelining in order, HTTP/1.0 and Connection: close")
    func connections() throws {
        let c = try RawHTTPClient(port: Self.live.port)
        var pipelined = ""
        for i in 0..<5 { pipelined += RawHTTPClient.request("POST", "/tokenize", body: #"{"text":"\#(String(repeating: "x ", count: i))"}"#) }
        c.send(pipelined)
        for i in 0..<5 {
            let r = c.read()!
            #expect(r.status == 200)
            #expect(r.json!["ids"]!.numbers.count == 2 + i, "response \(i) in order")
        }
        c.send(RawHTTPClient.request("GET", "/health", headers: ["Connection": "close"]))
        #expect(c.read()?.headers["connection"] == "close")
        #expect(c.closedByServer())
        let old = try RawHTTPClient(port: Self.live.port)
        old.send("GET /health HTTP/1.0\r\n\r\n")
        #expect(old.read()?.status == 200)
        #expect(old.closedByServer())
        let cont = try RawHTTPClient(port: Self.live.port)
        cont.send("POST /tokenize HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 15\r\n\r\n")
        #expect(cont.read()?.status == 100)
        cont.send(#"{"text":"abc"}"# + " ")
        #expect(cont.read()?.status == 200)
    }

    @Test("a slow client times out while others are served")
    func slowClient() throws {
        var config = ServerConfig()
        config.readTimeout = 2
        config.idleTimeout = 1
        let live = try Live(config: config)
        let slow = try RawHTTPClient(port: live.port)
        slow.send("POST /rank HTTP/1.1\r\nContent-Length: 100\r\n")
        let start = Date()
        for _ in 0..<5 {
            let fast = try RawHTTPClient(port: live.port)
            fast.send(RawHTTPClient.request("POST", "/compare", body: #"{"input":"q","candidate_a":"a","candidate_b":"b"}"#))
            #expect(fast.read()?.status == 200)
        }
        #expect(Date().timeIntervalSince(start) < 2, "others are served while the slow client still holds its connection")
        let r = slow.read()
        #expect(r?.status == 408)
        #expect(slow.closedByServer())
        let idle = try RawHTTPClient(port: live.port)
        Thread.sleep(forTimeInterval: 1.6)
        #expect(idle.closedByServer(), "idle connections are closed")
    }

    @Test("IPv6: a server on :: answers over ::1 and 127.0.0.1 (dual stack)")
    func ipv6() throws {
        var config = ServerConfig()
        config.host = "::"
        let live = try Live(config: config)
        for host in ["[::1]", "127.0.0.1"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["curl", "-sg", "http://\(host):\(live.port)/health"]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            #expect(String(decoding: data, as: UTF8.self) == #"{"status":"ok"}"#, "\(host)")
        }
    }

    @Test("curl gets the same logits as the CLI")
    func curl() throws {
        let body = #"{"input":"What is 2+2?","candidate_a":"4","candidate_b":"five"}"#
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["curl", "-s", "http://127.0.0.1:\(Self.live.port)/compare", "-d", body]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let http = try JSON.parse([UInt8](data))
        let (code, cli, _) = try Support.run(["compare", "--model", Support.modelDir], stdin: body)
        #expect(code == 0)
        #expect(http["logit"] == (try JSON.parse(Array(cli.utf8)))["logit"])
    }
}

/// The real executable: SIGTERM while requests are in flight loses none and exits 0.
@Suite struct DrainTests {
    @Test("SIGTERM during requests: all answered, /ready 503 while draining, exit 0")
    func sigterm() throws {
        let port = FaultTests.freePort(0)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Support.executable)
        // A drain timeout long enough for sanitizer builds, which run many times slower.
        p.arguments = ["serve", "--model", Support.modelDir, "--port", String(port), "--drain-timeout", "120"]
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("pairranker-drain-\(getpid()).log").path
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardError = FileHandle(forWritingAtPath: log)
        try p.run()
        var up = false
        for _ in 0..<600 {
            if let c = try? RawHTTPClient(port: port) {
                c.send(RawHTTPClient.request("GET", "/ready"))
                if c.read()?.status == 200 { up = true; break }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(up)
        let statuses = try Self.ranksAcross(port: port) {
            kill(p.processIdentifier, SIGTERM)
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(statuses == Array(repeating: 200, count: 6), "every accepted request is answered: \(statuses)")
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        #expect((try? RawHTTPClient(port: port)) == nil, "the listener is closed")
    }

    /// Sends six /rank requests heavy enough to be in flight when `signal` runs (8 candidates,
    /// 56 pairs each), runs it, and returns their statuses.
    static func ranksAcross(port: Int, signal: () -> Void) throws -> [Int] {
        let cands = (0..<8).map { "candidate \($0) " + String(repeating: "word ", count: 60) }
        let body = JSON.object([("input", .string("rank these")), ("candidates", .array(cands.map(JSON.string)))]).text
        let clients = try (0..<6).map { _ in try RawHTTPClient(port: port, timeout: 300) }
        for c in clients { c.send(RawHTTPClient.request("POST", "/rank", body: body)) }
        Thread.sleep(forTimeInterval: 0.2)
        signal()
        return clients.map { $0.read()?.status ?? -1 }
    }
}
