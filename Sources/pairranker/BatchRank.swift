import ArgumentParser
import Foundation
import PairEngine
import PairRanker
import RankerService
import Sync
#if canImport(Glibc)
import Glibc
#endif

/// Offline ranking of a JSONL file: one /rank single-form object per line in, one response per
/// line out, in the same order, through the batching engine (several lines in flight so their
/// pairs share batches). Streams; resumable; a bad line is reported with its number and the run
/// goes on unless --fail-fast.
struct BatchRank {
    let service: RankerService
    let input: String
    let output: String
    let resume: Bool
    let failFast: Bool
    let inFlight: Int
    /// Rank only this shard's lines (see `Shard`); output lines carry the input's line numbers.
    var shard = Shard(index: 0, count: 1)

    struct Failure: Error, CustomStringConvertible { let description: String }

    func run() throws {
        guard let data = FileManager.default.contents(atPath: input) else { throw ValidationError("--input \(input): cannot read the file") }
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Array($0) }
        if lines.last?.isEmpty == true { lines.removeLast() }
        let mine = shard.lines(of: lines.count)
        var skip = 0
        let fm = FileManager.default
        if resume, let existing = fm.contents(atPath: output) {
            // Keep complete lines only: a line cut by an interruption is dropped and redone.
            var bytes = [UInt8](existing)
            if let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n")) { bytes = Array(bytes[...lastNewline]) } else { bytes = [] }
            skip = bytes.filter { $0 == UInt8(ascii: "\n") }.count
            try Data(bytes).write(to: URL(fileURLWithPath: output))
        } else {
            guard fm.createFile(atPath: output, contents: nil) else { throw ValidationError("--output \(output): cannot create the file") }
        }
        guard skip <= mine.count else {
            throw ValidationError("--output \(output) has \(skip) lines, more than the \(mine.count) of --input\(shard.count > 1 ? " in shard \(shard)" : "")")
        }
        guard let out = FileHandle(forWritingAtPath: output) else { throw ValidationError("--output \(output): cannot open") }
        out.seekToEndOfFile()
        defer { try? out.close() }

        let total = mine.upperBound
        let progress = Progress(total: mine.count, done: skip)
        if shard.count > 1 {
            FileHandle.standardError.write(Data("shard \(shard): lines \(mine.lowerBound + 1)-\(mine.upperBound) of \(lines.count)\n".utf8))
        }
        if skip > 0 { FileHandle.standardError.write(Data("resuming after line \(mine.lowerBound + skip) of \(total)\n".utf8)) }
        // Lines are answered by a window of worker threads and written strictly in order. A
        // thread files its answer under `state`'s lock; the thread that finds no writer at work
        // becomes the writer and writes what is now contiguous with the lock released (file
        // writes, progress), taking the lock again only to pick up what arrived meanwhile.
        struct Answer { let bytes: [UInt8], pairs: Int }
        struct State {
            var results: [Int: Answer] = [:]
            var next: Int
            var nextToWrite: Int
            var failed: String?
            /// A thread is writing (it holds the writer's role until nothing contiguous is left).
            var writing = false

            /// The answers from `nextToWrite` on that have no gap before them, in order.
            mutating func takeContiguous() -> [Answer] {
                var ready: [Answer] = []
                while let r = results.removeValue(forKey: nextToWrite) {
                    ready.append(r)
                    nextToWrite += 1
                }
                return ready
            }
        }
        let start = mine.lowerBound + skip
        /// Guards which line is next, the answers not yet written, the first failure and the
        /// writer's role; a leaf lock.
        let state = Locked(State(next: start, nextToWrite: start))
        let service = self.service, failFast = self.failFast, input = lines
        let group = DispatchGroup()
        for _ in 0..<max(1, inFlight) {
            group.enter()
            Thread {
                defer { group.leave() }
                while true {
                    let taken: Int? = state.withLock { s in
                        if s.failed != nil || s.next >= total { return nil }
                        defer { s.next += 1 }
                        return s.next
                    }
                    guard let k = taken else { return }
                    let lineNumber = k + 1
                    var response: [UInt8]
                    var error: String?
                    let context = RequestContext(id: "line-\(lineNumber)")
                    do {
                        response = try service.handle(.rank, body: input[k], context: context).bytes
                    } catch let e as APIError {
                        error = "line \(lineNumber): \(e.message)"
                        response = JSON.object([("line", .number(Double(lineNumber))), ("error", e.body["error"]!)]).bytes
                    } catch let other {
                        let message = "line \(lineNumber): \(other)"
                        error = message
                        response = JSON.object([("line", .number(Double(lineNumber))),
                                                ("error", .object([("type", .string("internal")), ("message", .string(message))]))]).bytes
                    }
                    if let error { FileHandle.standardError.write(Data("\(error)\n".utf8)) }
                    let answer = Answer(bytes: response + [UInt8(ascii: "\n")], pairs: context.pairs)
                    var ready: [Answer] = state.withLock { s in
                        s.results[k] = answer
                        if let error, failFast && s.failed == nil { s.failed = error }
                        guard !s.writing else { return [] }
                        let ready = s.takeContiguous()
                        s.writing = !ready.isEmpty
                        return ready
                    }
                    // The writer's role: write, then pick up what became contiguous meanwhile.
                    while !ready.isEmpty {
                        for r in ready {
                            out.write(Data(r.bytes))
                            progress.step(pairs: r.pairs)
                        }
                        ready = state.withLock { s in
                            let more = s.takeContiguous()
                            if more.isEmpty { s.writing = false }
                            return more
                        }
                    }
                }
            }.start()
        }
        group.wait()
        progress.finish()
        if let failed = state.withLock({ $0.failed }) { throw Failure(description: "stopped at the first bad line (--fail-fast): \(failed)") }
    }
}

