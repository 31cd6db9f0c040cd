import CZlib
import Foundation

/// `Content-Encoding` of request bodies and responses: gzip and deflate through zlib.
///
/// A request body is inflated with its inflated size bounded: past `limit` bytes inflation stops
/// and the request is refused (413) without the rest being inflated, so a small body that would
/// inflate to gigabytes (a decompression bomb) costs at most `limit` bytes and the time to
/// produce them. Responses are gzip-compressed when the client accepts gzip and the body is
/// large enough to gain from it.
public enum ContentCoding {
    public enum Failure: Error, Equatable {
        /// The inflated body would exceed the limit.
        case tooLarge(limit: Int)
        /// Not valid data in the declared coding (the message says what zlib found).
        case corrupt(String)
        /// A coding we do not decode (`br`, `zstd`, several codings stacked, ...).
        case unsupported(String)
    }

    /// Responses smaller than this go out uncompressed (headers and framing would eat the gain).
    public static let compressThreshold = 1024

    /// The body decoded per its `Content-Encoding` header value (nil or `identity`: unchanged).
    public static func decode(_ body: [UInt8], encoding: String?, limit: Int) throws(Failure) -> [UInt8] {
        guard let encoding else { return body }
        let codings = encoding.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty && $0 != "identity" }
        if codings.isEmpty { return body }
        guard codings.count == 1 else { throw .unsupported(encoding) }
        switch codings[0] {
        case "gzip", "x-gzip": return try inflate(body, windowBits: 16 + MAX_WBITS, limit: limit)
        case "deflate":
            // RFC 9110's deflate is the zlib format; some clients send a raw deflate stream.
            do { return try inflate(body, windowBits: MAX_WBITS, limit: limit) } catch .corrupt {
                return try inflate(body, windowBits: -MAX_WBITS, limit: limit)
            }
        default: throw .unsupported(codings[0])
        }
    }

    /// Inflates `input` (zlib `windowBits` selects gzip, zlib or raw), producing at most `limit` bytes.
    static func inflate(_ input: [UInt8], windowBits: Int32, limit: Int) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corrupt("zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var rc: Int32 = Z_OK
        var consumed = 0
        repeat {
            // zlib counts in UInt32: feed at most 1 GiB of input per call.
            let feed = min(input.count - consumed, 1 << 30)
            rc = input.withUnsafeBufferPointer { inp in
                chunk.withUnsafeMutableBufferPointer { buf in
                    stream.next_in = UnsafeMutablePointer(mutating: inp.baseAddress.map { $0 + consumed })
                    stream.avail_in = UInt32(feed)
                    stream.next_out = buf.baseAddress
                    stream.avail_out = UInt32(buf.count)
                    let r = CZlib.inflate(&stream, Z_NO_FLUSH)
                    consumed += feed - Int(stream.avail_in)
                    return r
                }
            }
            let produced = chunk.count - Int(stream.avail_out)
            guard out.count + produced <= limit else { throw .tooLarge(limit: limit) }
            // Grown by hand so that the buffer's capacity never passes `limit` (what was reserved).
            if out.count + produced > out.capacity {
                out.reserveCapacity(min(limit, max(2 * out.capacity, out.count + produced, 64 << 10)))
            }
            out.append(contentsOf: chunk[0..<produced])
            switch rc {
            case Z_OK, Z_STREAM_END: break
            case Z_BUF_ERROR where produced > 0 || consumed < input.count: break
            case Z_BUF_ERROR: throw .corrupt("the compressed body ends early")
            default: throw .corrupt(stream.msg.map { String(cString: $0) } ?? "zlib error \(rc)")
            }
            // gzip allows several members one after another (RFC 1952 §2.2, `cat a.gz b.gz`).
            if rc == Z_STREAM_END, windowBits > MAX_WBITS, input.count - consumed >= 2,
               input[consumed] == 0x1F, input[consumed + 1] == 0x8B {
                guard inflateReset(&stream) == Z_OK else { throw .corrupt("zlib could not restart") }
                rc = Z_OK
            }
        } while rc != Z_STREAM_END
        guard consumed == input.count else { throw .corrupt("\(input.count - consumed) bytes after the end of the compressed body") }
        return out
    }

    /// Whether an `Accept-Encoding` value accepts gzip (q > 0, directly or through `*`).
    public static func acceptsGzip(_ value: String?) -> Bool {
        guard let value else { return false }
        var gzip: Double?, star: Double?
        for item in value.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let name = parts.first, !name.isEmpty else { continue }
            var q = 1.0
            for p in parts.dropFirst() where p.hasPrefix("q=") { q = Double(p.dropFirst(2)) ?? 0 }
            if !(q >= 0 && q <= 1) { q = 0 }   // NaN or out of range: not accepted
            if name == "gzip" || name == "x-gzip" { gzip = q } else if name == "*" { star = q }
        }
        return (gzip ?? star ?? 0) > 0
    }

    /// gzip of `body` (level 1: these are JSON bodies, and speed matters more than the last bytes).
    public static func gzip(_ body: [UInt8]) -> [UInt8]? {
        var stream = z_stream()
        guard deflateInit2_(&stream, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                            Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        guard body.count < Int(UInt32.max) / 2 else { return nil }
        let bound = Int(deflateBound(&stream, UInt(body.count)))
        var out = [UInt8](repeating: 0, count: bound)
        let rc = body.withUnsafeBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { buf in
                stream.next_in = UnsafeMutablePointer(mutating: inp.baseAddress)
                stream.avail_in = UInt32(inp.count)
                stream.next_out = buf.baseAddress
                stream.avail_out = UInt32(buf.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard rc == Z_STREAM_END else { return nil }
        out.removeLast(Int(stream.avail_out))
        return out
    }
}
