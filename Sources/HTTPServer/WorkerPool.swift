import Foundation

/// A fixed set of threads that run request handlers. Handlers block (they wait for the
/// inference engine), so they need real threads: a Dispatch concurrent queue on Linux runs no
/// more blocking work items at once than there are CPUs, which would serialise requests that
/// the engine should batch together.
final class WorkerPool: @unchecked Sendable {
    /// Guards `work`, `head` and `stopping`; a leaf lock (an item runs after it is released).
    private let cond = NSCondition()
    private var work: [() -> Void] = []
    private var head = 0
    private var stopping = false
    private var threads: [Thread] = []
    private static let noop: @Sendable () -> Void = {}

    /// Items queued and not yet taken by a thread (for tests).
    var queued: Int { cond.withLock { work.count - head } }
    /// Slots the queue's storage holds, taken ones included (for tests: must stay bounded).
    var slots: Int { cond.withLock { work.count } }

    init(threads count: Int, name: String) {
        for i in 0..<max(1, count) {
            let t = Thread { [unowned self] in self.run() }
            t.name = "\(name)-\(i)"
            t.stackSize = 1 << 20
            threads.append(t)
            t.start()
        }
    }

    func async(_ body: @escaping () -> Void) {
        cond.lock()
        work.append(body)
        cond.signal()
        cond.unlock()
    }

    /// Lets the threads finish queued work and exit.
    func shutdown() {
        cond.lock()
        stopping = true
        cond.broadcast()
        cond.unlock()
    }

    private func run() {
        while true {
            cond.lock()
            while head == work.count && !stopping { cond.wait() }
            if head == work.count && stopping { cond.unlock(); return }
            let item = work[head]
            // Release the slot at once: a finished item must not keep what it captured (a
            // request body) alive. Compact once the taken prefix is at least half the queue.
            work[head] = Self.noop
            head += 1
            if head == work.count { work.removeAll(keepingCapacity: work.capacity <= 4096); head = 0 }
            else if head >= 64 && head * 2 >= work.count { work.removeFirst(head); head = 0 }
            cond.unlock()
            item()
        }
    }
}
