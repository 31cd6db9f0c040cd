import Synchronization
import Testing

@testable import Tensors

@Suite(.serialized) struct ParallelTests {
    final class Seen: @unchecked Sendable {
        let slots = Mutex<Set<Int>>([])
        let covered = Mutex<[Int]>([])
    }

    @Test("a task's slot stays below the caller's scratch slots, whatever the thread count is now")
    func slotsBoundTheIndex() {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        Parallel.threads = 8
        for (count, slots) in [(3, 2), (5, 2), (100, 3), (1, 1), (7, 7), (0, 2)] {
            let seen = Seen()
            Parallel.forTasks(count, tasks: slots) { slot, range in
                seen.slots.withLock { _ = $0.insert(slot) }
                seen.covered.withLock { $0 += Array(range) }
            }
            let s = seen.slots.withLock { $0 }
            #expect(s.allSatisfy { $0 >= 0 && $0 < slots }, "count \(count), slots \(slots): \(s)")
            #expect(seen.covered.withLock { $0.sorted() } == Array(0..<count), "every index once")
        }
    }

    @Test("forTasks splits over the caller's task count, not the global read at call time")
    func widthIsTheCallers() {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        Parallel.threads = 1
        let seen = Seen()
        Parallel.forTasks(100, tasks: 3) { slot, range in
            seen.slots.withLock { _ = $0.insert(slot) }
            seen.covered.withLock { $0 += Array(range) }
        }
        #expect(seen.slots.withLock { $0 } == [0, 1, 2])
        #expect(seen.covered.withLock { $0.sorted() } == Array(0..<100), "every index once")
    }
}
