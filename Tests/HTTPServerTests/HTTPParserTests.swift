import Testing

@testable import HTTPServer

@Suite struct HTTPParserTests {
    /// Feeds `bytes` in pieces cut at `cuts`, collecting events until the parser wants more or fails.
    func parse(_ bytes: [UInt8], cuts: [Int] = [], limits: HTTPLimits = HTTPLimits()) -> ([HTTPParser.Event], HTTPParseError?) {
        var p = HTTPParser(limits: limits)
        var events: [HTTPParser.Event] = []
        var last = 0
        for cut in cuts + [bytes.count] where cut >= last {
            p.feed(Array(bytes[last..<cut]))
            last = cut
            do { while let e = try p.next() { events.append(e) } } catch { return (events, error) }
        }
        return (events, nil)
    }

    func requests(_ events: [HTTPParser.Event]) -> [HTTPRequest] {
        events.compactMap { if case let .request(r) = $0 { return r }; return nil }
    }

    let post = Array("POST /rank?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"input\":\"q\"}".utf8)
    let chunked = Array("POST /rank HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n{\"inp\r\n8\r\nut\":\"q\"}\r\n0\r\nX-Trailer: 1\r\n\r\n".utf8)

    @Test("a request split at every byte offset parses the same")
    func everySplit() {
        for message in [post, chunked] {
            let (whole, err) = parse(message)
            #expect(err == nil)
            let want = requests(whole)
            #expect(want.count == 1 && want[0].body == Array("{\"input\":\"q\"}".utf8))
            for i in 0...message.count {
                let (events, e) = parse(message, cuts: [i])
                #expect(e == nil && requests(events) == want, "split at \(i)")
            }
            for i in stride(from: 0, to: message.count, by: 7) {
                let (events, _) = parse(message, cuts: Array(stride(from: i, to: message.count, by: 3)))
                #expect(requests(events) == want, "many splits from \(i)")
            }
        }
        #expect(requests(parse(post).0)[0].path == "/rank" && requests(parse(post).0)[0].query == "x=1")
    }

    @Test("pipelined requests come out in order; keep-alive rules")
    func pipelining() {
        let get = Array("GET /health HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        let close = Array("GET /ready HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".utf8)
        let old = Array("GET /metrics HTTP/1.0\r\n\r\n".utf8)
        let (events, err) = parse(get + post + chunked + close + old)
        let rs = requests(events)
        #expect(err == nil)
        #expect(rs.map(\.path) == ["/health", "/rank", "/rank", "/ready", "/metrics"])
        #expect(rs.map(\.keepAlive) == [true, true, true, false, false])
    }

    @Test("Expect: 100-continue asks for the body first")
    func expectContinue() {
        let head = Array("POST /rank HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8)
        let (events, _) = parse(head)
        #expect(events == [.continueExpected])
        let (all, _) = parse(head + Array("{}".utf8), cuts: [head.count])
        #expect(all.first == .continueExpected && requests(all).count == 1)
    }

    @Test("malformed, oversized and smuggling-shaped requests get the right status", arguments: [
        ("POST /rank HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST /rank HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
        ("POST /rank HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400),
        ("POST /rank HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", 400),
        ("POST /rank HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400),
        ("POST /rank HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        ("POST /rank HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400),
        ("POST /rank HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("POST /rank HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400),
        ("POST /rank HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
        ("GET / HTTP/1.1\nHost: a\n\n", 400),
        ("GET /  HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\n\r\n", 505),
        ("GET / FTP/1.1\r\n\r\n", 400),
        ("G(T / HTTP/1.1\r\n\r\n", 400),
        ("POST /rank HTTP/1.1\r\nHost: a\r\n\r\n", 411),
        ("POST /rank HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413),
        ("POST /rank HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ])
    func rejected(text: String, status: Int) {
        let (_, err) = parse(Array(text.utf8))
        #expect(err?.status == status, "\(text.debugDescription): \(String(describing: err))")
    }

    @Test("limits: request line, header bytes, header count, chunked body")
    func limits() {
        var l = HTTPLimits()
        l.maxRequestLineBytes = 64
        l.maxHeaderBytes = 256
        l.maxHeaderCount = 5
        l.maxBodyBytes = 10
        #expect(parse(Array(("GET /" + String(repeating: "a", count: 100) + " HTTP/1.1\r\n\r\n").utf8), limits: l).1?.status == 414)
        // Refused before the line ends: no unbounded buffering.
        #expect(parse(Array(("GET /" + String(repeating: "a", count: 100)).utf8), limits: l).1?.status == 414)
        #expect(parse(Array(("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 300) + "\r\n\r\n").utf8), limits: l).1?.status == 431)
        #expect(parse(Array(("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 300)).utf8), limits: l).1?.status == 431)
        let many = (0..<6).map { "H\($0): v\r\n" }.joined()
        #expect(parse(Array(("GET / HTTP/1.1\r\n" + many + "\r\n").utf8), limits: l).1?.status == 431)
        #expect(parse(Array("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n".utf8), limits: l).1?.status == 413)
        #expect(parse(Array("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n".utf8), limits: l).1?.status == 413)
    }

    @Test("after an error the parser stays failed")
    func sticky() {
        var p = HTTPParser()
        p.feed(Array("BAD\r\n\r\nGET / HTTP/1.1\r\n\r\n".utf8))
        #expect(throws: HTTPParseError.self) { _ = try p.next() }
        #expect(throws: HTTPParseError.self) { _ = try p.next() }
    }
}
