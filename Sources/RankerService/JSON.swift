/// A JSON value, a strict RFC 8259 parser over UTF-8 bytes and a compact serializer. Ours rather
/// than Foundation's so that errors say where the problem is, invalid UTF-8 and lone surrogates
/// are rejected, depth is bounded, and numbers keep the exact float32 text we emit.
public enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> JSON? {
        guard case let .object(members) = self else { return nil }
        return members.last { $0.0 == key }?.1
    }

    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

public struct JSONParseError: Error, Equatable, CustomStringConvertible {
    public let offset: Int
    public let message: String
    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

extension JSON {
    public static let maxDepth = 64

    /// Heap bytes a value may occupy in the tree beyond its text, measured over the costliest
    /// shapes (`JSONMemoryTests`): a value's slot in its array or object, that container's growth
    /// slack, and the allocator's overhead.
    public static let bytesPerValue = 128

    /// An upper bound of the memory `parse(bytes)` may hold at its peak, for any input, valid
    /// or not: twice the text (a string's bytes are decoded into a buffer, then copied into the
    /// String) plus `bytesPerValue` for every value, counted without allocating: outside strings,
    /// each value is an element after a `[` or `,` or a member's key or value, so values are at
    /// most `[` + `{` + `,` + strings + 1. Handlers reserve it before parsing.
    public static func parseBytesBound(_ bytes: [UInt8]) -> Int {
        var values = 1
        var inString = false
        var i = 0
        let n = bytes.count
        while i < n {
            let c = bytes[i]
            if inString {
                if c == 0x5C { i += 2; continue }       // backslash: skip the escaped byte
                if c == 0x22 { inString = false }
            } else if c == 0x22 {
                inString = true
                values += 1
            } else if c == 0x2C || c == 0x5B || c == 0x7B {  // , [ {
                values += 1
            }
            i += 1
        }
        let (perValue, o1) = values.multipliedReportingOverflow(by: bytesPerValue)
        let (text, o2) = n.multipliedReportingOverflow(by: 2)
        let (sum, o3) = perValue.addingReportingOverflow(text)
        return o1 || o2 || o3 ? Int.max : sum
    }

    public static func parse(_ bytes: [UInt8]) throws -> JSON {
        try bytes.withUnsafeBufferPointer { buf in
            var p = Parser(b: buf)
            p.skipSpace()
            let v = try p.value(depth: 0)
            p.skipSpace()
            guard p.i == buf.count else { throw p.fail("unexpected data after the value") }
            return v
        }
    }

    private struct Parser {
        let b: UnsafeBufferPointer<UInt8>
        var i = 0

        func fail(_ m: String) -> JSONParseError { JSONParseError(offset: i, message: m) }

        mutating func skipSpace() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        }

        mutating func literal(_ word: String, _ v: JSON) throws -> JSON {
            for c in word.utf8 {
                guard i < b.count, b[i] == c else { throw fail("expected '\(word)'") }
                i += 1
            }
            return v
        }

