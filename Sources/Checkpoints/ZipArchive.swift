import CZlib

/// The central directory of a zip file (what torch.save writes: stored entries, zip64 when large),
/// plus deflated entries through zlib. Every offset and size is checked against the file with
/// checked arithmetic when the directory is read: each entry's local header and data lie inside
/// the file, and no two entries share bytes (so a small file cannot name one deflate stream many
/// times over).
struct ZipArchive {
    struct Entry {
        let name: String
        let method: Int
        let compressedSize: Int
        let uncompressedSize: Int
        let crc32: UInt32
        let localHeaderOffset: Int
        /// Where the entry's data starts (after its local header), inside the file.
        let dataStart: Int
    }

    /// Deflate expands at most 1032:1 (a 258-byte match per two bits); a declared size beyond
    /// that is a lie, refused before any memory is allocated for it.
    static let maxDeflateRatio = 1032

    let file: MappedFile
    let entries: [String: Entry]
    let order: [String]

    init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        let n = file.count
        guard n >= 22 else { throw CheckpointError.truncated(path: path, what: "zip end record", needed: 22, available: n) }
        // End of central directory: the last 22 bytes plus up to 64 KiB of comment.
        var eocd = -1
        var i = n - 22
        let lowest = max(0, n - 22 - 65535)
        while i >= lowest {
            if file.le(UInt32.self, at: i) == 0x0605_4b50 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw CheckpointError.badZip(path: path, message: "no end-of-central-directory record") }
        var count = Int(file.le(UInt16.self, at: eocd + 10))
        var cdSize = Int(file.le(UInt32.self, at: eocd + 12))
        var cdOffset = Int(file.le(UInt32.self, at: eocd + 16))
        // Zip64 locator sits right before the end record.
        if eocd >= 20, file.le(UInt32.self, at: eocd - 20) == 0x0706_4b50 {
            let z64 = Int(clamping: file.le(UInt64.self, at: eocd - 12))
            guard z64 >= 0, z64 <= n - 56, file.le(UInt32.self, at: z64) == 0x0606_4b50 else {
                throw CheckpointError.badZip(path: path, message: "zip64 end record out of bounds")
            }
            count = Int(clamping: file.le(UInt64.self, at: z64 + 32))
            cdSize = Int(clamping: file.le(UInt64.self, at: z64 + 40))
            cdOffset = Int(clamping: file.le(UInt64.self, at: z64 + 48))
        }
        guard cdOffset >= 0, cdSize >= 0, cdOffset <= n, cdSize <= n - cdOffset else {
            throw CheckpointError.badZip(path: path, message: "central directory [\(cdOffset), +\(cdSize)) outside the file of \(n) bytes")
        }
        var entries: [String: Entry] = [:]
        var order: [String] = []
        var spans: [(start: Int, end: Int, name: String)] = []
        var p = cdOffset
        let end = cdOffset + cdSize
        for _ in 0..<count {
            guard p + 46 <= end, file.le(UInt32.self, at: p) == 0x0201_4b50 else {
                throw CheckpointError.badZip(path: path, message: "bad central directory entry at byte \(p)")
            }
            let method = Int(file.le(UInt16.self, at: p + 10))
            let crc = file.le(UInt32.self, at: p + 16)
            var csize = Int(file.le(UInt32.self, at: p + 20))
            var usize = Int(file.le(UInt32.self, at: p + 24))
            let nameLen = Int(file.le(UInt16.self, at: p + 28))
            let extraLen = Int(file.le(UInt16.self, at: p + 30))
            let commentLen = Int(file.le(UInt16.self, at: p + 32))
            var local = Int(file.le(UInt32.self, at: p + 42))
            guard p + 46 + nameLen + extraLen + commentLen <= end else {
                throw CheckpointError.badZip(path: path, message: "central directory entry at byte \(p) overruns the directory")
            }
            let name = String(decoding: file.bytes((p + 46)..<(p + 46 + nameLen)), as: UTF8.self)
            // Zip64 extended information: present fields replace the 0xFFFFFFFF placeholders, in order.
            var x = p + 46 + nameLen
            let xEnd = x + extraLen
            while x + 4 <= xEnd {
                let tag = file.le(UInt16.self, at: x)
                let size = Int(file.le(UInt16.self, at: x + 2))
                if tag == 0x0001 {
                    var q = x + 4
                    if usize == 0xFFFF_FFFF, q + 8 <= xEnd { usize = Int(clamping: file.le(UInt64.self, at: q)); q += 8 }
                    if csize == 0xFFFF_FFFF, q + 8 <= xEnd { csize = Int(clamping: file.le(UInt64.self, at: q)); q += 8 }
                    if local == 0xFFFF_FFFF, q + 8 <= xEnd { local = Int(clamping: file.le(UInt64.self, at: q)); q += 8 }
                }
                x += 4 + size
            }
            let dataStart = try Self.dataStart(file, name: name, localHeader: local, compressedSize: csize)
            entries[name] = Entry(name: name, method: method, compressedSize: csize, uncompressedSize: usize,
                                  crc32: crc, localHeaderOffset: local, dataStart: dataStart)
            order.append(name)
            spans.append((local, dataStart + csize, name))
            p += 46 + nameLen + extraLen + commentLen
        }
        spans.sort { $0.start < $1.start }
        for (a, b) in zip(spans, spans.dropFirst()) where b.start < a.end {
            throw CheckpointError.badZip(path: path, message: "entries '\(BoundedRendering.clip(a.name))' [\(a.start), \(a.end)) and "
                                         + "'\(BoundedRendering.clip(b.name))' [\(b.start), \(b.end)) overlap")
        }
        self.entries = entries
        self.order = order
    }

    /// The offset of an entry's data, after checking that its local header and its
    /// `compressedSize` bytes of data lie inside the file.
    private static func dataStart(_ file: MappedFile, name: String, localHeader h: Int, compressedSize: Int) throws -> Int {
        let path = file.path
        guard h >= 0, h <= file.count - 30, file.le(UInt32.self, at: h) == 0x0403_4b50 else {
            throw CheckpointError.corruptEntry(path: path, entry: name, message: "local header at byte \(h) is missing or outside the file of \(file.count) bytes")
        }
        // Both lengths are 16-bit, so this cannot overflow once h is inside the file.
        let start = h + 30 + Int(file.le(UInt16.self, at: h + 26)) + Int(file.le(UInt16.self, at: h + 28))
        guard compressedSize >= 0, start <= file.count, compressedSize <= file.count - start else {
            throw CheckpointError.truncated(path: path, what: "zip entry '\(BoundedRendering.clip(name))'",
                                            needed: compressedSize, available: max(0, file.count - start))
        }
        return start
    }

    /// The bytes of an entry: a view into the mapped file when stored, an inflated copy when deflated.
    /// `step`: bytes handed to zlib at a time (its counters are 32-bit); smaller in tests.
    func data(of entry: Entry, step: Int = 1 << 30) throws -> ByteStorage {
        let path = file.path
        let start = entry.dataStart  // checked against the file when the directory was read
        switch entry.method {
        case 0:
            guard entry.uncompressedSize == entry.compressedSize else {
                throw CheckpointError.corruptEntry(path: path, entry: entry.name, message: "stored sizes differ")
            }
            return ByteStorage(owner: file, base: file.base + start, count: entry.compressedSize)
        case 8:
            return try inflate(entry, from: start, step: max(step, 1))
        default:
            throw CheckpointError.unsupportedCompression(path: path, entry: entry.name, method: entry.method)
        }
    }

    private func inflate(_ entry: Entry, from start: Int, step: Int) throws -> ByteStorage {
        let path = file.path
        let (bound, overflow) = entry.compressedSize.multipliedReportingOverflow(by: Self.maxDeflateRatio)
        guard entry.uncompressedSize >= 0, overflow || entry.uncompressedSize <= bound + 64 else {
            throw CheckpointError.corruptEntry(path: path, entry: entry.name, message: "declares \(entry.uncompressedSize) bytes "
                                               + "uncompressed from \(entry.compressedSize) compressed, more than deflate can expand to")
        }
        let out = OwnedBytes(count: entry.uncompressedSize)
        var stream = z_stream()
        guard inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw CheckpointError.corruptEntry(path: path, entry: entry.name, message: "zlib init failed")
        }
        defer { inflateEnd(&stream) }
        // zlib counts in 32 bits: feed and drain at most `step` bytes at a time.
        var inLeft = entry.compressedSize, outLeft = entry.uncompressedSize
        stream.next_in = UnsafeMutablePointer(mutating: (file.base + start).assumingMemoryBound(to: Bytef.self))
        stream.next_out = out.pointer.assumingMemoryBound(to: Bytef.self)
        var rc: Int32
        repeat {
            let feed = min(inLeft, step), room = min(outLeft, step)
            stream.avail_in = uInt(feed)
            stream.avail_out = uInt(room)
            rc = CZlib.inflate(&stream, Z_NO_FLUSH)
            let used = feed - Int(stream.avail_in), made = room - Int(stream.avail_out)
            inLeft -= used
            outLeft -= made
            // Z_STREAM_END: done; Z_BUF_ERROR: no progress possible (input or output exhausted).
            if rc != Z_OK || (used == 0 && made == 0) { break }
        } while true
        let produced = entry.uncompressedSize - outLeft
        guard rc == Z_STREAM_END, outLeft == 0 else {
            throw CheckpointError.corruptEntry(path: path, entry: entry.name,
                                               message: "inflate gave \(produced) of \(entry.uncompressedSize) bytes (zlib code \(rc))")
        }
        var crc: UInt = 0
        var done = 0
        while done < entry.uncompressedSize {
            let n = min(entry.uncompressedSize - done, step)
            crc = CZlib.crc32(crc, out.pointer.advanced(by: done).assumingMemoryBound(to: Bytef.self), uInt(n))
            done += n
        }
        guard UInt32(truncatingIfNeeded: crc) == entry.crc32 else {
            throw CheckpointError.corruptEntry(path: path, entry: entry.name, message: "CRC-32 mismatch")
        }
        return ByteStorage(owner: out, base: UnsafeRawPointer(out.pointer), count: entry.uncompressedSize)
    }
}

final class OwnedBytes {
    let pointer: UnsafeMutableRawPointer
    init(count: Int) { pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64) }
    deinit { pointer.deallocate() }
}
