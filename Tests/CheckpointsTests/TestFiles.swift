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

    /// One entry of a hand-built zip. `declaredSize` and `localOffset` replace the real values in
    /// the central directory (as zip64 extra fields when they do not fit 32 bits); `method` 8
    /// means `data` is already raw deflate.
    struct ZipEntry {
        var name: String
        var data: [UInt8]
        var method: UInt16 = 0
        var declaredSize: UInt64? = nil
        var localOffset: UInt64? = nil
        var crc: UInt32? = nil
    }

    /// A zip of stored entries, the shape torch.save writes (no zip64).
    static func zip(_ entries: [(String, [UInt8])]) -> [UInt8] {
        zip(entries: entries.map { ZipEntry(name: $0.0, data: $0.1) })
    }

    static func zip(entries: [ZipEntry]) -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        for e in entries {
            let offset = UInt64(out.count), n = Array(e.name.utf8)
            let crc = e.crc ?? crc32(e.data)
            let usize = e.declaredSize ?? UInt64(e.data.count)
            let local = e.localOffset ?? offset
            out += le32(0x0403_4b50) + le16(20) + le16(0) + le16(e.method) + le16(0) + le16(0) + le32(crc)
                + le32(UInt32(e.data.count)) + le32(UInt32(truncatingIfNeeded: usize)) + le16(UInt16(n.count)) + le16(0) + n + e.data
            var extra: [UInt8] = []
            if usize >= 0xFFFF_FFFF { extra += le64(usize) }
            if local >= 0xFFFF_FFFF { extra += le64(local) }
            if !extra.isEmpty { extra = le16(1) + le16(UInt16(extra.count)) + extra }
            central += le32(0x0201_4b50) + le16(45) + le16(45) + le16(0) + le16(e.method) + le16(0) + le16(0) + le32(crc)
                + le32(UInt32(e.data.count)) + le32(usize >= 0xFFFF_FFFF ? 0xFFFF_FFFF : UInt32(usize))
                + le16(UInt16(n.count)) + le16(UInt16(extra.count)) + le16(0)
                + le16(0) + le16(0) + le32(0) + le32(local >= 0xFFFF_FFFF ? 0xFFFF_FFFF : UInt32(local)) + n + extra
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

    /// Pickle operand encoders (protocol 2).
    enum P {
        static func str(_ s: String) -> [UInt8] { [0x58] + le32(UInt32(s.utf8.count)) + Array(s.utf8) }
        /// BININT when it fits 32 bits, else an 8-byte LONG1.
        static func int(_ v: Int) -> [UInt8] {
            if let small = Int32(exactly: v) { return [0x4a] + le32(UInt32(bitPattern: small)) }
            return [0x8a, 8] + le64(UInt64(bitPattern: Int64(v)))
        }
        static func tuple(_ items: [[UInt8]]) -> [UInt8] { [0x28] + items.flatMap { $0 } + [0x74] }
        static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
    }

    /// A protocol-2 pickle of {"w": _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', n), offset, shape, stride, False, OrderedDict())},
    /// strides row-major unless given.
    static func statePickle(numel: Int, shape: [Int], strides given: [Int]? = nil, offset: Int = 0,
                            global: (String, String) = ("torch._utils", "_rebuild_tensor_v2"),
                            extra: [UInt8] = []) -> [UInt8] {
        var strides: [Int] = []
        var acc = 1
        for d in shape.reversed() { strides.insert(acc, at: 0); acc = acc &* d }
        strides = given ?? strides
        var p: [UInt8] = [0x80, 0x02, 0x7d, 0x28]  // PROTO 2, EMPTY_DICT, MARK
        p += P.str("w")
        p += P.global(global.0, global.1)
        p += [0x28] + P.tuple([P.str("storage"), P.global("torch", "FloatStorage"), P.str("0"), P.str("cpu"), P.int(numel)]) + [0x51]
        p += P.int(offset) + P.tuple(shape.map(P.int)) + P.tuple(strides.map(P.int)) + [0x89] + P.global("collections", "OrderedDict")
            + [0x29, 0x52] + [0x74, 0x52]
        p += extra
        p += [0x75, 0x2e]  // SETITEMS, STOP
        return p
    }

    /// A torch zip around `pickle` with one storage "0" of `storage` bytes.
    static func torchZip(_ pickle: [UInt8], storage: [UInt8] = floats([1, 2, 3, 4, 5, 6])) -> [UInt8] {
        zip([("m/data.pkl", pickle), ("m/data/0", storage)])
    }
}
