import Foundation

/// Builds small checkpoint files byte by byte for the malformed-input tests.
enum TestFiles {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func temp(_ name: String, _ bytes: [UInt8]) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pairranker-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
        return url.path
    }

    static func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }

    /// A safetensors file from a header JSON text and raw data.
    static func safetensors(header: String, data: [UInt8]) -> [UInt8] {
        let h = Array(header.utf8)
        return le64(UInt64(h.count)) + h + data
    }

    static func floats(_ v: [Float]) -> [UInt8] { v.flatMap { le32($0.bitPattern) } }

    /// A zip of stored entries, the shape torch.save writes (no zip64).
    static func zip(_ entries: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        for (name, data) in entries {
            let offset = UInt32(out.count), n = Array(name.utf8)
            let crc = crc32(data)
            out += le32(0x0403_4b50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(crc)
                + le32(UInt32(data.count)) + le32(UInt32(data.count)) + le16(UInt16(n.count)) + le16(0) + n + data
            central += le32(0x0201_4b50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(crc)
                + le32(UInt32(data.count)) + le32(UInt32(data.count)) + le16(UInt16(n.count)) + le16(0) + le16(0)
                + le16(0) + le16(0) + le32(0) + le32(offset) + n
        }
        let cdOffset = UInt32(out.count)
        out += central
        out += le32(0x0605_4b50) + le16(0) + le16(0) + le16(UInt16(entries.count)) + le16(UInt16(entries.count))
            + le32(UInt32(central.count)) + le32(cdOffset) + le16(0)
        return out
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }

    /// A protocol-2 pickle of {"w": _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', n), 0, shape, stride, False, OrderedDict())}.
    static func statePickle(numel: Int, shape: [Int], global: (String, String) = ("torch._utils", "_rebuild_tensor_v2"),
                            extra: [UInt8] = []) -> [UInt8] {
        func str(_ s: String) -> [UInt8] { [0x58] + le32(UInt32(s.utf8.count)) + Array(s.utf8) }
        func int(_ v: Int) -> [UInt8] { [0x4a] + le32(UInt32(truncatingIfNeeded: v)) }
        func tuple(_ items: [[UInt8]]) -> [UInt8] { [0x28] + items.flatMap { $0 } + [0x74] }
        var strides: [Int] = []
        var acc = 1
        for d in shape.reversed() { strides.insert(acc, at: 0); acc *= d }
        var p: [UInt8] = [0x80, 0x02, 0x7d, 0x28]  // PROTO 2, EMPTY_DICT, MARK
        p += str("w")
        p += [0x63] + Array("\(global.0)\n\(global.1)\n".utf8)
        p += [0x28] + tuple([str("storage"), [0x63] + Array("torch\nFloatStorage\n".utf8), str("0"), str("cpu"), int(numel)]) + [0x51]
        p += int(0) + tuple(shape.map(int)) + tuple(strides.map(int)) + [0x89] + [0x63] + Array("collections\nOrderedDict\n".utf8)
            + [0x29, 0x52] + [0x74, 0x52]
        p += extra
        p += [0x75, 0x2e]  // SETITEMS, STOP
        return p
    }
}
