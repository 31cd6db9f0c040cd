/// The parts of SentencePiece's `ModelProto` (sentencepiece_model.proto) the tokenizer needs,
/// read with a minimal protobuf wire-format reader: pieces (1) with piece (1), score (2) and
/// type (3); normalizer_spec (3) with precompiled_charsmap (2) (its name (1) is skipped: the
/// charsmap alone defines the normalization).
struct SentencePieceModel {
    var pieces: [[UInt8]] = []
    var scores: [Float] = []
    var types: [Int] = []
    var precompiledCharsmap: [UInt8] = []
    var unkID: Int32 = 0

    init(bytes: [UInt8], path: String) throws {
        var r = WireReader(bytes: bytes[...], path: path)
        while !r.atEnd {
            let (field, wire) = try r.key()
            switch (field, wire) {
            case (1, 2):
                var p = WireReader(bytes: try r.lengthDelimited(), path: path)
                var piece: [UInt8] = [], score: Float = 0, type = 1
                while !p.atEnd {
                    let (f, w) = try p.key()
                    switch (f, w) {
                    case (1, 2): piece = Array(try p.lengthDelimited())
                    case (2, 5): score = Float(bitPattern: try p.fixed32())
                    case (3, 0): type = Int(try p.varint())
                    default: try p.skip(w)
                    }
                }
                pieces.append(piece)
                scores.append(score)
                types.append(type)
            case (3, 2):
                var n = WireReader(bytes: try r.lengthDelimited(), path: path)
                while !n.atEnd {
                    let (f, w) = try n.key()
                    switch (f, w) {
                    case (2, 2): precompiledCharsmap = Array(try n.lengthDelimited())
                    default: try n.skip(w)
                    }
                }
            default: try r.skip(wire)
            }
        }
        guard !pieces.isEmpty else { throw TokenizerError.badFile(path: path, message: "no pieces: not a SentencePiece model") }
        guard let unk = types.firstIndex(of: 2) else { throw TokenizerError.badFile(path: path, message: "no UNKNOWN piece") }
        unkID = Int32(unk)
    }
}

/// Protocol-buffer wire format, bounds-checked.
struct WireReader {
    var bytes: ArraySlice<UInt8>
    let path: String
    var atEnd: Bool { bytes.isEmpty }

    private func fail(_ m: String) -> TokenizerError { .badFile(path: path, message: "corrupt protobuf: \(m)") }

    mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while let b = bytes.first {
            bytes = bytes.dropFirst()
            v |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
            if shift >= 64 { throw fail("varint too long") }
        }
        throw fail("truncated varint")
    }

    mutating func key() throws -> (Int, Int) {
        let k = try varint()
        return (Int(k >> 3), Int(k & 7))
    }

    mutating func lengthDelimited() throws -> ArraySlice<UInt8> {
        let n = try varint()
        guard n <= UInt64(bytes.count) else { throw fail("field of \(n) bytes overruns the message") }
        let out = bytes.prefix(Int(n))
        bytes = bytes.dropFirst(Int(n))
        return out
    }

    mutating func fixed32() throws -> UInt32 {
        guard bytes.count >= 4 else { throw fail("truncated fixed32") }
        let b = Array(bytes.prefix(4))
        bytes = bytes.dropFirst(4)
        return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }

    mutating func skip(_ wire: Int) throws {
        switch wire {
        case 0: _ = try varint()
        case 1: guard bytes.count >= 8 else { throw fail("truncated fixed64") }; bytes = bytes.dropFirst(8)
        case 2: _ = try lengthDelimited()
        case 5: _ = try fixed32()
        default: throw fail("unsupported wire type \(wire)")
        }
    }
}
