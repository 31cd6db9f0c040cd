import Foundation
import Testing

@testable import Checkpoints

@Suite struct CheckpointWriterTests {
    @Test("tensors written in both formats read back bit for bit")
    func roundTrip() throws {
        let a: [Float] = (0..<12).map { Float($0) * 0.5 - 2 }
        let b: [Float] = [.infinity, -0.0, 1e-40, 3.25]
        try a.withUnsafeBufferPointer { pa in
            try b.withUnsafeBufferPointer { pb in
                let tensors = [CheckpointWriter.Tensor(name: "layer.a", shape: [3, 4], values: pa),
                               CheckpointWriter.Tensor(name: "b", shape: [4], values: pb)]
                for (file, write) in [("w.safetensors", CheckpointWriter.writeSafetensors), ("w.bin", CheckpointWriter.writePyTorch)] {
                    let path = TestFiles.temp(file, [])
                    try write(tensors, path)
                    let c = try Checkpoint(path: path)
                    #expect(try c.floats("layer.a", shape: [3, 4]).values.map(\.bitPattern) == a.map(\.bitPattern), "\(file)")
                    #expect(try c.floats("b", shape: [4]).values.map(\.bitPattern) == b.map(\.bitPattern), "\(file)")
                    #expect(c.names == ["b", "layer.a"])
                }
            }
        }
    }
}
