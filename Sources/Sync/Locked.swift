#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The codebase's one lock type: a value guarded by a mutex, in a class so it can be stored and
/// shared by reference (docs/architecture.md, "Locks"). `Locked<State>` guards a value of its
/// own, which makes its owner checkably `Sendable`; `Locked<Void>` guards fields of its owner.
/// Each instance says at its declaration what it guards. Leaf locks only: `body` must not call
/// into another module, a callback or another lock (the one exception, `BLAS.exclusive`, is
/// written down in docs/architecture.md). Where a thread must wait for a change, `Condition`.
///
/// The mutex is a pthread mutex allocated once on the heap, so its address is stable (one
/// stored as a property and passed as `&m` is not: undefined behaviour). Not
/// `Synchronization.Mutex`: on Linux it waits on a futex directly, which ThreadSanitizer cannot
/// see, so every access it guards would be reported as a race (scripts/sanitize.sh).
public final class Locked<Value: Sendable>: @unchecked Sendable {  // `value` is only touched with `mutex` held
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline var value: Value

    public convenience init(_ value: Value) { self.init(value, recursive: false) }

    init(_ value: Value, recursive: Bool) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        if recursive {
            var attr = pthread_mutexattr_t()
            pthread_mutexattr_init(&attr)
            pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_RECURSIVE))
            pthread_mutex_init(mutex, &attr)
            pthread_mutexattr_destroy(&attr)
        } else {
            pthread_mutex_init(mutex, nil)
        }
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the mutex held and the guarded value lent to it.
    @inlinable
    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

extension Locked where Value == Void {
    /// A mutex guarding its owner's fields. `recursive`: the thread holding it may take it again
    /// (only `withLock(_: () ...)` below, which lends no value, so a nested section is no
    /// overlapping access); for `BLAS.exclusive`, whose sections nest.
    public convenience init(recursive: Bool = false) { self.init((), recursive: recursive) }

    /// Holds the lock around `body` without touching the zero-sized `value`: going through
    /// `withLock(_: (inout Value) ...)` made ThreadSanitizer report those accesses as races
    /// (scripts/sanitize.sh serving), though each was made with the mutex held.
    @inlinable
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
