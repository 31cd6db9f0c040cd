import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal HTTP/1.1 server: one event-loop thread owns every socket (non-blocking, poll(2)),
/// parses with `HTTPParser`, and hands complete requests to `handler` on a Dispatch queue, one
/// at a time per connection so pipelined responses go out in order. It knows nothing of ranking.
public final class HTTPServer: @unchecked Sendable {
    public typealias Handler = @Sendable (HTTPRequest, HTTPRequestContext) -> HTTPResponse
    public typealias Logger = @Sendable (String) -> Void

    public let config: ServerConfig
    private let handler: Handler
    private let log: Logger
    private let workers: WorkerPool
    private var listeners: [Int32] = []
    private var wake: (r: Int32, w: Int32) = (-1, -1)
    private let lock = NSLockLike()
    private var completed: [(id: Int, response: HTTPResponse, keepAlive: Bool)] = []
    private var stopRequested = false
    private var drainDeadline: Double = 0
    private var loopThread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    public private(set) var port = 0

    public init(config: ServerConfig, log: @escaping Logger = { _ in }, handler: @escaping Handler) {
        self.config = config
        workers = WorkerPool(threads: config.handlerThreads, name: "pairranker-handler")
        self.handler = handler
        self.log = log
    }

    /// Binds and starts serving; returns the bound port (useful with port 0).
    @discardableResult
    public func start() throws -> Int {
        signal(SIGPIPE, SIG_IGN)
        try bind()
        var fds: [Int32] = [0, 0]
        try syscall("pipe") { pipe(&fds) }
        wake = (fds[0], fds[1])
        _ = fcntl(wake.r, F_SETFL, fcntl(wake.r, F_GETFL) | O_NONBLOCK)
        _ = fcntl(wake.w, F_SETFL, fcntl(wake.w, F_GETFL) | O_NONBLOCK)
        let t = Thread { [self] in self.run(); self.finished.signal() }
        t.name = "pairranker-http"
        t.stackSize = 1 << 20
        loopThread = t
        t.start()
        return port
    }

    /// Graceful stop: stop accepting, let in-flight requests finish (at most `drainTimeout`),
    /// then close everything. Blocks until done; returns true if nothing had to be cut off.
    @discardableResult
    public func stop() -> Bool {
        lock.withLock {
            stopRequested = true
            drainDeadline = Self.now() + config.drainTimeout
        }
        poke()
        finished.wait()
        return lock.withLock { !cutOff }
    }
    private var cutOff = false

    private func poke() { var b: UInt8 = 1; _ = write(wake.w, &b, 1) }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    // MARK: listening

