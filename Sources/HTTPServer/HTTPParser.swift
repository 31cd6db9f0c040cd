/// Limits enforced while parsing, before anything is buffered past them.
public struct HTTPLimits: Sendable, Equatable {
    public var maxRequestLineBytes = 8 * 1024
    public var maxHeaderBytes = 32 * 1024
    public var maxHeaderCount = 100
    public var maxBodyBytes = 4 * 1024 * 1024
    /// One chunk-size line of a chunked body, extensions included.
    public var maxChunkLineBytes = 1024
    /// All chunk extensions of one body together (they are checked and dropped, never kept).
    public var maxChunkExtensionBytes = 16 * 1024
    /// Empty lines (CRLF) tolerated before a request (RFC 9112 §2.2 asks for at least one).
    public var maxEmptyLines = 8
    public init() {}
}

public struct HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public let status: Int
    public let message: String
    public var description: String { "\(status): \(message)" }
}

/// A pure, incremental HTTP/1.1 request parser: bytes in, requests out. It never reads a socket;
/// the connection feeds it whatever arrived, split anywhere (so it is unit-tested and fuzzed,
/// scripts/fuzz.sh, without a network).
///
/// Refuses, with the status to answer: a request line over the limit (414), headers or trailers
/// over the byte or count limit (431), a body over the limit (413, decided from Content-Length
/// before the body arrives, or from each chunk size), a POST/PUT without a length (411), an
/// `Expect` other than `100-continue` (417), and everything request-smuggling is made of (400):
/// Content-Length with Transfer-Encoding, conflicting or malformed lengths, any transfer coding
/// but `chunked`, obs-fold, whitespace before the colon, chunk sizes that are not strictly
/// `1*HEXDIG` (RFC 9112 §7.1), control bytes in chunk extensions or trailers, bare LF, an HTTP/1.1
/// request without exactly one valid Host.
///
/// Memory: consumed bytes are dropped as the buffer is compacted, so what it holds is the request
/// in progress plus what arrived after it; chunk extensions and trailers are validated and
/// dropped. Each byte is scanned once while a line or a head is incomplete (no quadratic rescans
/// for a client that sends a byte at a time).
public struct HTTPParser: Sendable {
    public enum Event: Equatable, Sendable {
        /// The client sent `Expect: 100-continue` and its body has not arrived: answer 100 now.
        case continueExpected
        case request(HTTPRequest)
    }

    public let limits: HTTPLimits
    private var buffer: [UInt8] = []
    private var start = 0   // consumed prefix of buffer
    /// Bytes after `start` already scanned for the end of the current head or line.
    private var scanned = 0
    /// Offset (from `start`) of the LF ending the request line, once seen.
    private var requestLineLF: Int?
    private var emptyLines = 0
    private var head: HTTPRequest?
    private var bodyMode: BodyMode = .none
    private var body: [UInt8] = []
    private var extensionBytes = 0
    private var trailerBytes = 0
    private var trailerCount = 0
    private var sentContinue = false
    private var failed: HTTPParseError?

    enum BodyMode: Equatable { case none, length(Int), chunkSize, chunkData(Int), chunkDataEnd, trailers }

    public init(limits: HTTPLimits = HTTPLimits()) { self.limits = limits }

    /// Bytes received but not yet part of a returned request (the partial body of a chunked
    /// request included).
    public var bufferedBytes: Int { buffer.count - start + body.count }
    /// Bytes of storage the parser holds (consumed bytes not yet compacted included).
    public var heldBytes: Int { buffer.count + body.count }
    /// Bytes of storage allocated (for tests: an idle parser gives large buffers back).
    var storageCapacity: Int { buffer.capacity + body.capacity }
    /// True between the first byte of a request and its last.
    public var inRequest: Bool { head != nil || buffer.count > start }
    /// The head of the request whose body is being received, if any.
    public var currentHead: HTTPRequest? { head }

    /// The X-Request-Id of a request refused before its head was accepted: from the head bytes of
    /// the request that failed, or those received so far; nil when there is none.
    public var unparsedRequestID: String? { failedRequestID ?? requestIDLine(from: start) }
    private var failedRequestID: String?

