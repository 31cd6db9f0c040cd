import CZlib
import Foundation

/// Writes float32 state dicts in the two published formats (for the benchmark's random models and
/// for tests): safetensors, and the PyTorch zip layout `torch.save` produces (stored entries,
/// 64-byte aligned data, a protocol-2 pickle of an OrderedDict of `_rebuild_tensor_v2` calls).
public enum CheckpointWriter {
    public struct Tensor {
        public let name: String
        public let shape: [Int]
        public let values: UnsafeBufferPointer<Float>
        public init(name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    public static func writeSafetensors(_ tensors: [Tensor], to path: String) throws {
        var header = "{\"__metadata__\":{\"format\":\"pt\"}"
        var offset = 0
        for t in tensors {
            let bytes = t.values.count * 4
            header += ",\"\(t.name)\":{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        header += "}"
        while (8 + header.utf8.count) % 8 != 0 { header += " " }
        guard let out = OutputStream(toFileAtPath: path, append: false) else { throw CheckpointError.io(path: path, message: "cannot create") }
        out.open()
        defer { out.close() }
        var n = UInt64(header.utf8.count).littleEndian
        try write(out, UnsafeRawBufferPointer(start: &n, count: 8), path)
        try Array(header.utf8).withUnsafeBytes { try write(out, $0, path) }
        for t in tensors { try write(out, UnsafeRawBufferPointer(t.values), path) }
    }

    static func write(_ out: OutputStream, _ bytes: UnsafeRawBufferPointer, _ path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = out.write(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + done, maxLength: min(bytes.count - done, 1 << 26))
            guard n > 0 else { throw CheckpointError.io(path: path, message: "write failed") }
            done += n
        }
    }

    /// The pickle torch.save writes for a flat state dict of float32 tensors.
    static func statePickle(_ tensors: [Tensor]) -> [UInt8] {
        var p: [UInt8] = [0x80, 0x02]
        func str(_ s: String) -> [UInt8] { [0x58] + le32(UInt32(s.utf8.count)) + Array(s.utf8) }
        func int(_ v: Int) -> [UInt8] { v < 256 ? [0x4b, UInt8(v)] : v < 65536 ? [0x4d] + le16(UInt16(v)) : [0x4a] + le32(UInt32(v)) }
        func tuple(_ items: [[UInt8]]) -> [UInt8] { items.isEmpty ? [0x29] : [0x28] + items.flatMap { $0 } + [0x74] }
        p += Array("ccollections\nOrderedDict\n".utf8) + [0x29, 0x52]   // OrderedDict()
        p += [0x28]                                                    // MARK
        for (k, t) in tensors.enumerated() {
            var strides: [Int] = []
            var acc = 1
            for d in t.shape.reversed() { strides.insert(acc, at: 0); acc *= d }
            p += str(t.name)
            p += Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8)
            p += [0x28] + tuple([str("storage"), Array("ctorch\nFloatStorage\n".utf8), str(String(k)), str("cpu"), int(t.values.count)]) + [0x51]
            p += int(0) + tuple(t.shape.map(int)) + tuple(strides.map(int)) + [0x89]
            p += Array("ccollections\nOrderedDict\n".utf8) + [0x29, 0x52] + [0x74, 0x52]
        }
        p += [0x75, 0x2e]  // SETITEMS, STOP
        return p
    }

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    /// torch.save's zip: `archive/data.pkl`, `archive/byteorder`, `archive/data/<k>`,
    /// `archive/version`; stored, data 64-byte aligned, zip64 records when past 4 GiB.
    public static func writePyTorch(_ tensors: [Tensor], to path: String) throws {
        guard let out = OutputStream(toFileAtPath: path, append: false) else { throw CheckpointError.io(path: path, message: "cannot create") }
        out.open()
        defer { out.close() }
        var offset = 0
        var central: [UInt8] = []
        var count = 0
        func entry(_ name: String, _ data: UnsafeRawBufferPointer, crc: UInt32) throws {
            let n = Array(name.utf8)
            // Pad the extra field so the data starts 64-byte aligned (as torch does).
            var extraLen = 0
            while (offset + 30 + n.count + 4 + extraLen) % 64 != 0 { extraLen += 1 }
            let extra = le16(0x5054) + le16(UInt16(extraLen)) + [UInt8](repeating: 0, count: extraLen)
            let header = le32(0x0403_4b50) + le16(45) + le16(0) + le16(0) + le16(0) + le16(0) + le32(crc)
                + le32(UInt32(min(data.count, 0xFFFF_FFFE))) + le32(UInt32(min(data.count, 0xFFFF_FFFE))) + le16(UInt16(n.count))
                + le16(UInt16(extra.count)) + n + extra
            let local = offset
            try header.withUnsafeBytes { try write(out, $0, path) }
            try write(out, data, path)
            offset += header.count + data.count
            let zip64 = le16(0x0001) + le16(24) + le64(UInt64(data.count)) + le64(UInt64(data.count)) + le64(UInt64(local))
            central += le32(0x0201_4b50) + le16(45) + le16(45) + le16(0) + le16(0) + le16(0) + le16(0) + le32(crc)
                + le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) + le16(UInt16(n.count)) + le16(UInt16(zip64.count)) + le16(0)
                + le16(0) + le16(0) + le32(0) + le32(0xFFFF_FFFF) + n + zip64
            count += 1
        }
        let pkl = statePickle(tensors)
        try pkl.withUnsafeBytes { try entry("archive/data.pkl", $0, crc: crc32(UnsafeRawBufferPointer($0))) }
        try Array("little".utf8).withUnsafeBytes { try entry("archive/byteorder", $0, crc: crc32($0)) }
        for (k, t) in tensors.enumerated() {
            let raw = UnsafeRawBufferPointer(t.values)
            try entry("archive/data/\(k)", raw, crc: crc32(raw))
        }
        try Array("3\n".utf8).withUnsafeBytes { try entry("archive/version", $0, crc: crc32($0)) }
        let cdOffset = offset
        try central.withUnsafeBytes { try write(out, $0, path) }
        offset += central.count
        let z64 = le32(0x0606_4b50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0) + le64(UInt64(count)) + le64(UInt64(count))
            + le64(UInt64(central.count)) + le64(UInt64(cdOffset))
        let locator = le32(0x0706_4b50) + le32(0) + le64(UInt64(offset)) + le32(1)
        let end = le32(0x0605_4b50) + le16(0) + le16(0) + le16(0xFFFF) + le16(0xFFFF) + le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) + le16(0)
        try (z64 + locator + end).withUnsafeBytes { try write(out, $0, path) }
    }

    static func crc32(_ data: UnsafeRawBufferPointer) -> UInt32 {
        data.withMemoryRebound(to: UInt8.self) { b in
            UInt32(CZlibCRC.crc(b.baseAddress, b.count))
        }
    }
}

enum CZlibCRC {
    static func crc(_ p: UnsafePointer<UInt8>?, _ n: Int) -> UInt {
        var c: UInt = 0
        var done = 0
        while done < n {
            let chunk = min(n - done, 1 << 30)
            c = UInt(CZlib.crc32(uLong(c), p! + done, uInt(chunk)))
            done += chunk
        }
        return c
    }
}
