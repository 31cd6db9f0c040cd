import Foundation
import Testing

@testable import HTTPServer

/// The parser against hostile input: memory a client can make the parser hold, strict chunked framing,
/// Host, request-target forms, Expect, empty lines.
@Suite struct HTTPParserHardeningTests {
    func drain(_ p: inout HTTPParser) throws(HTTPParseError) -> [HTTPParser.Event] {
        var events: [HTTPParser.Event] = []
        while let e = try p.next() { events.append(e) }
        return events
    }

    func status(_ text: String, limits: HTTPLimits = HTTPLimits()) -> Int? {
        var p = HTTPParser(limits: limits)
        p.feed(Array(text.utf8))
        do { _ = try drain(&p); return nil } catch { return error.status }
    }

    func requests(_ text: String) -> [HTTPRequest] {
        var p = HTTPParser()
        p.feed(Array(text.utf8))
        return ((try? drain(&p)) ?? []).compactMap { if case let .request(r) = $0 { return r }; return nil }
    }

    @Test("item 6: a client whose every write ends with the next request's first byte does not grow the buffer")
    func compaction() throws {
        let body = [UInt8](repeating: 0x61, count: 256 * 1024)
        let head = Array("POST /rank HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        let request = head + body
        var p = HTTPParser()
        var served = 0
        var maxHeld = 0
        p.feed(Array(request[0..<1]))
        for _ in 0..<200 {
            // The rest of this request, then the first byte of the next one.
            p.feed(Array(request[1...]) + [request[0]])
            served += try drain(&p).count
            maxHeld = max(maxHeld, p.heldBytes)
        }
        #expect(served == 200)
        // Without compaction this held all 200 requests (~51 MiB).
        #expect(maxHeld < 3 * request.count, "held \(maxHeld) bytes for requests of \(request.count)")
        #expect(p.bufferedBytes == 1)
    }

    @Test("item 6: an idle parser gives a large buffer back (at most 32 KiB kept per connection)")
    func idleCapacity() throws {
        var p = HTTPParser()
        let one = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3000\r\n\r\n" + String(repeating: "b", count: 3000)
        p.feed(Array(String(repeating: one, count: 40).utf8))   // 120 KB in one read
        #expect(p.storageCapacity >= 100_000)
        #expect(try drain(&p).count == 40)
        #expect(p.storageCapacity <= 32 * 1024, "idle parser holds \(p.storageCapacity) bytes")
    }

    @Test("item 7: chunk extensions and trailers are bounded, checked and not kept")
    func chunkedBounds() throws {
        var l = HTTPLimits()
        l.maxChunkExtensionBytes = 1000
        l.maxHeaderCount = 5
        l.maxHeaderBytes = 512
        let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        // Extensions: fine below the budget, refused past it (summed over chunks).
        let ext = ";name=" + String(repeating: "v", count: 100)
        #expect(status(head + String(repeating: "1\(ext)\r\na\r\n", count: 9) + "0\r\n\r\n", limits: l) == nil)
        #expect(status(head + String(repeating: "1\(ext)\r\na\r\n", count: 12), limits: l) == 400)
        // One complete chunk line over the line limit.
        #expect(status(head + "1;" + String(repeating: "x", count: 2000) + "\r\na\r\n", limits: l) == 400)
        // Trailers: count and bytes.
        #expect(status(head + "0\r\n" + String(repeating: "T: v\r\n", count: 5) + "\r\n", limits: l) == nil)
        #expect(status(head + "0\r\n" + String(repeating: "T: v\r\n", count: 6) + "\r\n", limits: l) == 431)
        #expect(status(head + "0\r\n" + String(repeating: "Trailer-Field: " + String(repeating: "v", count: 100) + "\r\n", count: 5), limits: l) == 431)
        #expect(status(head + "0\r\nT: " + String(repeating: "v", count: 600), limits: l) == 431, "refused before the line ends")
        // Streaming extensions for a long time holds nothing: each line is dropped once read.
        var p = HTTPParser()
        p.feed(Array(head.utf8))
        var maxHeld = 0
        for _ in 0..<200 {
            p.feed(Array("1;e=\(String(repeating: "z", count: 60))\r\nq\r\n".utf8))
            _ = try drain(&p)
            maxHeld = max(maxHeld, p.heldBytes)
        }
        #expect(maxHeld < 4096, "held \(maxHeld) bytes")
        #expect(p.bufferedBytes == 200, "only the body is kept")
    }

    @Test("item 17: strict chunk sizes (RFC 9112 §7.1) and no control bytes in extensions or trailers", arguments: [
        ("1 0\r\n", 400), ("1\t0\r\n", 400), (" 1\r\n", 400), ("1 \r\n", 400), ("0x1\r\n", 400), ("+1\r\n", 400),
        ("-0\r\n", 400), ("\r\n", 400), ("g\r\n", 400), ("1;a=\u{01}\r\n", 400), ("1;a\u{7F}\r\n", 400),
        ("ffffffffffffffffffffffff\r\n", 413), ("7fffffffffffffff\r\n", 413), ("1\r\na\r\n0\r\nX: \u{01}\r\n\r\n", 400),
        ("1\r\na\r\n0\r\n folded\r\n\r\n", 400), ("1\r\na\r\n0\r\nBad Name: v\r\n\r\n", 400), ("1\r\na\nXY", 400),
    ])
    func strictChunks(chunks: String, want: Int) {
        let text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
        #expect(status(text) == want, "\(chunks.debugDescription)")
    }

    @Test("item 17: what RFC 9112 allows is still accepted")
    func lenientWhereAllowed() {
        let head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        for chunks in ["A\r\n0123456789\r\n0\r\n\r\n", "00000a\r\n0123456789\r\n0\r\n\r\n", "a ;x=1\r\n0123456789\r\n0\r\n\r\n",
                       "a;x=\"q ;\"\r\n0123456789\r\n0;last\r\nTrailer: t\r\n\r\n"] {
            let rs = requests(head + chunks)
            #expect(rs.count == 1 && rs.first?.body == Array("0123456789".utf8), "\(chunks.debugDescription)")
        }
    }

    @Test("item 18: Host is required once in HTTP/1.1 and must be valid", arguments: [
        ("GET / HTTP/1.1\r\n\r\n", 400), ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400), ("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400), ("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400), ("GET rank HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET ftp://a/rank HTTP/1.1\r\nHost: a\r\n\r\n", 400), ("GET http:/// HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET http://a#b/rank HTTP/1.1\r\nHost: a\r\n\r\n", 400), ("GET /rank#x HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ])
    func host(text: String, want: Int) {
        #expect(status(text) == want, "\(text.debugDescription)")
    }

    @Test("item 18: HTTP/1.0 without Host, IPv6 and port hosts, empty Host are accepted")
    func hostAccepted() {
        for text in ["GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n",
                     "GET / HTTP/1.1\r\nHost:\r\n\r\n"] {
            #expect(requests(text).count == 1, "\(text.debugDescription)")
        }
    }

    @Test("item 18: absolute-form targets are routed by their path and query")
    func absoluteForm() {
        let cases: [(String, String, String?)] = [
            ("http://example.com/rank", "/rank", nil), ("HTTP://example.com:8080/rank?x=1", "/rank", "x=1"),
            ("https://h/compare/", "/compare/", nil), ("http://h", "/", nil), ("http://h?q", "/", "q"), ("/plain?a=b", "/plain", "a=b"),
        ]
        for (target, path, query) in cases {
            let rs = requests("POST \(target) HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}")
            #expect(rs.count == 1, "\(target)")
            #expect(rs.first?.path == path, "\(target)")
            #expect(rs.first?.query == query, "\(target)")
        }
    }

    @Test("path and query never trap, whatever a target holds (it is public)")
    func pathIsTotal() {
        for t in ["", "http://", "https://", "HTTP:/", "http://é/x", "ｈttp://x/y", "http://\u{212A}/p", "https://a?", "?", "http://?#"] {
            let r = HTTPRequest(method: "GET", target: t, version: .http11, headers: [], body: [])
            #expect(!r.path.isEmpty, "\(t.debugDescription)")
            _ = r.query
        }
        #expect(HTTPRequest(method: "GET", target: "http://é/x", version: .http11, headers: [], body: []).path == "/x")
    }

    @Test("item 18: Expect other than 100-continue is 417; 100-continue in any case asks for the body")
    func expect() {
        #expect(status("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n") == 417)
        #expect(status("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nExpect: x\r\nContent-Length: 2\r\n\r\n") == 417)
        var p = HTTPParser()
        p.feed(Array("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n".utf8))
        #expect((try? drain(&p)) == [.continueExpected])
        // HTTP/1.0 knows no 1xx: Expect is ignored there.
        var old = HTTPParser()
        old.feed(Array("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8))
        #expect((try? drain(&old)) == [])
    }

    @Test("item 12: a bounded number of empty lines before a request")
    func emptyLines() {
        #expect(requests(String(repeating: "\r\n", count: 8) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n").count == 1)
        #expect(status(String(repeating: "\r\n", count: 9) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n") == 400)
        // The count starts again after each request.
        let one = "\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"
        #expect(requests(String(repeating: one, count: 10)).count == 10)
        // Split between CR and LF.
        var p = HTTPParser()
        p.feed(Array("\r".utf8))
        #expect((try? drain(&p)) == [])
        p.feed(Array("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        #expect((try? drain(&p))?.count == 1)
    }

    @Test("a head sent one byte at a time is scanned once, not once per byte")
    func linearScan() throws {
        let text = "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X-Filler: " + String(repeating: "f", count: 90) + "\r\n", count: 300) + "\r\n"
        let bytes = Array(text.utf8)
        var l = HTTPLimits()
        l.maxHeaderCount = 1000
        var p = HTTPParser(limits: l)
        let t0 = Date()
        var got = 0
        for b in bytes {
            p.feed([b])
            got += try drain(&p).count
        }
        #expect(got == 1)
        // Rescanning from the start on every byte is ~450M comparisons for these 30 KB.
        #expect(Date().timeIntervalSince(t0) < 3, "took \(Date().timeIntervalSince(t0)) s")
    }

    @Test("fuzz regressions: every input the HTTP fuzzer crashed on parses or fails cleanly")
    func fuzzRegressions() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../fuzz/regressions/http").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(!files.isEmpty)
        for f in files {
            let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent(f)))
            var p = HTTPParser()
            p.feed(bytes)
            let events = (try? drain(&p)) ?? []
            for case let .request(r) in events { #expect(r.path.hasPrefix("/"), "\(f): path \(r.path)") }
        }
    }
}
