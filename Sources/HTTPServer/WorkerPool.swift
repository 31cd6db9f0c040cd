import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of threads that run request handlers. Handlers block (they wait for the
/// inference engine), so they need real threads: a Dispatch concurrent queue on Linux runs no
/// more blocking work items at once than there are CPUs, which would serialise requests that
/// the engine should batch together.
final class WorkerPool: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var work: [() -> Void] = []
    private var head = 0
    private var stopping = false
    private var threads: [Thread] = []
    private static let noop: @Sendable () -> Void = {}

    /// Items queued and not yet taken by a thread (for tests).
    var queued: Int { pthread_mutex_lock(&mutex); defer { pthread_mutex_unlock(&mutex) }; return work.count - head }
    /// Slots the queue's storage holds, taken ones included (for tests: must stay bounded).
    var slots: Int { pthread_mutex_lock(&mutex); defer { pthread_mutex_unlock(&mutex) }; return work.count }

    init(threads count: Int, name: String) {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
        for i in 0..<max(1, count) {
            let t = Thread { [unowned self] in self.run() }
            t.name = "\(name)-\(i)"
            t.stackSize = 1 << 20
            threads.append(t)
            t.start()
        }
    }

    deinit {
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&cond)
    }

    func async(_ body: @escaping () -> Void) {
        pthread_mutex_lock(&mutex)
        work.append(body)
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }

    /// Lets the threads finish queued work and exit.
    func shutdown() {
        pthread_mutex_lock(&mutex)
        stopping = true
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
    }

    private func run() {
        while true {
            pthread_mutex_lock(&mutex)
            while head == work.count && !stopping { pthread_cond_wait(&cond, &mutex) }
            if head == work.count && stopping { pthread_mutex_unlock(&mutex); return }
            let item = work[head]
            // Release the slot at once: a finished item must not keep what it captured (a
            // request body) alive. Compact once the taken prefix is at least half the queue.
            work[head] = Self.noop
            head += 1
            if head == work.count { work.removeAll(keepingCapacity: work.capacity <= 4096); head = 0 }
            else if head >= 64 && head * 2 >= work.count { work.removeFirst(head); head = 0 }
            pthread_mutex_unlock(&mutex)
            item()
        }
    }
}
