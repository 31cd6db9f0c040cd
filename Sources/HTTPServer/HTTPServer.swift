import Dispatch
import Foundation
import Sync
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal HTTP/1.1 server: one event-loop thread owns every socket (non-blocking, poll(2)),
/// parses with `HTTPParser`, and hands complete requests to `handler` on a thread pool, one at a
/// time per connection so pipelined responses go out in order. It knows nothing of ranking.
///
/// Fairness and bounds:
/// - per connection and loop iteration: one `recv` of at most 16 KiB, at most 16 requests
///   answered inline, a bounded number of `send`s; one busy client cannot freeze the others;
/// - routes registered with `answerInline` (probes, metrics) are answered on the event loop,
///   never waiting for a handler thread;
/// - request bytes held across all connections stay within `maxBufferedRequestBytes` (503 with
///   Retry-After past it); a connection with requests outstanding reads at most
///   `pipelineReadAheadBytes` ahead and holds at most `maxPipelinedRequests` parsed ones;
/// - past `maxConnections` a new client is answered 503 and closed, never left hanging;
/// - a client that shuts down only its sending side (FIN) still gets its answers; to tell it from
///   one that closed its socket, the server sends an interim `100 Continue` (RFC 9110 §15.2:
///   clients accept unexpected 1xx) and cancels the work when the peer answers with a reset.
///   The socket is watched for FIN and reset even while nothing is read from it.
// @unchecked: what other threads touch is under `lock` (see there) or `connectionCount`, or set
// before the event loop starts and read-only after (`listeners` until the loop takes them,
// `wake`, `port`); everything else (connections, buffers, the loop's copies of what was
// registered) is confined to the event-loop thread.
public final class HTTPServer: @unchecked Sendable {
    public typealias Handler = @Sendable (HTTPRequest, HTTPRequestContext) -> HTTPResponse
    public typealias Logger = @Sendable (String) -> Void
    public typealias RefusalResponder = @Sendable (HTTPRefusal) -> HTTPResponse

    public let config: ServerConfig
    private let handler: Handler
    private let log: Logger
    private let workers: WorkerPool
    private var listeners: [Int32] = []
    private var wake: (r: Int32, w: Int32) = (-1, -1)
    /// Guards `completed`, `stopRequested`, `drainDeadline`, `cutOff`, `registeredInline` and
    /// `registeredRefusals`; a leaf lock (what it guards is copied out, then used).
    private let lock = Locked<Void>()
    private var completed: [Completed] = []
    private var stopRequested = false
    private var drainDeadline: Double = 0
    private var loopThread: Thread?
    /// A one-shot completion signal: the event loop signals it once, when `run` returns, and
    /// `stop` waits for it.
    private let finished = DispatchSemaphore(value: 0)
    /// What `answerInline` registered (under `lock`); the loop takes its own copy at start.
    private var registeredInline: (Set<String>, Handler?) = ([], nil)
    /// What `answerRefusals` registered (under `lock`); the loop takes its own copy at start.
    private var registeredRefusals: RefusalResponder?
    private var refusalResponder: RefusalResponder?
    private var inlinePaths: Set<String> = []
    private let maxPipelined: Int
    private let readAhead: Int
    private var inlineHandler: Handler?
    public private(set) var port = 0
    /// The budget of request bytes, shared with handlers through their `HTTPRequestContext`.
    public let memory: RequestMemory

    struct Completed {
        let id: Int
        let response: HTTPResponse
        let keepAlive: Bool
        let headOnly: Bool
        let requestBytes: Int
    }

    public init(config: ServerConfig, log: @escaping Logger = { _ in }, handler: @escaping Handler) {
        self.config = config
        memory = RequestMemory(limit: config.maxBufferedRequestBytes)
        // Settings that would stop a connection from ever being read are taken at their least.
        maxPipelined = max(1, config.maxPipelinedRequests)
        readAhead = max(1, config.pipelineReadAheadBytes)
        workers = WorkerPool(threads: config.handlerThreads, name: "pairranker-handler")
        self.handler = handler
        self.log = log
    }

    /// Answers requests for `paths` (matched on the path, any method) with `handler` on the event
    /// loop itself, in order with the connection's other requests, without waiting for a handler
    /// thread: for probes and metrics that must answer while every handler thread is busy.
    /// `handler` must return at once: never block, never wait for a lock held across slow work.
    /// Call before `start()`.
    public func answerInline(paths: Set<String>, with handler: @escaping Handler) {
        lock.withLock {
            registeredInline = (paths, handler)
        }
    }

