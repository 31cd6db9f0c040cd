#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// HTTPServer's one lock type: a value guarded by a mutex, in a class so it can be stored and
/// shared by reference. `Locked<Void>` guards fields of its owner; each instance says at its
/// declaration what it guards. Leaf locks only: `body` must not call into another module, a
/// callback or another lock (docs/architecture.md).
///
/// The mutex is a pthread mutex allocated once on the heap, so its address is stable (one
/// stored as a property and passed as `&m` is not: undefined behaviour). Not
/// `Synchronization.Mutex`: on Linux it waits on a futex directly, which ThreadSanitizer cannot
/// see, so every access it guards would be reported as a race (scripts/sanitize.sh).
final class Locked<Value: Sendable>: @unchecked Sendable {  // `value` is only touched under `mutex`
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

extension Locked where Value == Void {
    convenience init() { self.init(()) }

    /// Holds the lock around `body` without touching the zero-sized `value`: going through
    /// `withLock(_: (inout Value) ...)` made ThreadSanitizer report those accesses as races
    /// (scripts/sanitize.sh serving), though each was made with the mutex held.
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
