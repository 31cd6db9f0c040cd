import Foundation
import Sync
import Testing

@Suite struct LockedTests {
    @Test("Locked<Value> serialises read-modify-write from many threads")
    func counts() {
        let n = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10_000 { n.withLock { $0 += 1 } }
        }
        #expect(n.withLock { $0 } == 80_000)
    }

    @Test("a recursive Locked<Void> lets its holder take it again")
    func recursive() {
        let lock = Locked<Void>(recursive: true)
        let depth = lock.withLock { lock.withLock { lock.withLock { 3 } } }
        #expect(depth == 3)
    }
}

@Suite struct ConditionTests {
    final class Box: @unchecked Sendable {  // `ready` and `value` are only touched under `cond`
        let cond = Condition()
        var ready = false
        var value = 0
    }

    @Test("wait returns once another thread changed the state and signalled")
    func signalWakes() {
        let box = Box()
        let t = Thread {
            box.cond.withLock {
                box.value = 42
                box.ready = true
                box.cond.signal()
            }
        }
        t.start()
        let got: Int = box.cond.withLock {
            while !box.ready { box.cond.wait() }
            return box.value
        }
        #expect(got == 42)
    }

    @Test("broadcast wakes every waiter")
    func broadcastWakesAll() {
        let box = Box()
        let done = DispatchGroup()
        for _ in 0..<4 {
            done.enter()
            Thread {
                box.cond.withLock {
                    while !box.ready { box.cond.wait() }
                    box.value += 1
                }
                done.leave()
            }.start()
        }
        Thread.sleep(forTimeInterval: 0.05)
        box.cond.withLock { box.ready = true; box.cond.broadcast() }
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(box.cond.withLock { box.value } == 4)
    }

    @Test("wait(until:) gives up at its deadline, not before, and not for a deadline already past")
    func deadline() {
        let box = Box()
        let start = ContinuousClock.now
        let signalled = box.cond.withLock { box.cond.wait(until: start + .milliseconds(50)) }
        let waited = ContinuousClock.now - start
        // A wake-up without a signal may return early (true); none is expected here.
        #expect(!signalled)
        #expect(waited >= .milliseconds(50))
        #expect(box.cond.withLock { box.cond.wait(until: start) } == false)
    }

    @Test("wait(until:) returns true when signalled before its deadline")
    func signalledBeforeDeadline() {
        let box = Box()
        Thread {
            Thread.sleep(forTimeInterval: 0.02)
            box.cond.withLock { box.ready = true; box.cond.signal() }
        }.start()
        let start = ContinuousClock.now
        let ready: Bool = box.cond.withLock {
            while !box.ready { if !box.cond.wait(until: start + .seconds(30)) { break } }
            return box.ready
        }
        #expect(ready)
        #expect(ContinuousClock.now - start < .seconds(30))
    }
}
