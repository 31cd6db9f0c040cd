import Foundation
import Testing

@testable import HTTPServer

@Suite struct WorkerPoolTests {
    @Test("item 8: the worker pool keeps nothing of finished work (request bodies)")
    func releasesFinishedWork() throws {
        final class Payload: @unchecked Sendable { let bytes = [UInt8](repeating: 1, count: 1024) }
        final class Weak: @unchecked Sendable { weak var value: Payload? }
        let pool = WorkerPool(threads: 2, name: "test-pool")
        defer { pool.shutdown() }
        let done = DispatchSemaphore(value: 0)
        var refs: [Weak] = []
        for _ in 0..<300 {
            let p = Payload()
            let w = Weak()
            w.value = p
            refs.append(w)
            pool.async { _ = p.bytes.count; done.signal() }
        }
        for _ in 0..<300 { done.wait() }
        // A thread may still be returning from its last item: allow it a moment.
        var held = 300
        for _ in 0..<200 where held > 0 {
            held = refs.filter { $0.value != nil }.count
            if held > 0 { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(held == 0, "\(held) of 300 finished items still held (each would hold its request body)")
        #expect(pool.slots < 64, "the queue's storage shrinks back: \(pool.slots) slots")
    }
}
