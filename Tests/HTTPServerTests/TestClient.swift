import Foundation

@testable import HTTPServer

#if canImport(Glibc)
import Glibc
#endif

/// A blocking loopback client that sends raw bytes and reads Content-Length responses, for
/// tests that send what no ordinary client would (pipelined, half-closed, malformed, slow).
final class TestClient: @unchecked Sendable {
    private(set) var fd: Int32
    private var buffer: [UInt8] = []

    struct Response {
        let status: Int
        let headers: [String: String]
        let body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    init(port: Int, timeout: Double = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
        setTimeout(timeout)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Closes the socket now (a FIN, or a reset if unread answers are waiting); the descriptor
    /// is not closed again later (its number may belong to someone else by then).
    func closeNow() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    func setTimeout(_ timeout: Double) {
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends everything (blocking); false once the connection failed.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }
    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// FIN: the client will send nothing more but still reads (like `nc -N`).
    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Close with a reset instead of a FIN.
    func reset() {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        shutdown(fd, Int32(SHUT_RDWR))
    }

    static func request(_ method: String, _ path: String, body: String? = nil, headers: [(String, String)] = []) -> String {
        var s = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (k, v) in headers { s += "\(k): \(v)\r\n" }
        if let body { s += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)" } else { s += "\r\n" }
        return s
    }

    /// Reads one response (a 1xx included); nil when the server closed first or on timeout.
    /// `head`: the response to a HEAD, which has no body whatever its Content-Length.
    func read(head: Bool = false) -> Response? {
        while true {
            if let r = parse(head: head) { return r }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
    }

    /// The next final (non-1xx) response.
    func readFinal(head: Bool = false) -> Response? {
        while let r = read(head: head) { if r.status >= 200 { return r } }
        return nil
    }

    /// True when the server closes the connection (EOF or reset) before the timeout.
    func closedByServer() -> Bool {
        var b = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &b, b.count, 0)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    private func parse(head: Bool) -> Response? {
        guard buffer.count >= 4,
              let end = (0...(buffer.count - 4)).first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 && buffer[$0 + 2] == 13 && buffer[$0 + 3] == 10 })
        else { return nil }
        let lines = String(decoding: buffer[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        let status = parts.count > 1 ? Int(parts[1]) ?? -1 : -1
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let c = line.firstIndex(of: ":") else { continue }
            headers[line[..<c].lowercased()] = line[line.index(after: c)...].trimmingCharacters(in: .whitespaces)
        }
        let length = status < 200 || head ? 0 : Int(headers["content-length"] ?? "0") ?? 0
        guard buffer.count >= end + 4 + length else { return nil }
        let body = Array(buffer[(end + 4)..<(end + 4 + length)])
        buffer.removeFirst(end + 4 + length)
        return Response(status: status, headers: headers, body: body)
    }
}

/// A server on 127.0.0.1 with a scriptable handler: `/slow?ms` sleeps (watching for
/// cancellation), `/echo` answers the method, path, query and body size; anything else 200 "ok".
/// Routes in `inline` are answered on the event loop with "inline <path>".
final class TestServer: @unchecked Sendable {
    final class Behaviour: @unchecked Sendable {
        private let lock = NSLock()
        private var _started = 0
        private var _cancelled = 0
        var started: Int { lock.lock(); defer { lock.unlock() }; return _started }
        var cancelled: Int { lock.lock(); defer { lock.unlock() }; return _cancelled }

        func handle(_ request: HTTPRequest, _ ctx: HTTPRequestContext) -> HTTPResponse {
            lock.lock(); _started += 1; lock.unlock()
            switch request.path {
            case "/slow":
                let ms = Double(request.query ?? "") ?? 300
                let until = Date().addingTimeInterval(ms / 1000)
                while Date() < until {
                    if ctx.isCancelled {
                        lock.lock(); _cancelled += 1; lock.unlock()
                        return HTTPResponse(status: 503)
                    }
                    Thread.sleep(forTimeInterval: 0.005)
                }
                return HTTPResponse(status: 200, body: Array("slept".utf8))
            case "/echo":
                return HTTPResponse(status: 200, body: Array("\(request.method) \(request.path) \(request.query ?? "-") \(request.body.count)".utf8))
            default:
                return HTTPResponse(status: 200, body: Array("ok".utf8))
            }
        }
    }

    let server: HTTPServer
    let behaviour = Behaviour()
    var port: Int { server.port }
    var started: Int { behaviour.started }
    var cancelled: Int { behaviour.cancelled }

    init(config: ServerConfig = ServerConfig(), inline: Set<String> = []) throws {
        var c = config
        c.port = 0
        let b = behaviour
        let verbose = ProcessInfo.processInfo.environment["HTTP_TEST_LOG"] == "1"
        server = HTTPServer(config: c, log: { if verbose { FileHandle.standardError.write(Data(($0 + "\n").utf8)) } }, handler: { b.handle($0, $1) })
        if !inline.isEmpty {
            server.answerInline(paths: inline) { request, _ in
                HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")], body: Array("inline \(request.path)".utf8))
            }
        }
        try server.start()
    }

    deinit { server.stop() }
}

/// Waits until `cond` holds (polling), at most `timeout` seconds.
func eventually(_ timeout: Double = 5, _ cond: () -> Bool) -> Bool {
    let until = Date().addingTimeInterval(timeout)
    while Date() < until {
        if cond() { return true }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return cond()
}

func percentile(_ xs: [Double], _ p: Double) -> Double {
    let s = xs.sorted()
    guard !s.isEmpty else { return .infinity }
    // Nearest rank: the smallest value with at least p of the samples at or below it.
    let i = min(s.count - 1, max(0, Int((p * Double(s.count)).rounded(.up)) - 1))
    return s[i]
}
