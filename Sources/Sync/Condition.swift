#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `Locked`'s companion for a thread that must wait for a change: a mutex guarding its owner's
/// fields and a condition variable to wait on, both pthread objects allocated once on the heap
/// (stable addresses; ThreadSanitizer sees their waits). Each instance says at its declaration
/// what it guards. A leaf lock like `Locked`: `withLock`'s body calls nothing outside its owner.
///
/// `wait`, `wait(until:)`, `signal` and `broadcast` are called inside `withLock`, with the mutex
/// held. A wait may wake without a signal: loop on the condition you wait for.
public final class Condition: @unchecked Sendable {  // holds only the pthread objects; the owner's fields are its to guard
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        // Deadlines are on the monotonic clock: a wall-clock step must not stretch or cut a wait.
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        cond.deinitialize(count: 1)
        cond.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the mutex held.
    @inlinable
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Releases the mutex until signalled, then takes it again (inside `withLock`).
    public func wait() {
        pthread_cond_wait(cond, mutex)
    }

    /// Like `wait()`, giving up at `deadline`: false when it has passed (inside `withLock`).
    @discardableResult
    public func wait(until deadline: ContinuousClock.Instant) -> Bool {
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { return false }
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let (seconds, attoseconds) = left.components
        let nanoseconds = Int(ts.tv_nsec) + Int(attoseconds / 1_000_000_000)
        // At most about 30 years ahead: far enough for "never", near enough not to overflow.
        ts.tv_sec += Int(min(seconds, 1 << 30)) + nanoseconds / 1_000_000_000
        ts.tv_nsec = nanoseconds % 1_000_000_000
        return pthread_cond_timedwait(cond, mutex, &ts) != ETIMEDOUT
    }

    /// Wakes one waiting thread (inside `withLock`).
    public func signal() { pthread_cond_signal(cond) }

    /// Wakes every waiting thread (inside `withLock`).
    public func broadcast() { pthread_cond_broadcast(cond) }
}