    private func bind() throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var res: UnsafeMutablePointer<addrinfo>?
        let host = config.host == "*" ? nil : config.host
        let rc = getaddrinfo(host, String(config.port), &hints, &res)
        guard rc == 0, let first = res else {
            throw SocketError(call: "getaddrinfo(\(config.host))", errno: rc == EAI_SYSTEM ? errno : EINVAL)
        }
        defer { freeaddrinfo(res) }
        let fd = try syscall("socket") { socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol) }
        var one: Int32 = 1, zero: Int32 = 0
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if first.pointee.ai_family == AF_INET6 {
            // "::" serves IPv4 too (dual stack).
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &zero, socklen_t(MemoryLayout<Int32>.size))
        }
        do {
            try syscall("bind(\(config.host):\(config.port))") { Glibc.bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) }
            try syscall("listen") { listen(fd, config.backlog) }
        } catch {
            close(fd)
            throw error
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var addr = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &len) }
        }
        port = Int(addr.ss_family == sa_family_t(AF_INET6)
            ? withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) } }
            : withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) } })
        listeners = [fd]
    }

    // MARK: connections

    final class Connection {
        let id: Int
        let fd: Int32
        let remote: String
        var parser: HTTPParser
        var pending: [HTTPRequest] = []
        /// The answer to a request the parser rejected: sent after the pending ones, then close.
        var parseError: HTTPResponse?
        var processing = false
        var context: HTTPRequestContext?
        var output: [UInt8] = []
        var outputOffset = 0
        var closeAfterWrite = false
        var readClosed = false
        var lastActivity: Double
        var requestStarted: Double?
        var writeStalledSince: Double?

        init(id: Int, fd: Int32, remote: String, limits: HTTPLimits, now: Double) {
            self.id = id
            self.fd = fd
            self.remote = remote
            parser = HTTPParser(limits: limits)
            lastActivity = now
        }

        var idle: Bool { !processing && pending.isEmpty && parseError == nil && !parser.inRequest && outputOffset >= output.count }
    }

    private var connections: [Int: Connection] = [:]
    private var nextID = 0
    private var acceptPausedUntil = 0.0

    private func run() {
        var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let now = Self.now()
            let (stopping, deadline) = lock.withLock { (stopRequested, drainDeadline) }
            if stopping {
                if !listeners.isEmpty { listeners.forEach { close($0) }; listeners = [] }
                for c in connections.values where c.idle { closeConnection(c) }
                if connections.isEmpty { break }
                if now >= deadline {
                    lock.withLock { cutOff = true }
                    log("http.drain_timeout connections=\(connections.count)")
                    for c in Array(connections.values) { closeConnection(c) }
                    break
                }
            }
            var fds: [pollfd] = [pollfd(fd: wake.r, events: Int16(POLLIN), revents: 0)]
            let accepting = !stopping && connections.count < config.maxConnections && now >= acceptPausedUntil
            if accepting { for l in listeners { fds.append(pollfd(fd: l, events: Int16(POLLIN), revents: 0)) } }
            let order = Array(connections.values)
            for c in order {
                var ev: Int16 = 0
                // Backpressure: stop reading a connection with a queue of pipelined requests.
                if !c.readClosed && c.pending.count < 16 && !c.closeAfterWrite { ev |= Int16(POLLIN) }
                if c.outputOffset < c.output.count { ev |= Int16(POLLOUT) }
                fds.append(pollfd(fd: c.fd, events: ev, revents: 0))
            }
            _ = poll(&fds, nfds_t(fds.count), 100)
            let t = Self.now()
            if fds[0].revents != 0 { var b = [UInt8](repeating: 0, count: 256); while read(wake.r, &b, 256) > 0 {} }
            var k = 1
            if accepting {
                for _ in listeners { if fds[k].revents & Int16(POLLIN) != 0 { acceptAll(fds[k].fd, now: t) }; k += 1 }
            }
            for c in order {
                let re = fds[k].revents
                k += 1
                guard connections[c.id] != nil else { continue }
                if re & Int16(POLLIN) != 0 || re & Int16(POLLHUP) != 0 || re & Int16(POLLERR) != 0 {
                    readFrom(c, buffer: &readBuffer, now: t)
                }
                if connections[c.id] != nil, re & Int16(POLLOUT) != 0 { flush(c, now: t) }
            }
            deliverCompleted(now: t)
            for c in Array(connections.values) { dispatchNext(c); checkTimeouts(c, now: t, draining: stopping) }
        }
        for l in listeners { close(l) }
        listeners = []
        workers.shutdown()
    }

    private func acceptAll(_ listener: Int32, now: Double) {
        while connections.count < config.maxConnections {
            var addr = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &len) }
            }
            if fd < 0 {
                switch errno {
                case EAGAIN, EWOULDBLOCK: return
                case EINTR, ECONNABORTED, EPROTO: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors: stop accepting briefly instead of spinning or exiting.
                    log("http.accept_error errno=\(errno) paused_ms=100")
                    acceptPausedUntil = now + 0.1
                    return
                default:
                    log("http.accept_error errno=\(errno)")
                    return
                }
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            nextID += 1
            connections[nextID] = Connection(id: nextID, fd: fd, remote: Self.describe(addr), limits: config.limits, now: now)
            connectionCount.withLock { $0 = connections.count }
        }
    }

    static func describe(_ addr: sockaddr_storage) -> String {
        var a = addr
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let len = socklen_t(a.ss_family == sa_family_t(AF_INET6) ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getnameinfo($0, len, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) }
        }
        return String(cString: host)
    }

    private func readFrom(_ c: Connection, buffer: inout [UInt8], now: Double) {
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                if !c.parser.inRequest { c.requestStarted = now }
                c.lastActivity = now
                buffer.withUnsafeBytes { c.parser.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                parse(c, now: now)
                if n < buffer.count || c.closeAfterWrite { return }
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return }
            if n < 0 && errno == EINTR { continue }
            // EOF or error: the client is gone. Cancel what it asked for and close.
            c.readClosed = true
            c.context?.cancel()
            closeConnection(c)
            return
        }
    }

    private func parse(_ c: Connection, now: Double) {
        while !c.closeAfterWrite {
            do {
                guard let event = try c.parser.next() else { break }
                switch event {
                case .continueExpected: enqueue(c, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                case let .request(r):
                    c.pending.append(r)
                    c.requestStarted = c.parser.inRequest ? now : nil
                }
            } catch {
                let type = [411: "length_required", 413: "payload_too_large", 414: "uri_too_long", 431: "headers_too_large",
                            505: "http_version_not_supported"][error.status] ?? "invalid_request"
                let response = HTTPResponse.error(error.status, type: type, message: error.message)
                log("http.parse_error status=\(error.status) remote=\(c.remote) message=\(error.message)")
                // Answer after what is already queued, then close: the stream can't be trusted.
                c.parseError = response
                c.readClosed = true
                return
            }
        }
    }

    private func dispatchNext(_ c: Connection) {
        // One request at a time per connection (pipelined answers stay in order), and none while
        // a megabyte of earlier answers is still unsent.
        guard !c.processing, c.output.count - c.outputOffset < 1 << 20 else { return }
        guard !c.pending.isEmpty else {
            if var resp = c.parseError {
                c.parseError = nil
                resp.headers.append(("X-Request-Id", "-"))
                c.closeAfterWrite = true
                enqueue(c, resp.serialized(keepAlive: false))  // closes once written
            }
            return
        }
        let request = c.pending.removeFirst()
        c.processing = true
        let ctx = HTTPRequestContext(remoteAddress: c.remote)
        c.context = ctx
        let id = c.id
        let draining = lock.withLock { stopRequested }
        let handler = self.handler
        workers.async { [self] in
            let response = handler(request, ctx)
            let keepAlive = request.keepAlive && !draining && response.header("connection")?.lowercased() != "close"
            let bytes = (response, keepAlive, request.method == "HEAD")
            lock.withLock { completed.append((id, bytes.0, bytes.1)) }
            if bytes.2 { lock.withLock { headOnly.insert(id) } }
            poke()
        }
    }
    private var headOnly = Set<Int>()

    private func deliverCompleted(now: Double) {
        let done: [(id: Int, response: HTTPResponse, keepAlive: Bool)] = lock.withLock { defer { completed = [] }; return completed }
        for d in done {
            let head = lock.withLock { headOnly.remove(d.id) != nil }
            guard let c = connections[d.id] else { continue }
            let stopping = lock.withLock { stopRequested }
            let keep = d.keepAlive && !stopping
            c.processing = false
            c.context = nil
            c.lastActivity = now
            if !keep { c.closeAfterWrite = true; c.pending.removeAll(); c.parseError = nil }
            enqueue(c, d.response.serialized(keepAlive: keep, headOnly: head))  // closes once written if !keep
        }
    }

    private func enqueue(_ c: Connection, _ bytes: [UInt8]) {
        if c.outputOffset >= c.output.count { c.output = bytes; c.outputOffset = 0 } else { c.output += bytes }
        flush(c, now: Self.now())
    }

    private func flush(_ c: Connection, now: Double) {
        while c.outputOffset < c.output.count {
            let n = c.output.withUnsafeBytes { p in
                send(c.fd, p.baseAddress! + c.outputOffset, p.count - c.outputOffset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 { c.outputOffset += n; c.writeStalledSince = nil; continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if c.writeStalledSince == nil { c.writeStalledSince = now }
                return
            }
            if n < 0 && errno == EINTR { continue }
            c.context?.cancel()
            closeConnection(c)
            return
        }
        c.writeStalledSince = nil
        if c.closeAfterWrite && !c.processing { closeConnection(c) }
    }

    private func checkTimeouts(_ c: Connection, now: Double, draining: Bool) {
        guard connections[c.id] != nil else { return }
        if let since = c.writeStalledSince, now - since > config.writeTimeout {
            log("http.write_timeout remote=\(c.remote)")
            c.context?.cancel()
            closeConnection(c)
            return
        }
        if c.parser.inRequest, !c.processing, let started = c.requestStarted, now - started > config.readTimeout {
            log("http.read_timeout remote=\(c.remote)")
            c.pending.removeAll()
            c.closeAfterWrite = true
            enqueue(c, HTTPResponse.error(408, type: "timeout", message: "the request was not received within \(config.readTimeout) s")
                .serialized(keepAlive: false))
            if connections[c.id] != nil { closeConnection(c) }
            return
        }
        if c.idle && (now - c.lastActivity > config.idleTimeout || draining) { closeConnection(c) }
    }

    private func closeConnection(_ c: Connection) {
        guard connections.removeValue(forKey: c.id) != nil else { return }
        connectionCount.withLock { $0 = connections.count }
        if c.processing { c.context?.cancel() }
        close(c.fd)
    }

    /// Open connections (for tests and metrics).
    public var openConnections: Int { connectionCount.withLock { $0 } }
    private let connectionCount = LockedInt()
}

final class LockedInt: @unchecked Sendable {
    private let lock = NSLockLike()
    private var value = 0
    func withLock<T>(_ body: (inout Int) -> T) -> T { lock.withLock { body(&value) } }
}

import Foundation
