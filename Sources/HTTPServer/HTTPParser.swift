/// Limits enforced while parsing, before anything is buffered past them.
public struct HTTPLimits: Sendable, Equatable {
    public var maxRequestLineBytes = 8 * 1024
    public var maxHeaderBytes = 32 * 1024
    public var maxHeaderCount = 100
    public var maxBodyBytes = 4 * 1024 * 1024
    public init() {}
}

public struct HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public let status: Int
    public let message: String
    public var description: String { "\(status): \(message)" }
}

/// A pure, incremental HTTP/1.1 request parser (design.md §2 habit 8): bytes in, requests out.
/// It never reads a socket; the connection feeds it whatever arrived, split anywhere.
///
/// Refuses, with the status to answer: a request line over the limit (414), headers over the
/// byte or count limit (431), a body over the limit (413, decided from Content-Length before the
/// body arrives), a POST/PUT without a length (411), and everything request-smuggling is made of
/// (400): Content-Length with Transfer-Encoding, conflicting or malformed lengths, any transfer
/// coding but `chunked`, obs-fold, whitespace before the colon, bad chunk sizes, bare LF.
public struct HTTPParser: Sendable {
    public enum Event: Equatable, Sendable {
        /// The client sent `Expect: 100-continue` and its body has not arrived: answer 100 now.
        case continueExpected
        case request(HTTPRequest)
    }

    public let limits: HTTPLimits
    private var buffer: [UInt8] = []
    private var start = 0   // consumed prefix of buffer
    private var head: HTTPRequest?
    private var bodyMode: BodyMode = .none
    private var body: [UInt8] = []
    private var sentContinue = false
    private var failed: HTTPParseError?

    enum BodyMode: Equatable { case none, length(Int), chunkSize, chunkData(Int), chunkDataEnd, trailers }

    public init(limits: HTTPLimits = HTTPLimits()) { self.limits = limits }

