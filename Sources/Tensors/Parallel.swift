import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits work over the cores this process uses (`Parallel.threads`, set once at start-up).
/// Each task runs a contiguous range, so per-element arithmetic never depends on the split.
public enum Parallel {
    nonisolated(unsafe) public static var threads = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Runs body(range) on up to `threads` contiguous ranges of 0..<count, in parallel.
    public static func forRanges(_ count: Int, minimumPerTask: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
        forTasks(count, slots: threads, minimumPerTask: minimumPerTask) { _, r in body(r) }
    }

    /// Like forRanges, also passing the task's index, for per-task scratch: the index is always
    /// below `slots`, the number of scratch slots the caller holds (sized when its scratch was
    /// made, whatever `threads` is now), so scratch is never indexed past its end.
    public static func forTasks(_ count: Int, slots: Int, minimumPerTask: Int = 1, _ body: @Sendable (Int, Range<Int>) -> Void) {
        let tasks = max(1, min(threads, slots, count / max(1, minimumPerTask)))
        if tasks == 1 { body(0, 0..<count); return }
        DispatchQueue.concurrentPerform(iterations: tasks) { t in
            let lo = count * t / tasks, hi = count * (t + 1) / tasks
            if lo < hi { body(t, lo..<hi) }
        }
    }
}
