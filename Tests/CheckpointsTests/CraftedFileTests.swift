import Foundation
import Testing

@testable import Checkpoints

/// Crafted model files, one class of attack per test: each must give a CheckpointError that names
/// the problem, quickly, on a thread with a small stack (a model loads off the main thread), and
/// never trap, hang or allocate what the file merely declares.
@Suite struct CraftedFileTests {
    enum Outcome { case refused(CheckpointError), loaded, otherError(String), timedOut }

    final class Box: @unchecked Sendable { var outcome: Outcome = .timedOut }

    /// Opens `bytes` as a checkpoint and converts every tensor, on a 512 KiB stack, within `seconds`.
    static func load(_ name: String, _ bytes: [UInt8], seconds: Double = 60) -> Outcome {
        let path = TestFiles.temp(name, bytes)
        writeSeed(name, bytes)
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            do {
                let c = try Checkpoint(path: path)
                for n in c.names { _ = try c.floats(n) }
                box.outcome = .loaded
            } catch let e as CheckpointError {
                box.outcome = .refused(e)
            } catch {
                box.outcome = .otherError("\(error)")
            }
            done.signal()
        }
        t.stackSize = 512 << 10
        t.start()
        if done.wait(timeout: .now() + seconds) == .timedOut { return .timedOut }
        return box.outcome
    }

    /// With PAIRRANKER_WRITE_FUZZ_SEEDS=DIR the crafted files are also written there as fuzz seeds
    /// (first byte 0: the checkpoint target reads the rest as a raw file).
    static func writeSeed(_ name: String, _ bytes: [UInt8]) {
        guard let dir = ProcessInfo.processInfo.environment["PAIRRANKER_WRITE_FUZZ_SEEDS"] else { return }
        _ = FileManager.default.createFile(atPath: dir + "/crafted-" + name, contents: Data([0] + bytes))
    }

    /// The file is refused with an error whose text contains every one of `words`, and is short.
    static func expectRefused(_ name: String, _ bytes: [UInt8], _ words: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        switch load(name, bytes) {
        case let .refused(e):
            let text = "\(e)"
            for w in words { #expect(text.contains(w), "\(name): \(text)", sourceLocation: sourceLocation) }
            #expect(text.utf8.count < 1200, "\(name): the message is bounded (\(text.utf8.count) bytes)", sourceLocation: sourceLocation)
        case .loaded: Issue.record("\(name): loaded, expected a CheckpointError", sourceLocation: sourceLocation)
        case let .otherError(e): Issue.record("\(name): expected a CheckpointError, got \(e)", sourceLocation: sourceLocation)
        case .timedOut: Issue.record("\(name): still loading after 60 s", sourceLocation: sourceLocation)
        }
    }

    // MARK: torch zip: sizes, strides and offsets from the pickle

    @Test("storage size numel * byteSize overflowing Int")
    func storageSizeOverflow() {
        let pkl = TestFiles.statePickle(numel: 1 << 62, shape: [2, 3])
        Self.expectRefused("numel.bin", TestFiles.torchZip(pkl), ["'w'", "4611686018427387904", "F32"])
    }

    @Test("stride arithmetic overflowing Int; offsets past the storage")
    func strideOverflow() {
        let pkl = TestFiles.statePickle(numel: 6, shape: [3, 3], strides: [1 << 62, 1])
        Self.expectRefused("stride.bin", TestFiles.torchZip(pkl), ["'w'", "stride"])
        let far = TestFiles.statePickle(numel: 6, shape: [2, 3], offset: Int.max - 2)
        Self.expectRefused("offset.bin", TestFiles.torchZip(far), ["'w'", "offset"])
        let beyond = TestFiles.statePickle(numel: 6, shape: [0], offset: 1 << 62)
        Self.expectRefused("empty-offset.bin", TestFiles.torchZip(beyond), ["'w'", "outside"])
        let negative = TestFiles.statePickle(numel: 6, shape: [2, 3], strides: [-3, 1])
        Self.expectRefused("negstride.bin", TestFiles.torchZip(negative), ["'w'", "negative stride"])
    }

    @Test("a shape whose element count overflows, or overlapping strides declaring more elements than stored")
    func elementCount() {
        // Stride 0 keeps every index inside one element, so only the element count betrays it.
        let huge = TestFiles.statePickle(numel: 1, shape: [1 << 40, 1 << 40], strides: [0, 0])
        Self.expectRefused("elements.bin", TestFiles.torchZip(huge, storage: TestFiles.floats([1])), ["'w'", "elements"])
        let big = TestFiles.statePickle(numel: 1, shape: [1 << 36], strides: [0])
        Self.expectRefused("broadcast.bin", TestFiles.torchZip(big, storage: TestFiles.floats([1])), ["'w'", "68719476736"])
        let overlap = TestFiles.statePickle(numel: 6, shape: [4, 3], strides: [1, 1])
        Self.expectRefused("overlap.bin", TestFiles.torchZip(overlap), ["'w'", "12 elements"])
    }

    // MARK: zip structure

    @Test("a zip64 local-header offset near Int.max")
    func zip64LocalOffset() {
        let bytes = TestFiles.zip(entries: [
            .init(name: "m/data.pkl", data: TestFiles.statePickle(numel: 6, shape: [2, 3]), localOffset: UInt64(Int.max) - 10),
            .init(name: "m/data/0", data: TestFiles.floats([1, 2, 3, 4, 5, 6])),
        ])
        Self.expectRefused("zip64-local.bin", bytes, ["m/data.pkl", "local header"])
    }

    @Test("a deflated entry declaring a huge uncompressed size")
    func deflateDeclaredSize() {
        let empty: [UInt8] = [0x03, 0x00]  // raw deflate: one empty final block
        for (name, size) in [("deflate-12g.bin", UInt64(3) << 32), ("deflate-1g.bin", UInt64(1) << 30)] {
            let bytes = TestFiles.zip(entries: [
                .init(name: "m/data.pkl", data: empty, method: 8, declaredSize: size, crc: 0),
                .init(name: "m/data/0", data: TestFiles.floats([1])),
            ])
            Self.expectRefused(name, bytes, ["m/data.pkl", "\(size)"])
        }
    }

    @Test("deflated entries inflate the same when zlib is fed a few bytes at a time")
    func inflateInSteps() throws {
        let file = try MappedFile(path: TestFiles.fixtures.appendingPathComponent("checkpoint-dtypes/dtypes-deflated.bin").path)
        let zip = try ZipArchive(file: file)
        var deflated = 0
        for name in zip.order {
            let e = try #require(zip.entries[name])
            if e.method == 8 { deflated += 1 }
            let whole = try zip.data(of: e), stepped = try zip.data(of: e, step: 7)
            #expect(Array(UnsafeRawBufferPointer(start: whole.base, count: whole.count))
                    == Array(UnsafeRawBufferPointer(start: stepped.base, count: stepped.count)), "\(name)")
        }
        #expect(deflated >= 2)
    }

    @Test("overlapping zip entries (two names for one local header)")
    func overlappingEntries() {
        let good = TestFiles.torchZip(TestFiles.statePickle(numel: 6, shape: [2, 3]))
        // A second central entry for data/1 pointing at data/0's local header.
        var entries: [TestFiles.ZipEntry] = [.init(name: "m/data.pkl", data: TestFiles.statePickle(numel: 6, shape: [2, 3])),
                                             .init(name: "m/data/0", data: TestFiles.floats([1, 2, 3, 4, 5, 6]))]
        let pklLocal = 30 + "m/data.pkl".utf8.count + entries[0].data.count
        entries.append(.init(name: "m/data/1", data: [], localOffset: UInt64(pklLocal)))
        #expect(throws: Never.self) { _ = try Checkpoint(path: TestFiles.temp("overlap-good.bin", good)) }
        Self.expectRefused("overlap-zip.bin", TestFiles.zip(entries: entries), ["overlap"])
    }

    // MARK: pickle structure

    @Test("a memo-shared tuple tree of depth 64 in an error message")
    func sharedTupleTree() {
        var p: [UInt8] = [0x80, 0x02, 0x4e, 0x71, 0]          // PROTO 2, NONE, BINPUT 0
        for i in 1...64 { p += [0x68, UInt8(i - 1), 0x68, UInt8(i - 1), 0x86, 0x71, UInt8(i)] }  // (t, t), BINPUT i
        p += [0x51, 0x2e]                                     // BINPERSID, STOP
        Self.expectRefused("memo-tree.bin", TestFiles.torchZip(p), ["persistent id", "tuple"])
        // The same tree as a state-dict key.
        var q: [UInt8] = [0x80, 0x02, 0x7d, 0x4e, 0x71, 0]
        for i in 1...64 { q += [0x68, UInt8(i - 1), 0x68, UInt8(i - 1), 0x86, 0x71, UInt8(i)] }
        q += [0x4e, 0x73, 0x2e]                               // NONE, SETITEM, STOP
        Self.expectRefused("memo-key.bin", TestFiles.torchZip(q), ["key"])
    }

    @Test("deep nesting: 100,000 nested tuples, lists and dicts; a list that contains itself")
    func deepNesting() {
        let n = 100_000
        var tuples: [UInt8] = [0x80, 0x02, 0x29]               // EMPTY_TUPLE
        tuples += [UInt8](repeating: 0x85, count: n) + [0x2e]  // TUPLE1 x n, STOP
        Self.expectRefused("deep-tuple.bin", TestFiles.torchZip(tuples), ["state dict"])
        var lists: [UInt8] = [0x80, 0x02]
        lists += [UInt8](repeating: 0x5d, count: n)            // EMPTY_LIST x n
        lists += [UInt8](repeating: 0x61, count: n - 1) + [0x2e]  // APPEND x (n - 1), STOP
        Self.expectRefused("deep-list.bin", TestFiles.torchZip(lists), ["state dict"])
        var dicts: [UInt8] = [0x80, 0x02, 0x7d]
        for _ in 0..<(n / 4) { dicts += [0x4e, 0x7d] }          // NONE, EMPTY_DICT
        dicts += [UInt8](repeating: 0x73, count: n / 4) + [0x2e]  // SETITEM each into the one below, STOP
        Self.expectRefused("deep-dict.bin", TestFiles.torchZip(dicts), ["key"])
        // [l] where l is the list itself, then used as a persistent id.
        let cycle: [UInt8] = [0x80, 0x02, 0x5d, 0x71, 0, 0x68, 0, 0x61, 0x51, 0x2e]
        Self.expectRefused("cycle.bin", TestFiles.torchZip(cycle), ["persistent id"])
        // More containers than any state dict needs: refused, bounding the reader's memory.
        let many: [UInt8] = [0x80, 0x02] + [UInt8](repeating: 0x29, count: PickleHeap.maxContainers + 1) + [0x2e]
        Self.expectRefused("many.bin", TestFiles.torchZip(many), ["more than 1048576"])
        // safetensors: deeply nested JSON in the header.
        let deep = #"{"a":"# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        Self.expectRefused("deep.safetensors", TestFiles.safetensors(header: deep, data: []), ["bad header"])
    }

    @Test("huge declared lengths and long names are refused, and messages stay short")
    func hugeLengths() {
        // BINUNICODE8 / BINBYTES8 declaring 2^63 - 1 bytes.
        for op: UInt8 in [0x8d, 0x8e] {
            let p: [UInt8] = [0x80, 0x04, op] + TestFiles.le64(UInt64(Int.max)) + [0x2e]
            Self.expectRefused("len-\(op).bin", TestFiles.torchZip(p), ["truncated"])
        }
        // A GLOBAL whose module name is 1 MiB long.
        let long = String(repeating: "x", count: 1 << 20)
        let g: [UInt8] = [0x80, 0x02] + TestFiles.P.global(long, "y") + [0x2e]
        Self.expectRefused("long-global.bin", TestFiles.torchZip(g), ["not an allowed", "bytes"])
        // A 1 MiB byteorder entry.
        let order = TestFiles.zip([("m/data.pkl", TestFiles.statePickle(numel: 6, shape: [2, 3])),
                                   ("m/byteorder", [UInt8](repeating: 0x62, count: 1 << 20))])
        Self.expectRefused("byteorder.bin", order, ["byte order"])
        // A safetensors tensor name of 1 MiB with bad offsets.
        let name = String(repeating: "n", count: 1 << 20)
        let h = #"{""# + name + #"":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        Self.expectRefused("long-name.safetensors", TestFiles.safetensors(header: h, data: []), ["outside the data section"])
    }

    // MARK: safetensors header numbers

    @Test("safetensors offsets and shapes: negative, huge, overlapping, past the file",
          arguments: [
              (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, "outside the data section"),
              (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,9223372036854775807]}}"#, "outside the data section"),
              (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,1e30]}}"#, "bad header"),
              (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#, "outside the data section"),
              (#"{"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,8]}}"#, "too many elements"),
              (#"{"a":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}"#, "too many elements"),
              (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, "overlap"),
              (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, "overlap"),
              (#"{"a":{"dtype":"F32","shape":[-1,-1],"data_offsets":[0,4]}}"#, "negative"),
          ])
    func safetensorsNumbers(header: String, words: String) {
        Self.expectRefused("numbers-\(header.utf8.reduce(0) { ($0 &* 31) &+ Int($1) } & 0xffffff).safetensors", TestFiles.safetensors(header: header, data: TestFiles.floats([1, 2])), [words])
    }

    @Test("the refusals above are errors of their own kind, rendered within a bounded size")
    func boundedRendering() {
        let long = String(repeating: "é", count: 100_000)
        let e = CheckpointError.shapeMismatch(path: "p", tensor: long, expected: Array(repeating: 7, count: 100_000), actual: [1])
        let text = "\(e)"
        #expect(text.utf8.count < 1200, "\(text.utf8.count)")
        #expect(text.contains("100000 dimensions") && text.contains("…"), "\(text.prefix(300))")
        #expect("\(CheckpointError.missingTensor(path: "p", tensor: "short"))" == "p: tensor 'short' is missing")
    }
}
