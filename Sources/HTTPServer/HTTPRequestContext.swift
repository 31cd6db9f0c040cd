/// What a handler learns about its request beyond the message: where it came from, and whether
/// the client has gone away (the connection closed while the request was being answered).
public final class HTTPRequestContext: @unchecked Sendable {
    public let remoteAddress: String
    private let lock = Locked<Void>()  // guards cancelled, onCancel
    private var cancelled = false
    private var onCancel: [() -> Void] = []

    init(remoteAddress: String) { self.remoteAddress = remoteAddress }

    public var isCancelled: Bool { lock.withLock { cancelled } }

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
