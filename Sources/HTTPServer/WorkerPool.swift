import Foundation
import Sync

/// A fixed set of threads that run request handlers. Handlers block (they wait for the
/// inference engine), so they need real threads: a Dispatch concurrent queue on Linux runs no
/// more blocking work items at once than there are CPUs, which would serialise requests that
/// the engine should batch together.
// @unchecked: `work`, `head` and `stopping` are only touched under `cond`; `threads` only in init.
final class WorkerPool: @unchecked Sendable {
    /// Guards `work`, `head` and `stopping`; a leaf lock (an item runs after it is released).
    private let cond = Condition()
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
        cond.withLock {
            work.append(body)
            cond.signal()
        }
    }

    /// Lets the threads finish queued work and exit.
    func shutdown() {
        cond.withLock {
            stopping = true
            cond.broadcast()
        }
    }

    private func run() {
        while let item = next() { item() }
    }

    /// The next item, or nil once stopping with nothing left; waits while the queue is empty.
    private func next() -> (() -> Void)? {
        cond.withLock {
            while head == work.count && !stopping { cond.wait() }
            if head == work.count && stopping { return nil }
            let item = work[head]
            // Release the slot at once: a finished item must not keep what it captured (a
            // request body) alive. Compact once the taken prefix is at least half the queue.
            work[head] = Self.noop
            head += 1
            if head == work.count { work.removeAll(keepingCapacity: work.capacity <= 4096); head = 0 }
            else if head >= 64 && head * 2 >= work.count { work.removeFirst(head); head = 0 }
            return item
        }
    }
}
