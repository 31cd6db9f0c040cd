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