    /// Builds the answers the server gives without a handler (parser refusals, 408, 503 past the
    /// connection cap or the request-memory budget) with `responder`, on the event loop, which
    /// then logs nothing of its own for them: the responder counts and logs them. `responder` must
    /// return at once. Call before `start()`. Without one, `HTTPRefusal.defaultResponse`.
    public func answerRefusals(with responder: @escaping RefusalResponder) {
        lock.withLock { registeredRefusals = responder }
    }

    /// The answer to `refusal`, with its request id; logged here when no responder is registered.
    private func answer(_ refusal: HTTPRefusal) -> HTTPResponse {
        var r: HTTPResponse
        if let refusalResponder {
            r = refusalResponder(refusal)
        } else {
            log("http.refused status=\(refusal.status) reason=\(refusal.reason.rawValue) remote=\(refusal.remoteAddress) message=\(refusal.message)")
            r = refusal.defaultResponse
        }
        if r.header("x-request-id") == nil { r.headers.append(("X-Request-Id", refusal.requestID)) }
        return r
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
        /// Body bytes of `pending`.
        var pendingBytes = 0
        /// The answer to a request the parser rejected (or the server refused): sent after the pending ones, then close.
        var parseError: HTTPResponse?
        var processing = false
        var processingVersion = HTTPVersion.http11
        var context: HTTPRequestContext?
        var output: [UInt8] = []
        var outputOffset = 0
        var closeAfterWrite = false
        /// Nothing more is read: the parser failed, the request was refused, or EOF was read.
        var readClosed = false
        /// The peer shut down its sending side (FIN seen, as EOF or as POLLRDHUP).
        var finSeen = false
        /// The interim 100 that tells a half-closed peer from a departed one was sent.
        var probed = false
        /// A `100 Continue` asked for while earlier responses were still due: sent after them.
        var continueOwed = false
        /// Closing after an error answer while the client may still be sending: linger, so that
        /// the unread bytes do not reset the answer away.
        var lingerOnClose = false
        /// Set once, by closeConnection.
        var closed = false
        /// This connection's share of the server's buffered request bytes.
        var accounted = 0
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

        var outputPending: Bool { outputOffset < output.count }
        /// A request is being answered or waits to be.
        var outstanding: Bool { processing || !pending.isEmpty || parseError != nil }
        var idle: Bool { !outstanding && !parser.inRequest && !outputPending }
    }

    private var connections: [Int: Connection] = [:]
    private var lingering: [(fd: Int32, until: Double)] = []
    private var nextID = 0
    private var acceptPausedUntil = 0.0
    private var lastFullScan = 0.0
    /// Request bytes held: every connection's `accounted` plus bodies whose handler is running.
    private var buffered = 0
    private var inFlightBytes = 0
    /// Set when a connection was left with work this iteration could not finish (caps).
    private var moreWork = false

    #if os(Linux)
    private static let pollRDHUP: Int16 = 0x2000
    #else
    private static let pollRDHUP: Int16 = 0
    #endif
    /// Small enough that parsing one read of the costliest bytes (one-byte chunks) is a short
    /// turn, large enough that a 4 MiB body takes a few hundred iterations of microseconds.
    static let readChunk = 16 * 1024
    static let inlinePerIteration = 16
    static let sendsPerIteration = 8
    static let maxLingering = 64

