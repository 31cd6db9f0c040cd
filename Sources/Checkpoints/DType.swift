/// Element types a checkpoint may hold. Only the float types convert to Float32; the others are
/// recognised so that unused keys (e.g. the int64 `position_ids` buffer) can be skipped.
public enum DType: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    public var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }

    /// torch storage class names (`torch.FloatStorage`) to dtypes.
    static func fromTorchStorage(_ name: String) -> DType? {
        switch name {
        case "FloatStorage": return .f32
        case "HalfStorage": return .f16
        case "BFloat16Storage": return .bf16
        case "DoubleStorage": return .f64
        case "LongStorage": return .i64
        case "IntStorage": return .i32
        case "ShortStorage": return .i16
        case "CharStorage": return .i8
        case "ByteStorage": return .u8
        case "BoolStorage": return .bool
        default: return nil
        }
    }
}

/// Bit-exact conversions of 16-bit floats to Float32.
enum HalfConversion {
    @inline(__always) static func bf16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    @inline(__always) static func f16ToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int(h >> 10) & 0x1f
        let mant = UInt32(h & 0x03ff)
        if exp == 0 {
            if mant == 0 { return Float(bitPattern: sign) }
            // subnormal: mant · 2^-24
            let v = Float(mant) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
    }
}
