/// Everything that bounds the server: addresses, connection counts, timeouts, parser limits.
public struct ServerConfig: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var backlog: Int32 = 512
    /// Open connections at once; past this a new client is answered 503 (Retry-After) and closed.
    public var maxConnections = 1024
    /// Seconds a keep-alive connection may sit with no request in progress.
    public var idleTimeout = 60.0
    /// Seconds from a request's first byte to its last (slow-loris bound).
    public var readTimeout = 30.0
    /// Seconds a response may wait for the client to read it.
    public var writeTimeout = 30.0
    /// Seconds a graceful stop waits for in-flight requests.
    public var drainTimeout = 30.0
    /// Threads that run handlers; each in-flight request holds one while it waits for the engine.
    public var handlerThreads = 64
    public var limits = HTTPLimits()
    /// Request bytes the server holds at once across all connections: heads and bodies being
    /// received, parsed requests waiting their turn, and bodies whose handler is running. A read
    /// or a declared Content-Length that would pass it is answered 503 with Retry-After, and that
    /// connection is closed once its earlier answers are out.
    public var maxBufferedRequestBytes = 256 * 1024 * 1024
    /// Parsed requests a connection may have waiting behind the one being answered (pipelining);
    /// at this many the server reads no more from it until one is answered.
    public var maxPipelinedRequests = 16
    /// Bytes read ahead from a connection that already has a request waiting or running; the rest
    /// of a larger pipelined request is read once the earlier ones are answered.
    public var pipelineReadAheadBytes = 64 * 1024

    public init() {}
}

/// What a handler learns about its request beyond the message: where it came from, and whether
/// the client has gone away (the connection closed while the request was being answered).
public final class HTTPRequestContext: @unchecked Sendable {
    public let remoteAddress: String
    private let lock = NSLockLike()
    private var cancelled = false
    private var onCancel: [() -> Void] = []

    /// The server's request-byte budget (nil: unbounded, as in unit tests of a handler).
    private let memory: RequestMemory?
    private var reservedBytes = 0

    init(remoteAddress: String, memory: RequestMemory? = nil) {
        self.remoteAddress = remoteAddress
        self.memory = memory
    }

    public var isCancelled: Bool { lock.withLock { cancelled } }

    /// Reserves `bytes` of the server's request-byte budget for what the handler builds from this
    /// request (an inflated body, a parsed JSON tree): false, and nothing reserved, when they do not
    /// fit (the handler then answers 503 with Retry-After). Held until the handler returns.
    public func reserve(bytes: Int) -> Bool {
        guard let memory else { return bytes >= 0 }
        guard memory.reserve(bytes) else { return false }
        lock.withLock { reservedBytes += bytes }
        return true
    }

    /// Returns part of a reservation early (once the handler knows it needs less).
    public func release(bytes: Int) {
        let n: Int = lock.withLock {
            let n = min(max(bytes, 0), reservedBytes)
            reservedBytes -= n
            return n
        }
        memory?.release(n)
    }

    /// The server's whole budget of request bytes (nil: unbounded): what no reservation can pass.
    public var memoryLimit: Int? { memory?.limit }

    /// Bytes this request holds reserved now.
    public var reserved: Int { lock.withLock { reservedBytes } }

    /// Returns every reservation (the server calls it when the handler has returned).
    func releaseAll() { release(bytes: Int.max) }

    /// Runs `body` when the client goes away (at once if it already has).
    public func whenCancelled(_ body: @escaping () -> Void) {
        let now: Bool = lock.withLock {
            if cancelled { return true }
            onCancel.append(body)
            return false
        }
        if now { body() }
    }

    func cancel() {
        let handlers: [() -> Void] = lock.withLock {
            if cancelled { return [] }
            cancelled = true
            defer { onCancel = [] }
            return onCancel
        }
        handlers.forEach { $0() }
    }
}

/// A pthread mutex (HTTPServer avoids Foundation in its hot paths).
final class NSLockLike: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
