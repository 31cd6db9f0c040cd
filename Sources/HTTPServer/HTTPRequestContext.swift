import Sync

/// What a handler learns about its request beyond the message: where it came from, and whether
/// the client has gone away (the connection closed while the request was being answered).
public final class HTTPRequestContext: Sendable {
    public let remoteAddress: String
    private struct State {
        var cancelled = false
        var onCancel: [@Sendable () -> Void] = []
        var reservedBytes = 0
    }
    /// Guards the cancel flag, the `whenCancelled` handlers (run after unlocking) and the bytes
    /// this request reserved; a leaf lock.
    private let state = Locked(State())
    /// The server's request-byte budget (nil: unbounded, as in unit tests of a handler).
    private let memory: RequestMemory?

    init(remoteAddress: String, memory: RequestMemory? = nil) {
        self.remoteAddress = remoteAddress
        self.memory = memory
    }

    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Reserves `bytes` of the server's request-byte budget for what the handler builds from this
    /// request (an inflated body, a parsed JSON tree): false, and nothing reserved, when they do not
    /// fit (the handler then answers 503 with Retry-After). Held until the handler returns.
    /// `RequestMemory`'s lock is taken and released before this context's own.
    public func reserve(bytes: Int) -> Bool {
        guard let memory else { return bytes >= 0 }
        guard memory.reserve(bytes) else { return false }
        state.withLock { $0.reservedBytes += bytes }
        return true
    }

    /// Returns part of a reservation early (once the handler knows it needs less).
    public func release(bytes: Int) {
        let n: Int = state.withLock { s in
            let n = min(max(bytes, 0), s.reservedBytes)
            s.reservedBytes -= n
            return n
        }
        memory?.release(n)
    }

    /// The server's whole budget of request bytes (nil: unbounded): what no reservation can pass.
    public var memoryLimit: Int? { memory?.limit }

    /// Bytes this request holds reserved now.
    public var reserved: Int { state.withLock { $0.reservedBytes } }

    /// Returns every reservation (the server calls it when the handler has returned).
    func releaseAll() { release(bytes: Int.max) }

    /// Runs `body` when the client goes away (at once if it already has).
    public func whenCancelled(_ body: @escaping @Sendable () -> Void) {
        let now: Bool = state.withLock { s in
            if s.cancelled { return true }
            s.onCancel.append(body)
            return false
        }
        if now { body() }
    }

    func cancel() {
        let handlers: [@Sendable () -> Void] = state.withLock { s in
            if s.cancelled { return [] }
            s.cancelled = true
            defer { s.onCancel = [] }
            return s.onCancel
        }
        handlers.forEach { $0() }
    }
}
