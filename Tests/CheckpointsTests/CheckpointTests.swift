import Foundation
import Testing

@testable import Checkpoints

@Suite struct CheckpointDTypeTests {
    struct Values: Decodable { struct T: Decodable { let shape: [Int]; let bits: [UInt32] }; let tensors: [String: T] }
    static let values: Values = try! JSONDecoder().decode(
        Values.self, from: Data(contentsOf: TestFiles.fixtures.appendingPathComponent("checkpoint-dtypes/values.json")))

    @Test("F32, F16, BF16, strided and offset tensors convert exactly",
          arguments: ["dtypes.safetensors", "dtypes.bin", "dtypes-deflated.bin"])
    func conversions(file: String) throws {
        let ckpt = try Checkpoint(path: TestFiles.fixtures.appendingPathComponent("checkpoint-dtypes/\(file)").path)
        var checked = 0
        for (name, want) in Self.values.tensors where ckpt.tensors[name] != nil && name != "i64" {
            let w = try ckpt.floats(name, shape: want.shape)
            #expect(w.values.map(\.bitPattern) == want.bits, "\(file): \(name)")
            checked += 1
        }
        #expect(checked >= (file.hasSuffix(".bin") ? 7 : 5))
    }

    @Test("int64 tensors are listed but refuse float conversion")
    func int64() throws {
        let ckpt = try Checkpoint(path: TestFiles.fixtures.appendingPathComponent("checkpoint-dtypes/dtypes.bin").path)
        #expect(ckpt.tensors["i64"]?.dtype == .i64)
        #expect(throws: CheckpointError.unsupportedDType(path: ckpt.path, tensor: "i64", dtype: "I64")) {
            _ = try ckpt.floats("i64")
        }
    }
}

@Suite struct MalformedCheckpointTests {
    let goodHeader = #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"format":"pt"}}"#

    @Test("a well-formed hand-built safetensors file reads")
    func good() throws {
        let p = TestFiles.temp("good.safetensors", TestFiles.safetensors(header: goodHeader, data: TestFiles.floats([1, 2, 3, 4])))
        #expect(try Checkpoint(path: p).floats("a", shape: [2, 2]).values == [1, 2, 3, 4])
    }

