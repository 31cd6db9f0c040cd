import Synchronization
import Testing

@testable import Tensors

@Suite(.serialized) struct ParallelTests {
    final class Seen: @unchecked Sendable {
        let slots = Mutex<Set<Int>>([])
        let covered = Mutex<[Int]>([])
    }

    @Test("a task's slot stays below the caller's scratch slots when the thread count grew after the scratch was sized")
    func slotsBoundTheIndex() {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        Parallel.threads = 8
        for (count, slots) in [(3, 2), (5, 2), (100, 3), (1, 1), (7, 7), (0, 2)] {
            let seen = Seen()
            Parallel.forTasks(count, slots: slots) { slot, range in
                seen.slots.withLock { _ = $0.insert(slot) }
                seen.covered.withLock { $0 += Array(range) }
            }
            let s = seen.slots.withLock { $0 }
            #expect(s.allSatisfy { $0 >= 0 && $0 < slots }, "count \(count), slots \(slots): \(s)")
            #expect(seen.covered.withLock { $0.sorted() } == Array(0..<count), "every index once")
        }
    }
}
