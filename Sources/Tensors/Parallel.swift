import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits work over the cores this process uses (`Parallel.threads`, set once at start-up).
/// Each task runs a contiguous range, so per-element arithmetic never depends on the split.
public enum Parallel {
    /// The default width: read by `forRanges` at each call and by a `Workspace` when it is made
    /// (its per-task scratch); written only at start-up, before any of them (serve, bench).
    nonisolated(unsafe) public static var threads = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Runs body(range) on up to `threads` contiguous ranges of 0..<count, in parallel.
    public static func forRanges(_ count: Int, minimumPerTask: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
        forTasks(count, tasks: threads, minimumPerTask: minimumPerTask) { _, r in body(r) }
    }

    /// Like forRanges over at most `tasks` ranges, also passing the task's index, for per-task
    /// scratch: `tasks` is the number of scratch slots the caller holds, passed explicitly (no
    /// global is read here), so the index is always below it and scratch is never indexed past
    /// its end.
    public static func forTasks(_ count: Int, tasks: Int, minimumPerTask: Int = 1, _ body: @Sendable (Int, Range<Int>) -> Void) {
        let tasks = max(1, min(tasks, count / max(1, minimumPerTask)))
        if tasks == 1 { body(0, 0..<count); return }
        DispatchQueue.concurrentPerform(iterations: tasks) { t in
            let lo = count * t / tasks, hi = count * (t + 1) / tasks
            if lo < hi { body(t, lo..<hi) }
        }
    }
}