    @Test("truncated file") func truncated() {
        let full = TestFiles.safetensors(header: goodHeader, data: TestFiles.floats([1, 2, 3, 4]))
        let p = TestFiles.temp("trunc.safetensors", Array(full.prefix(40)))
        #expect(throws: CheckpointError.truncated(path: p, what: "safetensors header", needed: goodHeader.utf8.count, available: 32)) {
            _ = try Checkpoint(path: p)
        }
        let q = TestFiles.temp("tiny.safetensors", [1, 2, 3])
        #expect(throws: CheckpointError.truncated(path: q, what: "safetensors header length", needed: 8, available: 3)) {
            _ = try Checkpoint(path: q)
        }
    }

    @Test("bad header", arguments: ["not json", "[1,2]", #"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#,
                                     #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
                                     #"{"a":{"dtype":"F32","shape":[1]}}"#])
    func badHeader(header: String) {
        let p = TestFiles.temp("bad.safetensors", TestFiles.safetensors(header: header, data: TestFiles.floats([1])))
        #expect(throws: CheckpointError.self) { _ = try Checkpoint(path: p) }
        do { _ = try Checkpoint(path: p) } catch let e as CheckpointError {
            guard case .badHeader = e else { Issue.record("expected badHeader, got \(e)"); return }
        } catch { Issue.record("\(error)") }
    }

    @Test("huge header length is refused before reading") func hugeHeader() {
        let p = TestFiles.temp("huge.safetensors", TestFiles.le64(UInt64(1) << 40) + [0x7b])
        #expect(throws: CheckpointError.badHeader(path: p, message: "header length 1099511627776 exceeds 104857600 bytes")) {
            _ = try Checkpoint(path: p)
        }
    }

    @Test("offsets out of bounds") func outOfBounds() {
        let h = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        let p = TestFiles.temp("oob.safetensors", TestFiles.safetensors(header: h, data: TestFiles.floats([1, 2])))
        #expect(throws: CheckpointError.offsetsOutOfBounds(path: p, tensor: "a", start: 0, end: 16, limit: 8)) {
            _ = try Checkpoint(path: p)
        }
        let h2 = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        let q = TestFiles.temp("size.safetensors", TestFiles.safetensors(header: h2, data: TestFiles.floats([1, 2])))
        #expect(throws: CheckpointError.sizeMismatch(path: q, tensor: "a", expectedBytes: 12, actualBytes: 8)) {
            _ = try Checkpoint(path: q)
        }
    }

    @Test("wrong shape and missing tensor") func shapeAndMissing() throws {
        let p = TestFiles.temp("shape.safetensors", TestFiles.safetensors(header: goodHeader, data: TestFiles.floats([1, 2, 3, 4])))
        let c = try Checkpoint(path: p)
        #expect(throws: CheckpointError.shapeMismatch(path: p, tensor: "a", expected: [4], actual: [2, 2])) {
            _ = try c.floats("a", shape: [4])
        }
        #expect(throws: CheckpointError.missingTensor(path: p, tensor: "b")) { _ = try c.floats("b") }
        #expect("\(CheckpointError.shapeMismatch(path: p, tensor: "a", expected: [4], actual: [2, 2]))".contains("tensor 'a' has shape [2, 2], expected [4]"))
    }

    @Test("unsupported dtype") func dtype() {
        let h = #"{"a":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}"#
        let p = TestFiles.temp("f8.safetensors", TestFiles.safetensors(header: h, data: [1, 2, 3, 4]))
        #expect(throws: CheckpointError.unsupportedDType(path: p, tensor: "a", dtype: "F8_E4M3")) { _ = try Checkpoint(path: p) }
    }

    @Test("a hand-built torch zip reads; bad pickles are refused") func pickle() throws {
        let data = TestFiles.floats([1, 2, 3, 4, 5, 6])
        let good = TestFiles.temp("good.bin", TestFiles.zip([("m/data.pkl", TestFiles.statePickle(numel: 6, shape: [2, 3])),
                                                             ("m/byteorder", Array("little".utf8)), ("m/data/0", data)]))
        #expect(try Checkpoint(path: good).floats("w", shape: [2, 3]).values == [1, 2, 3, 4, 5, 6])

        let evil = TestFiles.temp("evil.bin", TestFiles.zip([("m/data.pkl", TestFiles.statePickle(numel: 6, shape: [2, 3], global: ("os", "system"))),
                                                             ("m/data/0", data)]))
        #expect(throws: CheckpointError.disallowedPickleGlobal(path: evil, module: "os", name: "system")) { _ = try Checkpoint(path: evil) }

        var bad = TestFiles.statePickle(numel: 6, shape: [2, 3])
        bad.insert(0xff, at: 2)
        let unknown = TestFiles.temp("op.bin", TestFiles.zip([("m/data.pkl", bad), ("m/data/0", data)]))
        #expect(throws: CheckpointError.unknownPickleOpcode(path: unknown, opcode: 0xff, offset: 2)) { _ = try Checkpoint(path: unknown) }

        let short = TestFiles.temp("short.bin", TestFiles.zip([("m/data.pkl", TestFiles.statePickle(numel: 6, shape: [2, 3])),
                                                               ("m/data/0", Array(data.prefix(12)))]))
        #expect(throws: CheckpointError.sizeMismatch(path: short, tensor: "w", expectedBytes: 24, actualBytes: 12)) { _ = try Checkpoint(path: short) }

        let oob = TestFiles.temp("oob.bin", TestFiles.zip([("m/data.pkl", TestFiles.statePickle(numel: 4, shape: [2, 3])),
                                                           ("m/data/0", data)]))
        #expect(throws: CheckpointError.self) { _ = try Checkpoint(path: oob) }

        let noData = TestFiles.temp("nodata.bin", TestFiles.zip([("m/data.pkl", TestFiles.statePickle(numel: 6, shape: [2, 3]))]))
        #expect(throws: CheckpointError.corruptEntry(path: noData, entry: "m/data/0", message: "storage of tensor 'w' is missing")) {
            _ = try Checkpoint(path: noData)
        }
    }

    @Test("truncated and corrupted real checkpoints fail with a clear error") func realTruncated() throws {
        let bin = try [UInt8](Data(contentsOf: TestFiles.fixtures.appendingPathComponent("tiny-pair-ranker/pytorch_model.bin")))
        let cut = TestFiles.temp("cut.bin", Array(bin.prefix(bin.count / 2)))
        #expect(throws: CheckpointError.self) { _ = try Checkpoint(path: cut) }
        let st = try [UInt8](Data(contentsOf: TestFiles.fixtures.appendingPathComponent("tiny-pair-ranker/model.safetensors")))
        let cut2 = TestFiles.temp("cut.safetensors", Array(st.prefix(st.count - 100)))
        do { _ = try Checkpoint(path: cut2); Issue.record("expected an error") } catch let e as CheckpointError {
            #expect("\(e)".contains("outside the data section"), "\(e)")
        }
        var deflated = try [UInt8](Data(contentsOf: TestFiles.fixtures.appendingPathComponent("checkpoint-dtypes/dtypes-deflated.bin")))
        deflated[200] ^= 0xff
        let corrupt = TestFiles.temp("corrupt.bin", deflated)
        #expect(throws: CheckpointError.self) { _ = try Checkpoint(path: corrupt) }
        #expect(throws: CheckpointError.fileNotFound(path: "/nonexistent/x.bin")) { _ = try Checkpoint(path: "/nonexistent/x.bin") }
    }
}

@Suite struct FuzzRegressionTests {
    /// Found by scripts/fuzz.sh (checkpoint target): a zip64 end-record offset past Int.max
    /// trapped in the conversion instead of being rejected.
    @Test("crashes found by fuzzing are now clean errors")
    func regressions() throws {
        let dir = TestFiles.fixtures.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fuzz/regressions/checkpoint")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(!files.isEmpty)
        for f in files {
            let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(f)))
            // The fuzz target's first byte picks the shape; 0 means the rest is the raw file.
            #expect(bytes.first.map { $0 & 1 } == 0)
            let path = TestFiles.temp("regression-\(f)", Array(bytes.dropFirst()))
            #expect(throws: CheckpointError.self, "\(f)") { _ = try Checkpoint(path: path) }
        }
    }
}
