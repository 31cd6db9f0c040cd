import ArgumentParser
import Foundation
import PairRanker
import RankerService
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

    struct Failure: Error, CustomStringConvertible { let description: String }

    func run() throws {
        guard let data = FileManager.default.contents(atPath: input) else { throw ValidationError("--input \(input): cannot read the file") }
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Array($0) }
        if lines.last?.isEmpty == true { lines.removeLast() }
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
        guard skip <= lines.count else { throw ValidationError("--output \(output) has \(skip) lines, more than the \(lines.count) of --input") }
        guard let out = FileHandle(forWritingAtPath: output) else { throw ValidationError("--output \(output): cannot open") }
        out.seekToEndOfFile()
        defer { try? out.close() }

        let total = lines.count
        let progress = Progress(total: total, done: skip)
        if skip > 0 { FileHandle.standardError.write(Data("resuming after line \(skip) of \(total)\n".utf8)) }
        // Lines are answered by a window of worker threads and written strictly in order.
        final class State: @unchecked Sendable {
            let cond = NSCondition()
            var results: [Int: [UInt8]] = [:]
            var next = 0
            var nextToWrite = 0
            var failed: String?
            let lines: [[UInt8]]
            init(lines: [[UInt8]], start: Int) { self.lines = lines; next = start; nextToWrite = start }
        }
        let state = State(lines: lines, start: skip)
        let service = self.service, failFast = self.failFast
        let group = DispatchGroup()
        for _ in 0..<max(1, inFlight) {
            group.enter()
            Thread {
                defer { group.leave() }
                while true {
                    state.cond.lock()
                    if state.failed != nil || state.next >= total { state.cond.unlock(); return }
                    let k = state.next
                    state.next += 1
                    state.cond.unlock()
                    let lineNumber = k + 1
                    var response: [UInt8]
                    var error: String?
                    let context = RequestContext(id: "line-\(lineNumber)")
                    do {
                        response = try service.handle(.rank, body: state.lines[k], context: context).bytes
                    } catch let e as APIError {
                        error = "line \(lineNumber): \(e.message)"
                        response = JSON.object([("line", .number(Double(lineNumber))), ("error", e.body["error"]!)]).bytes
                    } catch let other {
                        let message = "line \(lineNumber): \(other)"
                        error = message
                        response = JSON.object([("line", .number(Double(lineNumber))),
                                                ("error", .object([("type", .string("internal")), ("message", .string(message))]))]).bytes
                    }
                    state.cond.lock()
                    state.results[k] = response + [UInt8(ascii: "\n")]
                    if let error {
                        FileHandle.standardError.write(Data("\(error)\n".utf8))
                        if failFast && state.failed == nil { state.failed = error }
                    }
                    // Write everything that is now contiguous.
                    while let r = state.results.removeValue(forKey: state.nextToWrite) {
                        out.write(Data(r))
                        state.nextToWrite += 1
                        progress.step(pairs: context.pairs)
                    }
                    state.cond.unlock()
                }
            }.start()
        }
        group.wait()
        progress.finish()
        if let failed = state.failed { throw Failure(description: "stopped at the first bad line (--fail-fast): \(failed)") }
    }
}

/// A progress line on stderr: a bar with rate and ETA on a terminal, a plain line now and then
/// otherwise.
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
