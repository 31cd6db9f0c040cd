/// Bytes that back one or more tensors: a range of a mapped file or of an inflated zip entry.
/// Holds its owner so the memory stays valid while any tensor refers to it.
public final class ByteStorage: @unchecked Sendable {
    let owner: AnyObject
    let base: UnsafeRawPointer
    public let count: Int

    init(owner: AnyObject, base: UnsafeRawPointer, count: Int) {
        self.owner = owner
        self.base = base
        self.count = count
    }
}

/// Where a named tensor lives and how to read it. Strides and offset are in elements.
public struct TensorInfo: @unchecked Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let strides: [Int]
    public let storageOffset: Int
    let storage: ByteStorage

    public var elementCount: Int { shape.reduce(1, *) }

    static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc *= max(shape[i], 1)
        }
        return strides
    }

    public var isContiguous: Bool {
        zip(shape, zip(strides, Self.rowMajorStrides(shape))).allSatisfy { dim, s in dim <= 1 || s.0 == s.1 }
    }
}

/// A float32 tensor ready for the model: a pointer into the mapped file (F32, contiguous) or into
/// a converted copy. Keeps its backing memory alive.
public final class Weight: @unchecked Sendable {
    public let name: String
    public let shape: [Int]
    public let pointer: UnsafePointer<Float>
    public var count: Int { shape.reduce(1, *) }
    private let owner: AnyObject

    init(name: String, shape: [Int], pointer: UnsafePointer<Float>, owner: AnyObject) {
        self.name = name
        self.shape = shape
        self.pointer = pointer
        self.owner = owner
    }

    public var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// Memory owned by a converted weight.
final class OwnedFloats {
    let pointer: UnsafeMutablePointer<Float>
    init(count: Int) {
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(count, 1))
    }
    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}