    /// Bytes received but not yet part of a returned request.
    public var bufferedBytes: Int { buffer.count - start }
    /// True between the first byte of a request and its last.
    public var inRequest: Bool { head != nil || bufferedBytes > 0 }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
        buffer.append(contentsOf: bytes)
    }

    public mutating func feed(_ bytes: [UInt8]) { bytes.withUnsafeBytes { feed($0) } }

    /// The next event, nil when more bytes are needed. After an error the parser stays failed.
    public mutating func next() throws(HTTPParseError) -> Event? {
        if let failed { throw failed }
        do { return try step() } catch {
            failed = error
            throw error
        }
    }

    private func fail(_ status: Int, _ message: String) -> HTTPParseError { HTTPParseError(status: status, message: message) }

    /// Index of the CRLF ending the line that starts at `from`, nil if not yet received.
    /// A bare LF is an error.
    private func lineEnd(from: Int) throws(HTTPParseError) -> Int? {
        var i = from
        while i < buffer.count {
            if buffer[i] == 0x0A {
                guard i > from, buffer[i - 1] == 0x0D else { throw fail(400, "bare LF in the request head") }
                return i - 1
            }
            i += 1
        }
        return nil
    }

    private mutating func step() throws(HTTPParseError) -> Event? {
        if head == nil {
            if let event = try parseHead() { return event }  // 100-continue
            if head == nil { return nil }                     // head incomplete
        }
        return try parseBody()
    }

    private mutating func parseHead() throws(HTTPParseError) -> Event? {
        // Skip empty lines before a request (RFC 9112 §2.2).
        while buffer.count - start >= 2 && buffer[start] == 0x0D && buffer[start + 1] == 0x0A { start += 2 }
        guard let lineEnd = try lineEnd(from: start) else {
            if buffer.count - start > limits.maxRequestLineBytes { throw fail(414, "request line exceeds \(limits.maxRequestLineBytes) bytes") }
            return nil
        }
        if lineEnd - start > limits.maxRequestLineBytes { throw fail(414, "request line exceeds \(limits.maxRequestLineBytes) bytes") }
        // Find the end of the header block.
        var p = lineEnd + 2
        var headerLines: [Range<Int>] = []
        while true {
            guard let e = try self.lineEnd(from: p) else {
                if buffer.count - (lineEnd + 2) > limits.maxHeaderBytes { throw fail(431, "headers exceed \(limits.maxHeaderBytes) bytes") }
                return nil
            }
            if e == p { p += 2; break }
            headerLines.append(p..<e)
            if e + 2 - (lineEnd + 2) > limits.maxHeaderBytes { throw fail(431, "headers exceed \(limits.maxHeaderBytes) bytes") }
            if headerLines.count > limits.maxHeaderCount { throw fail(431, "more than \(limits.maxHeaderCount) header fields") }
            p = e + 2
        }
        var request = try parseRequestLine(start..<lineEnd)
        for r in headerLines { request.headers.append(try parseHeader(r)) }
        start = p
        try decideBody(request)
        head = request
        if case .length(let n) = bodyMode, n > 0, request.header("expect")?.lowercased() == "100-continue",
           buffer.count - start < n, !sentContinue {
            sentContinue = true
            return .continueExpected
        }
        if bodyMode == .chunkSize, request.header("expect")?.lowercased() == "100-continue", !sentContinue {
            sentContinue = true
            return .continueExpected
        }
        return nil
    }

    static func isTChar(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        default: return "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
    }

    private func parseRequestLine(_ r: Range<Int>) throws(HTTPParseError) -> HTTPRequest {
        let parts = buffer[r].split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { throw fail(400, "malformed request line") }
        guard parts[0].allSatisfy(Self.isTChar) else { throw fail(400, "malformed method") }
        guard parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw fail(400, "malformed request target") }
        let version: HTTPVersion
        switch String(decoding: parts[2], as: UTF8.self) {
        case "HTTP/1.1": version = .http11
        case "HTTP/1.0": version = .http10
        default:
            if parts[2].starts(with: Array("HTTP/".utf8)) { throw fail(505, "only HTTP/1.0 and HTTP/1.1 are supported") }
            throw fail(400, "malformed HTTP version")
        }
        return HTTPRequest(method: String(decoding: parts[0], as: UTF8.self), target: String(decoding: parts[1], as: UTF8.self),
                           version: version, headers: [], body: [])
    }

    private func parseHeader(_ r: Range<Int>) throws(HTTPParseError) -> (name: String, value: String) {
        let line = buffer[r]
        if let first = line.first, first == 0x20 || first == 0x09 { throw fail(400, "obsolete line folding in headers") }
        guard let colon = line.firstIndex(of: 0x3A), colon > line.startIndex else { throw fail(400, "malformed header line") }
        let name = line[line.startIndex..<colon]
        guard name.allSatisfy(Self.isTChar) else { throw fail(400, "malformed header name (whitespace before ':' is not allowed)") }
        var value = line[(colon + 1)...]
        while let f = value.first, f == 0x20 || f == 0x09 { value = value.dropFirst() }
        while let l = value.last, l == 0x20 || l == 0x09 { value = value.dropLast() }
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { throw fail(400, "control character in a header value") }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    private mutating func decideBody(_ request: HTTPRequest) throws(HTTPParseError) {
        let lengths = request.headers.filter { $0.name.lowercased() == "content-length" }.map(\.value)
        let codings = request.headers.filter { $0.name.lowercased() == "transfer-encoding" }.map(\.value)
        body = []
        if !codings.isEmpty {
            guard lengths.isEmpty else { throw fail(400, "both Content-Length and Transfer-Encoding") }
            let all = codings.joined(separator: ",").lowercased().split(separator: ",").map { $0.trimmedOWS }
            guard all == ["chunked"] else { throw fail(400, "unsupported Transfer-Encoding '\(codings.joined(separator: ", "))'") }
            guard request.version == .http11 else { throw fail(400, "Transfer-Encoding in an HTTP/1.0 request") }
            bodyMode = .chunkSize
            return
        }
        if !lengths.isEmpty {
            var value: Int?
            for l in lengths {
                for part in l.split(separator: ",", omittingEmptySubsequences: false) {
                    let t = part.trimmedOWS
                    guard !t.isEmpty, t.count <= 18, t.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(t) else {
                        throw fail(400, "malformed Content-Length '\(l)'")
                    }
                    if let v = value, v != n { throw fail(400, "conflicting Content-Length values") }
                    value = n
                }
            }
            let n = value ?? 0
            if n > limits.maxBodyBytes { throw fail(413, "body of \(n) bytes exceeds the limit of \(limits.maxBodyBytes)") }
            bodyMode = .length(n)
            return
        }
        if request.method == "POST" || request.method == "PUT" || request.method == "PATCH" {
            throw fail(411, "a \(request.method) needs Content-Length or chunked Transfer-Encoding")
        }
        bodyMode = .length(0)
    }

    private mutating func finish() -> Event {
        var r = head!
        r.body = body
        head = nil
        body = []
        bodyMode = .none
        sentContinue = false
        return .request(r)
    }

    private mutating func parseBody() throws(HTTPParseError) -> Event? {
        while true {
            switch bodyMode {
            case .none: return nil
            case let .length(n):
                guard buffer.count - start >= n else { return nil }
                body = Array(buffer[start..<(start + n)])
                start += n
                return finish()
            case .chunkSize:
                guard let e = try lineEnd(from: start) else {
                    if buffer.count - start > 1024 { throw fail(400, "chunk size line too long") }
                    return nil
                }
                let line = buffer[start..<e]
                let sizePart = line.prefix { $0 != 0x3B }  // ';' starts chunk extensions
                let hex = sizePart.filter { $0 != 0x20 && $0 != 0x09 }
                guard !hex.isEmpty, hex.count <= 8, hex.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }),
                      let size = Int(String(decoding: hex, as: UTF8.self), radix: 16) else {
                    throw fail(400, "malformed chunk size")
                }
                start = e + 2
                if size == 0 { bodyMode = .trailers; continue }
                if body.count + size > limits.maxBodyBytes { throw fail(413, "chunked body exceeds the limit of \(limits.maxBodyBytes) bytes") }
                bodyMode = .chunkData(size)
            case let .chunkData(size):
                guard buffer.count - start >= size else { return nil }
                body += buffer[start..<(start + size)]
                start += size
                bodyMode = .chunkDataEnd
            case .chunkDataEnd:
                guard buffer.count - start >= 2 else { return nil }
                guard buffer[start] == 0x0D, buffer[start + 1] == 0x0A else { throw fail(400, "chunk data not followed by CRLF") }
                start += 2
                bodyMode = .chunkSize
            case .trailers:
                guard let e = try lineEnd(from: start) else {
                    if buffer.count - start > limits.maxHeaderBytes { throw fail(431, "trailers exceed \(limits.maxHeaderBytes) bytes") }
                    return nil
                }
                let empty = e == start
                start = e + 2
                if empty { return finish() }
            }
        }
    }
}
