import Foundation

// libFuzzer target: the safetensors, zip and pickle readers on arbitrary bytes. The first byte
// picks the shape: raw file (safetensors or zip by magic), or a pickle wrapped in a valid
// stored zip with one storage. Every tensor that loads is read in full.
func zipOf(_ entries: [(String, [UInt8])]) -> [UInt8] {
    func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8((v >> 8) & 0xff)] }
    func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
    var out: [UInt8] = [], central: [UInt8] = []
    for (name, data) in entries {
        let n = Array(name.utf8), offset = out.count
        out += le32(0x04034b50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(data.count) + le32(data.count)
            + le16(n.count) + le16(0) + n + data
        central += le32(0x02014b50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(data.count)
            + le32(data.count) + le16(n.count) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + n
    }
    let cd = out.count
    out += central + le32(0x06054b50) + le16(0) + le16(0) + le16(entries.count) + le16(entries.count) + le32(central.count) + le32(cd) + le16(0)
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let mode = bytes.first else { return 0 }
    bytes.removeFirst()
    if mode & 1 == 1 {
        bytes = zipOf([("m/data.pkl", bytes), ("m/data/0", [UInt8](repeating: 0x3f, count: 256))])
    }
    let path = NSTemporaryDirectory() + "pairranker-fuzz-ckpt-\(getpid())"
    FileManager.default.createFile(atPath: path, contents: Data(bytes))
    guard let c = try? Checkpoint(path: path) else { return 0 }
    for name in c.names.prefix(64) {
        if let w = try? c.floats(name) { _ = w.values.reduce(0, +) }
    }
    return 0
}