    private func run() {
        var readBuffer = [UInt8](repeating: 0, count: Self.readChunk)
        (inlinePaths, inlineHandler) = lock.withLock { registeredInline }
        refusalResponder = lock.withLock { registeredRefusals }
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
            let accepting = !stopping && now >= acceptPausedUntil
            if accepting { for l in listeners { fds.append(pollfd(fd: l, events: Int16(POLLIN), revents: 0)) } }
            let lingeringCount = lingering.count
            for r in lingering { fds.append(pollfd(fd: r.fd, events: Int16(POLLIN), revents: 0)) }
            let order = Array(connections.values)
            for c in order {
                var ev: Int16 = 0
                if wantsRead(c) {
                    ev |= Int16(POLLIN)
                } else if !c.finSeen && !c.readClosed {
                    // Not reading (backpressure), but still watching for the client leaving.
                    ev |= Self.pollRDHUP
                }
                if c.outputPending { ev |= Int16(POLLOUT) }
                fds.append(pollfd(fd: c.fd, events: ev, revents: 0))
            }
            _ = poll(&fds, nfds_t(fds.count), moreWork ? 0 : 100)
            moreWork = false
            let t = Self.now()
            if fds[0].revents != 0 { var b = [UInt8](repeating: 0, count: 256); while read(wake.r, &b, 256) > 0 {} }
            var k = 1
            if accepting {
                for _ in listeners { if fds[k].revents & Int16(POLLIN) != 0 { acceptSome(fds[k].fd, now: t) }; k += 1 }
            }
            serviceLingering(fds[k..<(k + lingeringCount)].map(\.revents), now: t)
            k += lingeringCount
            for c in order {
                let re = fds[k].revents
                k += 1
                guard alive(c) else { continue }
                if re & Int16(POLLERR) != 0 || re & Int16(POLLHUP) != 0 {
                    // A reset, or both directions closed: the client is gone (a half-close shows
                    // as POLLIN/POLLRDHUP only). Cancel what it asked for.
                    c.context?.cancel()
                    closeConnection(c)
                    continue
                }
                if re & Int16(POLLIN) != 0 {
                    readFrom(c, buffer: &readBuffer, now: t)
                } else if re & Self.pollRDHUP != 0 {
                    c.finSeen = true
                    probe(c)
                }
                if alive(c), re & Int16(POLLOUT) != 0 { flush(c, now: t) }
            }
            deliverCompleted(now: t)
            // Connections with nothing in progress only need their timeouts looked at, and a few
            // times a second is enough: a thousand idle connections cost little per iteration.
            let scanAll = stopping || t - lastFullScan >= 0.05
            if scanAll { lastFullScan = t }
            for c in order where !c.closed {
                let busy = c.processing || !c.pending.isEmpty || c.parseError != nil || c.continueOwed || c.finSeen
                    || c.parser.inRequest || c.outputPending
                guard busy || scanAll else { continue }
                let full = c.pending.count >= maxPipelined
                if alive(c) { parse(c, now: t) }
                if alive(c) { dispatchNext(c, now: t) }
                if alive(c) { checkTimeouts(c, now: t, draining: stopping) }
                // Work left by a per-iteration cap: come straight back instead of sleeping in poll.
                if alive(c), !c.processing, c.output.count - c.outputOffset < 1 << 20,
                   !c.pending.isEmpty || (full && c.pending.count < maxPipelined && c.parser.bufferedBytes > 0) {
                    moreWork = true
                }
            }
        }
        for l in listeners { close(l) }
        listeners = []
        for r in lingering { close(r.fd) }
        lingering = []
        workers.shutdown()
    }

    /// A field read, not a lookup: the loop asks it several times per connection per iteration,
    /// and with a thousand idle connections lookups were most of an iteration's cost.
    private func alive(_ c: Connection) -> Bool { !c.closed }

    /// Reads more only while the connection's queue is short and, when it has requests
    /// outstanding, only a small read-ahead; never after EOF or a failure.
    private func wantsRead(_ c: Connection) -> Bool {
        guard !c.readClosed, !c.closeAfterWrite, c.parseError == nil else { return false }
        guard c.pending.count < maxPipelined, c.output.count - c.outputOffset < 1 << 20 else { return false }
        if c.outstanding { return c.parser.bufferedBytes < readAhead }
        return true
    }

    private func acceptSome(_ listener: Int32, now: Double) {
        for _ in 0..<64 {
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
            if connections.count >= config.maxConnections {
                reject(fd, remote: Self.describe(addr), now: now)
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            nextID += 1
            connections[nextID] = Connection(id: nextID, fd: fd, remote: Self.describe(addr), limits: config.limits, now: now)
            connectionCount.withLock { $0 = connections.count }
        }
        moreWork = true  // the backlog may hold more
    }

    /// Past the connection cap: answer 503 at once and close (lingering, so the unread request
    /// does not reset the connection before the client has read the answer).
    private func reject(_ fd: Int32, remote: String, now: Double) {
        let r = answer(HTTPRefusal(reason: .connectionLimit,
                                   message: "the server has its limit of \(config.maxConnections) connections open; retry later",
                                   requestID: Self.requestID(nil), remoteAddress: remote))
        let bytes = r.serialized(keepAlive: false)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        lingerClose(fd, now: now)
    }

    /// Closes after the last answer without resetting it away: shut down the sending side, then
    /// read and drop what the client still sends for up to a second (at most `maxLingering`
    /// sockets at once; past that, close at once).
    private func lingerClose(_ fd: Int32, now: Double) {
        shutdown(fd, Int32(SHUT_WR))
        if lingering.count < Self.maxLingering { lingering.append((fd, now + 1)) } else { close(fd) }
    }

    private func serviceLingering(_ revents: [Int16], now: Double) {
        guard !lingering.isEmpty else { return }
        var keep: [(fd: Int32, until: Double)] = []
        var b = [UInt8](repeating: 0, count: 4096)
        for (i, r) in lingering.enumerated() {
            var done = now >= r.until
            if !done, i < revents.count, revents[i] != 0 {
                let n = recv(r.fd, &b, b.count, 0)
                done = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            }
            if done { close(r.fd) } else { keep.append(r) }
        }
        lingering = keep
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

    /// The client's X-Request-Id when it is short printable ASCII (the app's rule), else a fresh
    /// one: every answer the server gives itself (408, 503, parse errors) carries an id.
    /// The request id of the request `parser` is in: its head's, else its unparsed bytes'.
    static func requestID(_ parser: HTTPParser) -> String {
        if parser.currentHead != nil { return requestID(parser.currentHead) }
        return parser.unparsedRequestID ?? requestID(nil)
    }

    static func requestID(_ head: HTTPRequest?) -> String {
        if let g = head?.header("x-request-id"), !g.isEmpty, g.utf8.count <= 128,
           g.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) {
            return g
        }
        return UUID().uuidString.lowercased()
    }

    // MARK: request bytes

    private func account(_ c: Connection) {
        let now = alive(c) ? c.parser.bufferedBytes + c.pendingBytes : 0
        guard now != c.accounted else { return }
        buffered += now - c.accounted
        c.accounted = now
        publishBuffered()
    }

    private func publishBuffered() {
        memory.publishLoop(buffered + inFlightBytes)
    }

    /// Answers 503 (after the requests already queued) and reads no more from `c`: its bytes
    /// would take the server past its budget of buffered request bytes.
    private func refuse(_ c: Connection, needed: Int) {
        c.parseError = answer(HTTPRefusal(reason: .requestMemory,
                                          message: "the server holds its limit of \(config.maxBufferedRequestBytes) bytes of request data (\(memory.held) held, \(needed) more needed); retry later",
                                          requestID: Self.requestID(c.parser), remoteAddress: c.remote))
        c.readClosed = true
        c.lingerOnClose = true
        c.continueOwed = false
        c.parser = HTTPParser(limits: config.limits)
        account(c)
    }

    // MARK: reading

    private func readFrom(_ c: Connection, buffer: inout [UInt8], now: Double) {
        // One recv per connection per loop iteration: a client that keeps its socket full gets
        // its turn like everyone else (level-triggered poll brings it back next iteration).
        var room = buffer.count
        if c.outstanding { room = min(room, readAhead - c.parser.bufferedBytes) }
        guard room > 0 else { return }
        let n = buffer.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, room, 0) }
        if n > 0 {
            if !memory.fits(n) {
                refuse(c, needed: n)
                return
            }
            if !c.parser.inRequest { c.requestStarted = now }
            buffer.withUnsafeBytes { c.parser.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            let queued = c.pending.count
            parse(c, now: now)
            guard alive(c) else { return }
            // Empty lines between requests are not activity: only request bytes keep a
            // connection from its idle timeout.
            if c.parser.inRequest || c.pending.count > queued { c.lastActivity = now }
            let declared = c.parser.declaredBodyRemaining
            if declared > 0 && !memory.fits(declared) {
                refuse(c, needed: declared)
            }
            return
        }
        if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return }
        if n < 0 {
            // An error (reset): the client is gone. Cancel what it asked for and close.
            c.context?.cancel()
            closeConnection(c)
            return
        }
        // EOF: the client sent FIN. It may only have shut down its sending side and still wait
        // for its answers: keep answering what is queued, then close.
        c.finSeen = true
        c.readClosed = true
        c.continueOwed = false
        if c.outstanding {
            probe(c)
        } else {
            closeConnection(c)   // nothing to answer (an incomplete request is dropped)
        }
    }

    /// After a FIN with answers still due: an interim 100 (allowed before any final response
    /// to an HTTP/1.1 request) makes a peer that closed its socket answer with a reset, which
    /// poll reports, and its queued work is cancelled then; a half-closed peer reads it and
    /// waits on.
    private func probe(_ c: Connection) {
        guard !c.probed, c.outstanding else { return }
        let next: HTTPVersion? = c.processing ? c.processingVersion : c.pending.first?.version
        guard next == .http11 else { return }
        c.probed = true
        enqueue(c, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
    }

    private func parse(_ c: Connection, now: Double) {
        guard c.parser.inRequest, c.parseError == nil, !c.closeAfterWrite else { return }   // nothing to parse (the common case)
        while !c.closeAfterWrite && c.parseError == nil && c.pending.count < maxPipelined {
            guard c.parser.inRequest || c.parser.bufferedBytes > 0 else { break }
            do {
                guard let event = try c.parser.next() else { break }
                switch event {
                case .continueExpected:
                    // Only once every earlier answer is out: a 100 must not jump the queue.
                    if c.outstanding { c.continueOwed = true } else { enqueue(c, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) }
                case let .request(r):
                    c.continueOwed = false
                    c.pending.append(r)
                    c.pendingBytes += r.heldBytes
                    c.requestStarted = c.parser.inRequest ? now : nil
                }
                guard alive(c) else { return }
            } catch {
                let response = answer(HTTPRefusal(reason: HTTPRefusal.reason(parseStatus: error.status), message: error.message,
                                                  requestID: Self.requestID(c.parser), remoteAddress: c.remote))
                // Answer after what is already queued, then close: the stream can't be trusted.
                c.parseError = response
                c.readClosed = true
                c.lingerOnClose = true
                c.continueOwed = false
                break
            }
        }
        account(c)
    }

    // MARK: answering

    private func dispatchNext(_ c: Connection, now: Double) {
        // One request at a time per connection (pipelined answers stay in order), and none while
        // a megabyte of earlier answers is still unsent. Inline routes are answered here, a
        // bounded number per iteration.
        guard !c.processing, !c.pending.isEmpty || c.parseError != nil || c.continueOwed || c.finSeen else { return }
        var inline = 0
        while alive(c), !c.processing, c.output.count - c.outputOffset < 1 << 20 {
            guard let request = c.pending.first else {
                if let resp = c.parseError {
                    c.parseError = nil
                    c.closeAfterWrite = true
                    enqueue(c, resp.serialized(keepAlive: false))  // closes once written
                } else if c.continueOwed, c.parser.currentHead != nil {
                    c.continueOwed = false
                    enqueue(c, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                } else if c.finSeen && c.readClosed && !c.outputPending {
                    closeConnection(c)   // a half-closed client has all its answers
                }
                return
            }
            let isInline = inlineHandler != nil && inlinePaths.contains(request.path)
            if isInline && inline >= Self.inlinePerIteration { moreWork = true; return }
            c.pending.removeFirst()
            c.pendingBytes -= request.heldBytes
            let ctx = HTTPRequestContext(remoteAddress: c.remote, memory: memory)
            if isInline, let inlineHandler {
                inline += 1
                account(c)
                let response = inlineHandler(request, ctx)
                ctx.releaseAll()
                respond(c, request: request, response: response, draining: lock.withLock { stopRequested }, now: now)
                continue
            }
            c.processing = true
            c.processingVersion = request.version
            c.context = ctx
            let id = c.id
            let bytes = request.heldBytes
            inFlightBytes += bytes
            account(c)
            let draining = lock.withLock { stopRequested }
            let handler = self.handler
            workers.async { [self] in
                let response = handler(request, ctx)
                ctx.releaseAll()
                let keepAlive = Self.keepAlive(request, response, draining: draining)
                // Everything the loop needs travels in one record, published at once (a HEAD's
                // flag recorded after publishing could be missed, or applied to the next answer).
                let done = Completed(id: id, response: response, keepAlive: keepAlive, headOnly: request.method == "HEAD", requestBytes: bytes)
                lock.withLock { completed.append(done) }
                poke()
            }
            return
        }
    }

    static func keepAlive(_ request: HTTPRequest, _ response: HTTPResponse, draining: Bool) -> Bool {
        request.keepAlive && !draining && response.header("connection")?.lowercased() != "close"
    }

    private func respond(_ c: Connection, request: HTTPRequest, response: HTTPResponse, draining: Bool, now: Double) {
        let keep = Self.keepAlive(request, response, draining: draining)
        c.lastActivity = now
        if !keep { stopAfter(c) }
        enqueue(c, response.serialized(keepAlive: keep, headOnly: request.method == "HEAD"))  // closes once written if !keep
    }

    /// The answer being written is the last one on this connection.
    private func stopAfter(_ c: Connection) {
        c.closeAfterWrite = true
        c.readClosed = true
        c.pending.removeAll()
        c.pendingBytes = 0
        c.parseError = nil
        c.continueOwed = false
        account(c)
    }

    private func deliverCompleted(now: Double) {
        let done: [Completed] = lock.withLock { defer { completed = [] }; return completed }
        let stopping = lock.withLock { stopRequested }
        for d in done {
            inFlightBytes -= d.requestBytes
            publishBuffered()
            guard let c = connections[d.id] else { continue }
            let keep = d.keepAlive && !stopping
            c.processing = false
            c.context = nil
            c.lastActivity = now
            if !keep { stopAfter(c) }
            enqueue(c, d.response.serialized(keepAlive: keep, headOnly: d.headOnly))  // closes once written if !keep
        }
    }

    private func enqueue(_ c: Connection, _ bytes: [UInt8]) {
        if c.outputOffset >= c.output.count { c.output = bytes; c.outputOffset = 0 } else { c.output += bytes }
        flush(c, now: Self.now())
    }

    private func flush(_ c: Connection, now: Double) {
        var sends = 0
        while c.outputOffset < c.output.count {
            if sends == Self.sendsPerIteration { return }   // the rest next iteration (POLLOUT)
            sends += 1
            let n = c.output.withUnsafeBytes { p in
                send(c.fd, p.baseAddress.map { $0 + c.outputOffset }, p.count - c.outputOffset, Int32(MSG_NOSIGNAL))
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
        if c.output.capacity > 32 * 1024 { c.output = []; c.outputOffset = 0 }   // give a large answer's storage back
        if c.closeAfterWrite && !c.processing {
            closeConnection(c, linger: !c.finSeen && (c.lingerOnClose || c.parser.bufferedBytes > 0))
            return
        }
        if c.finSeen && c.readClosed && !c.outstanding { closeConnection(c) }   // half-closed: all answered
    }

    private func checkTimeouts(_ c: Connection, now: Double, draining: Bool) {
        guard alive(c) else { return }
        if let since = c.writeStalledSince, now - since > config.writeTimeout {
            log("http.write_timeout remote=\(c.remote)")
            c.context?.cancel()
            closeConnection(c)
            return
        }
        if c.parser.inRequest, !c.readClosed, !c.outstanding, let started = c.requestStarted, now - started > config.readTimeout {
            let r = answer(HTTPRefusal(reason: .readTimeout, message: "the request was not received within \(config.readTimeout) s",
                                       requestID: Self.requestID(c.parser), remoteAddress: c.remote))
            stopAfter(c)
            enqueue(c, r.serialized(keepAlive: false))
            if alive(c) { closeConnection(c, linger: true) }
            return
        }
        if c.idle && (now - c.lastActivity > config.idleTimeout || draining) { closeConnection(c) }
    }

    private func closeConnection(_ c: Connection, linger: Bool = false) {
        guard !c.closed else { return }
        c.closed = true
        connections.removeValue(forKey: c.id)
        connectionCount.withLock { $0 = connections.count }
        if c.processing { c.context?.cancel() }
        if linger { lingerClose(c.fd, now: Self.now()) } else { close(c.fd) }
        account(c)
    }

    /// Open connections (for tests and metrics).
    public var openConnections: Int { connectionCount.withLock { $0 } }
    /// The open connections, published by the event loop for other threads; a leaf lock.
    private let connectionCount = Locked(0)
    /// Request bytes held now: every connection's heads and bodies, queued and running requests'
    /// bodies, and what running handlers reserved (`HTTPRequestContext.reserve`).
    public var bufferedRequestBytes: Int { memory.held }
    /// The most `bufferedRequestBytes` has been since start.
    public var peakBufferedRequestBytes: Int { memory.peakHeld }
}
