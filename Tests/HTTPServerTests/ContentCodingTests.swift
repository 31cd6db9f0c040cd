import Foundation
import Testing

@testable import HTTPServer

@Suite struct ContentCodingTests {
    static let json = Array(String(repeating: #"{"input":"What is 2+2?","candidates":["4","5","four"]},"#, count: 200).utf8)

    @Test("gzip round trip; identity and absent codings pass the body through")
    func roundTrip() throws {
        let z = try #require(ContentCoding.gzip(Self.json))
        #expect(z.count < Self.json.count / 5 && z.prefix(2) == [0x1f, 0x8b])
        #expect(try ContentCoding.decode(z, encoding: "gzip", limit: 1 << 20) == Self.json)
        #expect(try ContentCoding.decode(z, encoding: " GZIP ", limit: 1 << 20) == Self.json)
        #expect(try ContentCoding.decode(Self.json, encoding: nil, limit: 10) == Self.json)
        #expect(try ContentCoding.decode(Self.json, encoding: "identity", limit: 10) == Self.json)
    }

    @Test("deflate in the zlib format and as a raw stream")
    func deflate() throws {
        // zlib format: a 2-byte header, the raw stream, an Adler-32; raw: the gzip member's body.
        let z = try #require(ContentCoding.gzip(Self.json))
        let raw = Array(z[10..<(z.count - 8)])
        #expect(try ContentCoding.decode(raw, encoding: "deflate", limit: 1 << 20) == Self.json)
        var adler: UInt32 = 1
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in Self.json { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
        adler = (b << 16) | a
        let zlib = [0x78, 0x01] + raw + [UInt8(adler >> 24), UInt8(adler >> 16 & 0xff), UInt8(adler >> 8 & 0xff), UInt8(adler & 0xff)]
        #expect(try ContentCoding.decode(zlib, encoding: "deflate", limit: 1 << 20) == Self.json)
    }

    @Test("a decompression bomb stops at the limit without inflating the rest")
    func bomb() throws {
        let zeros = [UInt8](repeating: 0, count: 64 << 20)
        let z = try #require(ContentCoding.gzip(zeros))
        #expect(z.count < 400_000)
        let start = Date()
        #expect(throws: ContentCoding.Failure.tooLarge(limit: 4 << 20)) { try ContentCoding.decode(z, encoding: "gzip", limit: 4 << 20) }
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(try ContentCoding.decode(z, encoding: "gzip", limit: 64 << 20).count == 64 << 20)
    }

    @Test("corrupt, truncated, trailing and unsupported bodies are errors, not crashes")
    func refusals() throws {
        let z = try #require(ContentCoding.gzip(Self.json))
        for bad in [Array(z.prefix(z.count / 2)), [UInt8](repeating: 0x41, count: 100), [], z + [1, 2, 3]] {
            do { _ = try ContentCoding.decode(bad, encoding: "gzip", limit: 1 << 20); Issue.record("accepted \(bad.count) bad bytes") } catch {
                if case .corrupt = error {} else { Issue.record("\(error)") }
            }
        }
        #expect(throws: ContentCoding.Failure.unsupported("br")) { try ContentCoding.decode(z, encoding: "br", limit: 1 << 20) }
        #expect(throws: ContentCoding.Failure.unsupported("gzip, gzip")) { try ContentCoding.decode(z, encoding: "gzip, gzip", limit: 1 << 20) }
    }

    @Test("Accept-Encoding: gzip with q > 0, directly or through *")
    func accepts() {
        for yes in ["gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*", "deflate, *;q=0.1", "x-gzip", "GZip"] {
            #expect(ContentCoding.acceptsGzip(yes), "\(yes)")
        }
        for no in [nil, "", "identity", "gzip;q=0", "*;q=0", "gzip;q=0, *", "br", "gzip;q=nan", "gzip;q=2"] {
            #expect(!ContentCoding.acceptsGzip(no), "\(no ?? "nil")")
        }
    }
}

@Suite struct ContentCodingMembersTests {
    @Test("gzip members one after another (cat a.gz b.gz) inflate to their concatenation; other trailing bytes are corrupt")
    func members() throws {
        let a = Array(#"{"input":"#.utf8), b = Array(#""q","candidates":["a","b"]}"#.utf8)
        let z = try #require(ContentCoding.gzip(a)) + (try #require(ContentCoding.gzip(b)))
        #expect(try ContentCoding.decode(z, encoding: "gzip", limit: 1 << 20) == a + b)
        #expect(throws: ContentCoding.Failure.self) { try ContentCoding.decode(z + [0x41], encoding: "gzip", limit: 1 << 20) }
        // The limit counts every member.
        #expect(throws: ContentCoding.Failure.tooLarge(limit: a.count + 3)) {
            try ContentCoding.decode(z, encoding: "gzip", limit: a.count + 3)
        }
    }
}
