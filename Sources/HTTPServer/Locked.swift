import Synchronization

/// HTTPServer's one lock type: a value guarded by a `Synchronization.Mutex`, in a class so it can
/// be stored and shared by reference (a `Mutex` is noncopyable). `Locked<Void>` guards fields of
/// its owner; each instance says at its declaration what it guards. The mutex lives inside the
/// object, so its address is stable (a `pthread_mutex_t` stored as a property and passed as `&m`
/// is not: undefined behaviour). Leaf locks only: `body` must not call into another module, a
/// callback or another lock (docs/architecture.md).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try mutex.withLock { value in try body(&value) }
    }
}

extension Locked where Value == Void {
    convenience init() { self.init(()) }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        try mutex.withLock { _ in try body() }
    }
}