    /// The value of the first `X-Request-Id` line in the head that starts at `from` (any case, up
    /// to the header limit). Only printable ASCII values of up to 128 bytes are returned.
    private func requestIDLine(from: Int) -> String? {
        let end = min(buffer.count, from + limits.maxHeaderBytes + 8192)
        guard from < end else { return nil }
        let name = Array("x-request-id:".utf8)
        var i = from
        while i < end {
            var j = i
            while j < end, buffer[j] != 0x0A { j += 1 }
            var k = i
            if j - i > name.count, name.indices.allSatisfy({ buffer[i + $0] | (buffer[i + $0] >= 0x41 && buffer[i + $0] <= 0x5A ? 0x20 : 0) == name[$0] }) {
                k = i + name.count
                while k < j, buffer[k] == 0x20 || buffer[k] == 0x09 { k += 1 }
                var e = j
                while e > k, buffer[e - 1] == 0x0D || buffer[e - 1] == 0x20 || buffer[e - 1] == 0x09 { e -= 1 }
                let value = buffer[k..<e]
                guard !value.isEmpty, value.count <= 128, value.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) else { return nil }
                return String(decoding: value, as: UTF8.self)
            }
            if j - i <= 1 && i > from { return nil }   // the empty line: end of the head
            i = j + 1
        }
        return nil
    }
    /// Body bytes a Content-Length request has declared and not yet sent.
    public var declaredBodyRemaining: Int {
        if case let .length(n) = bodyMode { return max(0, n - (buffer.count - start)) }
        return 0
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    public mutating func feed(_ bytes: [UInt8]) { bytes.withUnsafeBytes { feed($0) } }

    /// Drops the consumed prefix once it is at least as large as what is left (amortised O(1)
    /// per byte), and gives a large allocation back when little of it is in use.
    private mutating func compact() {
        guard start > 0 else { return }
        // `scanned` and `requestLineLF` are offsets from `start`: they survive the move.
        let live = buffer.count - start
        if buffer.capacity > 32 * 1024 && live * 4 < buffer.capacity {
            buffer = Array(buffer[start...])   // an idle connection keeps at most 32 KiB
        } else if live == 0 {
            buffer.removeAll(keepingCapacity: true)
        } else if start >= live {
            buffer.removeFirst(start)
        } else {
            return
        }
        start = 0
    }

    /// The next event, nil when more bytes are needed. After an error the parser stays failed.
    public mutating func next() throws(HTTPParseError) -> Event? {
        if let failed { throw failed }
        let begin = start
        do {
            let event = try step()
            if start > 0 && start >= buffer.count - start { compact() }   // amortised: what is copied halves each time
            return event
        } catch {
            failedRequestID = requestIDLine(from: begin)
            failed = error
            buffer = []
            body = []
            start = 0
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
                guard i > from, buffer[i - 1] == 0x0D else { throw fail(400, "bare LF in the request") }
                return i - 1
            }
            i += 1
        }
        return nil
    }

    /// Like `lineEnd(from: start)`, resuming where the previous call stopped.
    private mutating func nextLineEnd() throws(HTTPParseError) -> Int? {
        var i = start + scanned
        while i < buffer.count {
            if buffer[i] == 0x0A {
                guard i > start, buffer[i - 1] == 0x0D else { throw fail(400, "bare LF in the request") }
                scanned = 0
                return i - 1
            }
            i += 1
        }
        scanned = i - start
        return nil
    }

    private mutating func step() throws(HTTPParseError) -> Event? {
        if head == nil {
            if let event = try parseHead() { return event }  // 100-continue
            if head == nil { return nil }                     // head incomplete
        }
        return try parseBody()
    }

    /// Scans for the blank line ending the head, each byte once, enforcing the line limits as it goes.
    private mutating func headComplete() throws(HTTPParseError) -> Bool {
        var i = start + scanned
        while i < buffer.count {
            if buffer[i] == 0x0A {
                guard i > start, buffer[i - 1] == 0x0D else { throw fail(400, "bare LF in the request head") }
                if requestLineLF == nil {
                    requestLineLF = i - start
                    if i - 1 - start > limits.maxRequestLineBytes { throw fail(414, "request line exceeds \(limits.maxRequestLineBytes) bytes") }
                } else if let r = requestLineLF, i - start >= r + 2, buffer[i - 2] == 0x0A {
                    scanned = i + 1 - start
                    return true
                }
            }
            i += 1
        }
        scanned = i - start
        if let r = requestLineLF {
            if scanned - (r + 1) > limits.maxHeaderBytes { throw fail(431, "headers exceed \(limits.maxHeaderBytes) bytes") }
        } else if scanned > limits.maxRequestLineBytes {
            throw fail(414, "request line exceeds \(limits.maxRequestLineBytes) bytes")
        }
        return false
    }

    private mutating func parseHead() throws(HTTPParseError) -> Event? {
        // Skip empty lines before a request (RFC 9112 §2.2), a bounded number of them.
        while buffer.count - start >= 2 && buffer[start] == 0x0D && buffer[start + 1] == 0x0A {
            start += 2
            scanned = 0
            emptyLines += 1
            if emptyLines > limits.maxEmptyLines { throw fail(400, "more than \(limits.maxEmptyLines) empty lines before a request") }
        }
        guard try headComplete() else { return nil }
        guard let rl = requestLineLF else { return nil }
        let lineEnd = start + rl - 1
        // Split the header block into lines (every LF was checked to follow a CR).
        var p = lineEnd + 2
        var headerLines: [Range<Int>] = []
        while true {
            guard let e = try self.lineEnd(from: p) else { throw fail(400, "malformed request head") }
            if e == p { p += 2; break }
            headerLines.append(p..<e)
            if e + 2 - (lineEnd + 2) > limits.maxHeaderBytes { throw fail(431, "headers exceed \(limits.maxHeaderBytes) bytes") }
            if headerLines.count > limits.maxHeaderCount { throw fail(431, "more than \(limits.maxHeaderCount) header fields") }
            p = e + 2
        }
        var request = try parseRequestLine(start..<lineEnd)
        for r in headerLines { request.headers.append(try parseHeader(r)) }
        start = p
        scanned = 0
        requestLineLF = nil
        emptyLines = 0
        try decideBody(request)   // framing errors first: they decide whether the stream can go on
        try checkHost(request)
        let expectations = request.values(of: "expect").map { $0.lowercased() }
        var wantsContinue = false
        if request.version == .http11 && !expectations.isEmpty {
            // RFC 9110 §10.1.1: 100-continue is the only expectation defined.
            guard expectations.allSatisfy({ $0 == "100-continue" }) else {
                throw fail(417, "unsupported Expect '\(expectations.joined(separator: ", "))' (only 100-continue)")
            }
            wantsContinue = true
        }
        head = request
        extensionBytes = 0
        trailerBytes = 0
        trailerCount = 0
        if wantsContinue, !sentContinue {
            let bodyMissing: Bool
            switch bodyMode {
            case let .length(n): bodyMissing = n > 0 && buffer.count - start < n
            case .chunkSize: bodyMissing = buffer.count == start
            default: bodyMissing = false
            }
            if bodyMissing {
                sentContinue = true
                return .continueExpected
            }
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
        // No fragment in a request target (RFC 9112 §3.2).
        guard parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x23 }) else { throw fail(400, "malformed request target") }
        let version: HTTPVersion
        switch String(decoding: parts[2], as: UTF8.self) {
        case "HTTP/1.1": version = .http11
        case "HTTP/1.0": version = .http10
        default:
            if parts[2].starts(with: Array("HTTP/".utf8)) { throw fail(505, "only HTTP/1.0 and HTTP/1.1 are supported") }
            throw fail(400, "malformed HTTP version")
        }
        let method = String(decoding: parts[0], as: UTF8.self)
        let target = String(decoding: parts[1], as: UTF8.self)
        // RFC 9112 §3.2: origin-form, absolute-form (routed by its path), asterisk-form for
        // OPTIONS, authority-form for CONNECT.
        guard target.hasPrefix("/") || HTTPRequest.absoluteFormPathStart(target) != nil
                || (target == "*" && method == "OPTIONS") || method == "CONNECT" else {
            throw fail(400, "malformed request target (origin-form '/path' or absolute-form 'http://host/path')")
        }
        return HTTPRequest(method: method, target: target, version: version, headers: [], body: [])
    }

    private func parseHeader(_ r: Range<Int>, what: String = "header") throws(HTTPParseError) -> (name: String, value: String) {
        let line = buffer[r]
        if let first = line.first, first == 0x20 || first == 0x09 { throw fail(400, "obsolete line folding in \(what)s") }
        guard let colon = line.firstIndex(of: 0x3A), colon > line.startIndex else { throw fail(400, "malformed \(what) line") }
        let name = line[line.startIndex..<colon]
        guard name.allSatisfy(Self.isTChar) else { throw fail(400, "malformed \(what) name (whitespace before ':' is not allowed)") }
        var value = line[(colon + 1)...]
        while let f = value.first, f == 0x20 || f == 0x09 { value = value.dropFirst() }
        while let l = value.last, l == 0x20 || l == 0x09 { value = value.dropLast() }
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { throw fail(400, "control character in a \(what) value") }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host; no request has two; the value is
    /// a host (reg-name, IPv4 or IP-literal) with an optional port, or empty.
    private func checkHost(_ request: HTTPRequest) throws(HTTPParseError) {
        let hosts = request.values(of: "host")
        if hosts.count > 1 { throw fail(400, "more than one Host header") }
        if request.version == .http11 && hosts.isEmpty { throw fail(400, "an HTTP/1.1 request needs a Host header") }
        if let h = hosts.first {
            let allowed = h.utf8.allSatisfy { c in
                switch c {
                case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
                default: return "-._~!$&'()*+,;=:%[]".utf8.contains(c)
                }
            }
            guard allowed else { throw fail(400, "invalid Host header") }
        }
    }

    private mutating func decideBody(_ request: HTTPRequest) throws(HTTPParseError) {
        let lengths = request.values(of: "content-length")
        let codings = request.values(of: "transfer-encoding")
        body = []
        if !codings.isEmpty {
            guard lengths.isEmpty else { throw fail(400, "both Content-Length and Transfer-Encoding") }
            let all = codings.joined(separator: ",").lowercased().split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmedOWS }
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
                        throw fail(400, "malformed Content-Length '\(l.prefix(40))'")
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

    private mutating func finish() -> Event? {
        guard var r = head else { return nil }
        r.body = body
        head = nil
        body = []
        bodyMode = .none
        sentContinue = false
        scanned = 0
        return .request(r)
    }

    static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case 0x30...0x39: return Int(c - 0x30)
        case 0x41...0x46: return Int(c - 0x41 + 10)
        case 0x61...0x66: return Int(c - 0x61 + 10)
        default: return nil
        }
    }

    /// `chunk-size [ chunk-ext ] CRLF` (RFC 9112 §7.1): 1*HEXDIG, then optionally BWS ";" and
    /// extensions, which are checked for control bytes, counted and dropped.
    private mutating func chunkSize(line: Range<Int>) throws(HTTPParseError) -> Int {
        var i = line.lowerBound
        var size = 0
        let room = limits.maxBodyBytes - body.count
        while i < line.upperBound, let d = Self.hexValue(buffer[i]) {
            let (shifted, o1) = size.multipliedReportingOverflow(by: 16)
            let (next, o2) = shifted.addingReportingOverflow(d)
            size = next
            if o1 || o2 || size > room { throw fail(413, "chunked body exceeds the limit of \(limits.maxBodyBytes) bytes") }
            i += 1
        }
        guard i > line.lowerBound else { throw fail(400, "malformed chunk size (hex digits expected)") }
        var j = i
        while j < line.upperBound, buffer[j] == 0x20 || buffer[j] == 0x09 { j += 1 }
        if j == line.upperBound {
            guard j == i else { throw fail(400, "malformed chunk size (whitespace inside or after it)") }
            return size
        }
        guard buffer[j] == 0x3B else { throw fail(400, "malformed chunk size (whitespace inside or after it)") }
        let ext = buffer[j..<line.upperBound]
        guard ext.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { throw fail(400, "control character in a chunk extension") }
        extensionBytes += ext.count
        if extensionBytes > limits.maxChunkExtensionBytes {
            throw fail(400, "chunk extensions exceed \(limits.maxChunkExtensionBytes) bytes")
        }
        return size
    }

    private mutating func parseBody() throws(HTTPParseError) -> Event? {
        while true {
            switch bodyMode {
            case .none: return nil
            case let .length(n):
                // Move what has arrived into the body at once (as for chunks): the bytes are held
                // once, and the buffer is compacted as they move.
                let take = min(n, buffer.count - start)
                if take > 0 {
                    body += buffer[start..<(start + take)]
                    start += take
                }
                if take == n { return finish() }
                bodyMode = .length(n - take)
                return nil
            case .chunkSize:
                guard let e = try nextLineEnd() else {
                    if buffer.count - start > limits.maxChunkLineBytes { throw fail(400, "chunk size line exceeds \(limits.maxChunkLineBytes) bytes") }
                    return nil
                }
                if e - start > limits.maxChunkLineBytes { throw fail(400, "chunk size line exceeds \(limits.maxChunkLineBytes) bytes") }
                let size = try chunkSize(line: start..<e)
                start = e + 2
                bodyMode = size == 0 ? .trailers : .chunkData(size)
            case let .chunkData(size):
                // Move what has arrived into the body at once, so the buffer does not hold it twice.
                let take = min(size, buffer.count - start)
                guard take > 0 else { return nil }
                body += buffer[start..<(start + take)]
                start += take
                bodyMode = take == size ? .chunkDataEnd : .chunkData(size - take)
            case .chunkDataEnd:
                guard buffer.count - start >= 2 else { return nil }
                guard buffer[start] == 0x0D, buffer[start + 1] == 0x0A else { throw fail(400, "chunk data not followed by CRLF") }
                start += 2
                bodyMode = .chunkSize
            case .trailers:
                guard let e = try nextLineEnd() else {
                    if trailerBytes + buffer.count - start > limits.maxHeaderBytes { throw fail(431, "trailers exceed \(limits.maxHeaderBytes) bytes") }
                    return nil
                }
                if e == start {
                    start = e + 2
                    return finish()
                }
                // Trailer fields are checked like headers, counted, and dropped (none is used).
                _ = try parseHeader(start..<e, what: "trailer")
                trailerCount += 1
                trailerBytes += e + 2 - start
                if trailerCount > limits.maxHeaderCount { throw fail(431, "more than \(limits.maxHeaderCount) trailer fields") }
                if trailerBytes > limits.maxHeaderBytes { throw fail(431, "trailers exceed \(limits.maxHeaderBytes) bytes") }
                start = e + 2
            }
        }
    }
}
