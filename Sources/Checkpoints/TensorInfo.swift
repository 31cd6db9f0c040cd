#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes that back one or more tensors: a range of a mapped file or of an inflated zip entry.
/// Holds its owner so the memory stays valid while any tensor refers to it.
// @unchecked: immutable after init, and the bytes behind `base` are only read; `owner` (a
// mapped file or an inflated entry) keeps them alive and is never touched.
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
/// Built only by the readers, after `elementCount(of:)` accepted the shape and every index the
/// strides can reach was checked to lie inside the storage.
public struct TensorInfo: Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let strides: [Int]
    public let storageOffset: Int
    public let elementCount: Int
    let storage: ByteStorage

    init(name: String, dtype: DType, shape: [Int], strides: [Int], storageOffset: Int, elementCount: Int, storage: ByteStorage) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.strides = strides
        self.storageOffset = storageOffset
        self.elementCount = elementCount
        self.storage = storage
    }

    /// The number of elements of `shape`, or nil when a dimension is negative or the product of
    /// its dimensions (zeros counted as ones) does not fit an Int: such a shape is refused even
    /// when a zero makes it empty, so that nothing computed from it later can overflow.
    static func elementCount(of shape: [Int]) -> Int? {
        var product = 1
        var empty = false
        for d in shape {
            guard d >= 0 else { return nil }
            if d == 0 { empty = true; continue }
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            product = p
        }
        return empty ? 0 : product
    }

    /// Row-major strides. Cannot overflow for a shape `elementCount(of:)` accepted.
    static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc = acc &* max(shape[i], 1)
        }
        return strides
    }

    public var isContiguous: Bool {
        zip(shape, zip(strides, Self.rowMajorStrides(shape))).allSatisfy { dim, s in dim <= 1 || s.0 == s.1 }
    }
}

/// A float32 tensor ready for the model: a pointer into the mapped file (F32, contiguous) or into
/// a converted copy. Keeps its backing memory alive.
// @unchecked: immutable after init; the floats behind `pointer` are written before init returns
// (a conversion) or never (the mapped file), and `owner` only keeps them alive.
public final class Weight: @unchecked Sendable {
    public let name: String
    public let shape: [Int]
    public let pointer: UnsafePointer<Float>
    public let count: Int
    private let owner: AnyObject

    init(name: String, shape: [Int], count: Int, pointer: UnsafePointer<Float>, owner: AnyObject) {
        self.name = name
        self.shape = shape
        self.count = count
        self.pointer = pointer
        self.owner = owner
    }

    public var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// Tells the kernel this tensor's pages of a mapped checkpoint are not needed now
    /// (MADV_DONTNEED on the whole pages inside it), so a model that keeps a converted copy
    /// (int8) does not also keep the float pages resident. Safe for the read-only private
    /// mapping: a later read faults the page in from the file again. No effect on a tensor held
    /// in owned memory.
    public func releaseResidentPages() {
        var o: AnyObject = owner
        while let s = o as? ByteStorage { o = s.owner }
        guard o is MappedFile else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        let start = Int(bitPattern: pointer), end = start + count * MemoryLayout<Float>.stride
        let lo = (start + page - 1) / page * page, hi = end / page * page
        guard hi > lo, let p = UnsafeMutableRawPointer(bitPattern: lo) else { return }
        _ = madvise(p, hi - lo, Int32(MADV_DONTNEED))
    }
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