        mutating func value(depth: Int) throws -> JSON {
            guard depth <= JSON.maxDepth else { throw fail("nesting deeper than \(JSON.maxDepth)") }
            guard i < b.count else { throw fail("unexpected end of input") }
            switch b[i] {
            case UInt8(ascii: "{"):
                i += 1
                var members: [(String, JSON)] = []
                skipSpace()
                if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                    let k = try string()
                    skipSpace()
                    guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    i += 1
                    skipSpace()
                    members.append((k, try value(depth: depth + 1)))
                    skipSpace()
                    guard i < b.count else { throw fail("unterminated object") }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    if b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                    throw fail("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [JSON] = []
                skipSpace()
                if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < b.count else { throw fail("unterminated array") }
                    if b[i] == UInt8(ascii: ",") { i += 1; continue }
                    if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                    throw fail("expected ',' or ']'")
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            default: return try number()
            }
        }

        mutating func number() throws -> JSON {
            let start = i
            if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < b.count, b[i] >= 0x30, b[i] <= 0x39 else { throw fail("unexpected character") }
            if b[i] == 0x30 { i += 1 } else { while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 } }
            if i < b.count, b[i] == UInt8(ascii: ".") {
                i += 1
                guard i < b.count, b[i] >= 0x30, b[i] <= 0x39 else { throw fail("expected a digit after '.'") }
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            }
            if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
                i += 1
                if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
                guard i < b.count, b[i] >= 0x30, b[i] <= 0x39 else { throw fail("expected a digit in the exponent") }
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
            guard let d = Double(text), d.isFinite else { throw JSONParseError(offset: start, message: "number out of range") }
            return .number(d)
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= b.count else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = b[i]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw fail("invalid hex digit in \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        mutating func string() throws -> String {
            i += 1  // opening quote
            // The decoded text is never longer than its raw bytes: reserving them once keeps the
            // buffer from growing (and holding up to twice what it needs) on long strings.
            var end = i
            while end < b.count, b[end] != UInt8(ascii: "\"") { end += b[end] == UInt8(ascii: "\\") ? 2 : 1 }
            var out: [UInt8] = []
            out.reserveCapacity(min(end, b.count) - i)
            while true {
                guard i < b.count else { throw fail("unterminated string") }
                let c = b[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                if c < 0x20 { throw fail("control character in string") }
                if c == UInt8(ascii: "\\") {
                    i += 1
                    guard i < b.count else { throw fail("unterminated escape") }
                    let e = b[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var u = try hex4()
                        if (0xD800...0xDBFF).contains(u) {
                            guard i + 6 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                                throw fail("lone surrogate \\u\(String(u, radix: 16)) is not a character")
                            }
                            i += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw fail("lone surrogate \\u\(String(u, radix: 16)) is not a character") }
                            u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(u) {
                            throw fail("lone surrogate \\u\(String(u, radix: 16)) is not a character")
                        }
                        guard let scalar = Unicode.Scalar(u) else { throw fail("\\u escape is not a character") }
                        out += String(Character(scalar)).utf8
                    default: throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
                    }
                    continue
                }
                if c < 0x80 { out.append(c); i += 1; continue }
                // Validate one UTF-8 sequence.
                let n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0
                guard n > 0, c <= 0xF4, i + n <= b.count else { throw fail("invalid UTF-8") }
                var scalar = UInt32(c) & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07)
                for k in 1..<n {
                    let cc = b[i + k]
                    guard cc & 0xC0 == 0x80 else { throw fail("invalid UTF-8") }
                    scalar = scalar << 6 | UInt32(cc & 0x3F)
                }
                let minimum: UInt32 = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000
                guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { throw fail("invalid UTF-8") }
                out += UnsafeBufferPointer(rebasing: b[i..<(i + n)])
                i += n
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}

extension JSON {
    /// Compact JSON text. Floats print as their shortest round-trip text; non-finite numbers as null.
    public var text: String {
        var out = ""
        write(&out)
        return out
    }

    public var bytes: [UInt8] { Array(text.utf8) }

    private func write(_ out: inout String) {
        switch self {
        case .null: out += "null"
        case let .bool(v): out += v ? "true" : "false"
        case let .number(d): out += Self.format(d)
        case let .string(s): Self.quote(s, into: &out)
        case let .array(items):
            out += "["
            for (k, v) in items.enumerated() { if k > 0 { out += "," }; v.write(&out) }
            out += "]"
        case let .object(members):
            out += "{"
            for (k, (key, v)) in members.enumerated() {
                if k > 0 { out += "," }
                Self.quote(key, into: &out)
                out += ":"
                v.write(&out)
            }
            out += "}"
        }
    }

    /// Integral values below 2^63 in magnitude print as integers (`1000000000000000`, never
    /// `1e+15` or `...0`); others as Swift's shortest round-trip text, which is valid JSON.
    public static func format(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 9.223372036854775807e18 { return String(Int64(d)) }
        return "\(d)"
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }

    /// A Float32 result as its shortest float32 text (exactly the value computed).
    public static func float(_ f: Float) -> JSON { .number(Double("\(f)") ?? Double(f)) }
}