/// A progress line on stderr: a bar with rate and ETA on a terminal, a plain line now and then
/// otherwise.
// @unchecked: used by one thread at a time, never locked: `BatchRank`'s writer (a role handed
// from thread to thread under its state's lock), then `finish()` once every thread has ended.
final class Progress: @unchecked Sendable {
    let total: Int
    var done: Int
    var pairs = 0
    let start = Date()
    let startDone: Int
    var lastPrint = Date.distantPast
    let tty = isatty(2) != 0

    init(total: Int, done: Int) { self.total = total; self.done = done; startDone = done }

    func step(pairs p: Int) {
        done += 1
        pairs += p
        let now = Date()
        if now.timeIntervalSince(lastPrint) >= (tty ? 0.2 : 10) || done == total {
            lastPrint = now
            print(final: false)
        }
    }

    func finish() { print(final: true) }

    private func print(final: Bool) {
        let elapsed = max(Date().timeIntervalSince(start), 1e-9)
        let rate = Double(done - startDone) / elapsed
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let pct = total > 0 ? Double(done) / Double(total) : 1
        let stats = String(format: "%d/%d lines, %.2f pairs/s, ETA %.0f s", done, total, Double(pairs) / elapsed, eta)
        if tty {
            let width = 30, filled = Int(pct * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(stats)\(final ? "\n" : "")".utf8))
        } else if final || done < total {
            FileHandle.standardError.write(Data("progress: \(stats)\n".utf8))
        }
    }
}

/// One of `count` contiguous slices of a JSONL input, for ranking a file on several machines
/// (a Kubernetes Indexed Job): shard i takes lines [n·i/count, n·(i+1)/count), so concatenating
/// the shards' outputs in index order gives the single run's output, byte for byte.
struct Shard: Equatable, CustomStringConvertible {
    let index: Int, count: Int

    var description: String { "\(index)/\(count)" }

    func lines(of n: Int) -> Range<Int> {
        // n is a count of lines held in memory (< 2^43) and count ≤ 10^6 (< 2^20): no overflow.
        (n * index / count)..<(n * (index + 1) / count)
    }

    /// Parses `INDEX/COUNT` (0 ≤ INDEX < COUNT).
    static func parse(_ text: String, source: String) throws -> Shard {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let c = Int(parts[1]) else {
            throw ValidationError("\(source) '\(text)' is not INDEX/COUNT (e.g. 0/4)")
        }
        guard c >= 1, c <= 1_000_000 else { throw ValidationError("\(source) '\(text)': COUNT must be 1 to 1000000") }
        guard i >= 0, i < c else { throw ValidationError("\(source) '\(text)': INDEX must be 0 to \(c - 1)") }
        return Shard(index: i, count: c)
    }

    /// `--shard` when given; else, in a Kubernetes Indexed Job, JOB_COMPLETION_INDEX with the
    /// count from PAIRRANKER_SHARD_COUNT (the Job's `completions`); else the whole file.
    static func resolve(flag: String?, environment: [String: String]) throws -> Shard {
        if let flag { return try parse(flag, source: "--shard") }
        guard let index = environment["JOB_COMPLETION_INDEX"], !index.isEmpty else { return Shard(index: 0, count: 1) }
        guard let count = environment["PAIRRANKER_SHARD_COUNT"], !count.isEmpty else {
            throw ValidationError("JOB_COMPLETION_INDEX=\(index) is set but PAIRRANKER_SHARD_COUNT is not: set it to the Job's completions, or pass --shard INDEX/COUNT")
        }
        return try parse("\(index)/\(count)", source: "JOB_COMPLETION_INDEX/PAIRRANKER_SHARD_COUNT")
    }
}
