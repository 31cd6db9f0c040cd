import Foundation
import HTTPServer
import Testing

@testable import RankerHTTP
@testable import RankerService

/// Compressed request bodies (gzip, deflate) with the body limit applied to the inflated size,
/// gzip responses for clients that accept them, and the memory a request's inflated body and
/// parsed JSON take, reserved in the server's one budget of request bytes.
@Suite(.serialized) struct WireContentCodingTests {
    static let rankBody = #"{"input":"2+2?","candidates":["4","5","four","5, surely","it is 4"]}"#

    static func post(_ path: String, _ body: [UInt8], headers: [String: String]) -> [UInt8] {
        var s = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        for (k, v) in headers { s += "\(k): \(v)\r\n" }
        s += "Content-Length: \(body.count)\r\n\r\n"
        return Array(s.utf8) + body
    }

    /// The deflate format with one stored block (RFC 1951 §3.2.4), wrapped as zlib (RFC 1950) or raw.
    static func deflateStored(_ data: [UInt8], zlib: Bool) -> [UInt8] {
        precondition(data.count < 65536)
        let n = UInt16(data.count)
        var out: [UInt8] = zlib ? [0x78, 0x01] : []
        out += [0x01, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8(~n >> 8)] + data
        if zlib {
            var a: UInt32 = 1, b: UInt32 = 0
            for x in data { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
            let adler = b << 16 | a
            out += [UInt8(adler >> 24), UInt8(adler >> 16 & 0xFF), UInt8(adler >> 8 & 0xFF), UInt8(adler & 0xFF)]
        }
        return out
    }

    @Test("gzip, zlib deflate and raw deflate bodies are answered exactly as the plain body")
    func compressedBodies() throws {
        let live = LiveServerTests.live
        let plain = Array(Self.rankBody.utf8)
        let c = try RawHTTPClient(port: live.port)
        c.send(Self.post("/rank", plain, headers: [:]))
        let expected = try #require(c.read())
        #expect(expected.status == 200)
        let bodies: [(String, [UInt8])] = [
            ("gzip", try #require(ContentCoding.gzip(plain))),
            ("x-gzip", try #require(ContentCoding.gzip(plain))),
            ("deflate", Self.deflateStored(plain, zlib: true)),
            ("deflate", Self.deflateStored(plain, zlib: false)),
            ("GZIP", try #require(ContentCoding.gzip(plain))),
            ("identity", plain),
        ]
        // Two Content-Encoding fields are one list: identity, then gzip.
        let gz = try #require(ContentCoding.gzip(plain))
        c.send(Array("POST /rank HTTP/1.1\r\nHost: a\r\nContent-Encoding: identity\r\nContent-Encoding: gzip\r\nContent-Length: \(gz.count)\r\n\r\n".utf8) + gz)
        let twice = try #require(c.read())
        #expect(twice.status == 200, "\(twice.text)")
        for (coding, body) in bodies {
            c.send(Self.post("/rank", body, headers: ["Content-Encoding": coding]))
            let r = try #require(c.read())
            #expect(r.status == 200, "\(coding): \(r.text)")
            #expect(r.json?["ranks"] == expected.json?["ranks"] && r.json?["scores"] == expected.json?["scores"], "\(coding)")
        }
    }

    @Test("a decompression bomb is 413 after at most the limit is inflated; corrupt data 400; other codings 415")
    func refusals() throws {
        let live = try LiveServerTests.Live(maxBodyBytes: 1 << 20)
        // 64 MiB of spaces inside a JSON string compress to about 64 KiB.
        let bomb = try #require(ContentCoding.gzip(Array("{\"input\":\"".utf8) + [UInt8](repeating: 0x20, count: 64 << 20) + Array("\"}".utf8)))
        #expect(bomb.count < 512 << 10)
        let c = try RawHTTPClient(port: live.port)
        let start = Date()
        c.send(Self.post("/rank", bomb, headers: ["Content-Encoding": "gzip"]))
        let r = try #require(c.read())
        #expect(r.status == 413, "\(r.text)")
        #expect(r.text.contains("inflates past the limit of 1048576 bytes"), "\(r.text)")
        #expect(Date().timeIntervalSince(start) < 2)
        let plain = Array(Self.rankBody.utf8)
        var truncated = try #require(ContentCoding.gzip(plain))
        truncated.removeLast(9)
        let cases: [(String, [UInt8], Int, String)] = [
            ("gzip", truncated, 400, "not valid gzip data"),
            ("gzip", plain, 400, "not valid gzip data"),
            ("gzip", try #require(ContentCoding.gzip(plain)) + [0x41], 400, "after the end"),
            ("br", plain, 415, "Content-Encoding br is not supported"),
            ("gzip, gzip", plain, 415, "is not supported"),
        ]
        for (coding, body, status, says) in cases {
            let c = try RawHTTPClient(port: live.port)
            c.send(Self.post("/rank", body, headers: ["Content-Encoding": coding]))
            let r = try #require(c.read())
            #expect(r.status == status, "\(coding): \(r.text)")
            #expect(r.text.contains(says), "\(coding): \(r.text)")
            #expect(r.json?["detail"] != nil)
            if status == 415 { #expect(r.headers["accept-encoding"] == "gzip, deflate") }
        }
        #expect(live.server.bufferedRequestBytes == 0, "reservations returned")
    }

    @Test("responses are gzip when the client accepts it and the body is large; identical once inflated")
    func gzipResponses() throws {
        let live = LiveServerTests.live
        let body = JSON.object([("text", .string(String(repeating: "a few words to tokenize ", count: 60)))]).text
        let c = try RawHTTPClient(port: live.port)
        c.send(RawHTTPClient.request("POST", "/tokenize", body: body))
        let plain = try #require(c.read())
        #expect(plain.headers["content-encoding"] == nil)
        #expect(plain.headers["vary"] == "Accept-Encoding")
        #expect(plain.body.count >= ContentCoding.compressThreshold)
        for accept in ["gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*"] {
            c.send(RawHTTPClient.request("POST", "/tokenize", body: body, headers: ["Accept-Encoding": accept]))
            let z = try #require(c.read())
            #expect(z.status == 200)
            #expect(z.headers["content-encoding"] == "gzip", "\(accept)")
            let inflated = try ContentCoding.decode(z.body, encoding: "gzip", limit: 1 << 20)
            #expect(inflated == plain.body, "\(accept)")
            #expect(z.body.count < plain.body.count)
        }
        for accept in ["gzip;q=0", "identity", "br", "*;q=0"] {
            c.send(RawHTTPClient.request("POST", "/tokenize", body: body, headers: ["Accept-Encoding": accept]))
            #expect(try #require(c.read()).headers["content-encoding"] == nil, "\(accept)")
        }
        // Prometheus scrapes with Accept-Encoding: gzip; a small answer (/health) stays plain.
        c.send(RawHTTPClient.request("GET", "/metrics", headers: ["Accept-Encoding": "gzip"]))
        let m = try #require(c.read())
        #expect(m.headers["content-encoding"] == "gzip")
        let text = String(decoding: try ContentCoding.decode(m.body, encoding: "gzip", limit: 16 << 20), as: UTF8.self)
        #expect(text.contains("# TYPE pairranker_requests_total counter"))
        c.send(RawHTTPClient.request("GET", "/health", headers: ["Accept-Encoding": "gzip"]))
        #expect(try #require(c.read()).headers["content-encoding"] == nil)
        // HEAD: the same head as GET (its Content-Length that of the gzip body), no body.
        c.send(RawHTTPClient.request("GET", "/openapi.yaml", headers: ["Accept-Encoding": "gzip"]))
        let get = try #require(c.read())
        let h = try RawHTTPClient(port: live.port)
        h.send(RawHTTPClient.request("HEAD", "/openapi.yaml", headers: ["Accept-Encoding": "gzip", "Connection": "close"]))
        var raw: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while case let n = recv(h.fd, &chunk, chunk.count, 0), n > 0 { raw += chunk[0..<n] }
        let head = String(decoding: raw, as: UTF8.self)
        #expect(head.contains("Content-Encoding: gzip\r\n"), "\(head)")
        #expect(head.contains("Content-Length: \(get.body.count)\r\n"), "\(head)")
        #expect(head.hasSuffix("\r\n\r\n"))
    }

    @Test("the parsed JSON and the inflated body are reserved in the request-byte budget: 503 with Retry-After past it, released after")
    func memoryBudget() throws {
        var config = ServerConfig()
        config.maxBufferedRequestBytes = 2 << 20
        let live = try LiveServerTests.Live(config: config, maxBodyBytes: 4 << 20)
        let c = try RawHTTPClient(port: live.port)
        // Small: parses and runs.
        c.send(Self.post("/rank", Array(Self.rankBody.utf8), headers: [:]))
        #expect(try #require(c.read()).status == 200)
        // 24 KB of "[0,0,...]": its tree may take 12,000 values x 128 bytes, 1.5 MiB; with a
        // second such body held by a stalled reservation the budget is past.
        let wide = Array((#"{"input":"q","candidates":["a","b"],"x":["# + Array(repeating: "0", count: 12_000).joined(separator: ",") + "]}").utf8)
        #expect(JSON.parseBytesBound(wide) < 2 << 20)
        #expect(JSON.parseBytesBound(wide) > 1 << 20)
        #expect(live.server.memory.reserve(1 << 20))   // another request's reservation
        defer { live.server.memory.release(1 << 20) }
        let c2 = try RawHTTPClient(port: live.port)
        c2.send(Self.post("/rank", wide, headers: [:]))
        let r = try #require(c2.read())
        #expect(r.status == 503, "\(r.text)")
        #expect(r.headers["retry-after"] == "1")
        #expect(r.json?["error"]?["type"] == .string("overloaded"))
        #expect(r.text.contains("request memory"), "\(r.text)")
        // A body whose parsed JSON could never fit the whole budget: 413, not a retry.
        let huge = Array(("[" + Array(repeating: "0", count: 20_000).joined(separator: ",") + "]").utf8)
        let c4 = try RawHTTPClient(port: live.port)
        c4.send(Self.post("/rank", huge, headers: [:]))
        let r4 = try #require(c4.read())
        #expect(r4.status == 413 && r4.text.contains("whole budget"), "\(r4.text)")
        // A compressed body whose inflate limit (4 MiB) is past the whole 2 MiB budget: 413, never
        // a 503 to retry forever.
        let c3 = try RawHTTPClient(port: live.port)
        c3.send(Self.post("/rank", try #require(ContentCoding.gzip(Array(Self.rankBody.utf8))), headers: ["Content-Encoding": "gzip"]))
        let r3 = try #require(c3.read())
        #expect(r3.status == 413 && r3.text.contains("whole budget"), "\(r3.text)")
        // One that fits the budget but not what is free now: 503.
        let small = try LiveServerTests.Live(config: config, maxBodyBytes: 1 << 20)
        #expect(small.server.memory.reserve(3 << 19))
        defer { small.server.memory.release(3 << 19) }
        let c5 = try RawHTTPClient(port: small.port)
        c5.send(Self.post("/rank", try #require(ContentCoding.gzip(Array(Self.rankBody.utf8))), headers: ["Content-Encoding": "gzip"]))
        let r5 = try #require(c5.read())
        #expect(r5.status == 503 && r5.headers["retry-after"] == "1", "\(r5.text)")
        #expect(live.server.memory.reservedByHandlers == 1 << 20, "every reservation but the test's own returned")
        #expect(live.server.peakBufferedRequestBytes <= 2 << 20)
        // And the server still answers.
        c.send(Self.post("/rank", Array(Self.rankBody.utf8), headers: [:]))
        #expect(try #require(c.read()).status == 200)
    }
}
