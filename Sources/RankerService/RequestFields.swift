/// Typed access to a request object's fields. Wrong types are 400 (`field: expected ...`),
/// contract violations are 422; every message names the field path.
struct RequestFields {
    let object: JSON
    let path: String

    init(_ json: JSON, path: String = "") throws {
        guard case .object = json else { throw APIError(.malformed, "request body must be a JSON object, got \(json.typeName)") }
        object = json
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func has(_ key: String) -> Bool {
        if let v = object[key], v != .null { return true }
        return false
    }

    func string(_ key: String) throws -> String? {
        guard let v = object[key], v != .null else { return nil }
        guard case let .string(s) = v else { throw APIError.field(name(key), "expected a string, got \(v.typeName)") }
        return s
    }

    func requiredString(_ key: String) throws -> String {
        guard let s = try string(key) else { throw APIError.field(name(key), "is required") }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = object[key], v != .null else { return nil }
        guard case let .bool(b) = v else { throw APIError.field(name(key), "expected true or false, got \(v.typeName)") }
        return b
    }

    /// Integers up to 2^53 in magnitude: past that a JSON number no longer holds every integer
    /// exactly (the body is parsed to Double), so a larger one is refused rather than rounded.
    func int(_ key: String) throws -> Int? {
        guard let v = object[key], v != .null else { return nil }
        guard case let .number(d) = v, d == d.rounded() else {
            throw APIError.field(name(key), "expected an integer, got \(v.typeName == "a number" ? "a fraction" : v.typeName)")
        }
        guard abs(d) <= Self.maxInteger else {
            throw APIError.invalid(name(key), "\(JSON.format(d)) is out of range (integers up to 2^53 = 9007199254740992 in magnitude)")
        }
        return Int(d)
    }

    static let maxInteger = 9_007_199_254_740_992.0

    func strings(_ key: String) throws -> [String]? {
        guard let v = object[key], v != .null else { return nil }
        guard case let .array(items) = v else { throw APIError.field(name(key), "expected an array of strings, got \(v.typeName)") }
        return try items.enumerated().map { i, item in
            guard case let .string(s) = item else { throw APIError.field("\(name(key))[\(i)]", "expected a string, got \(item.typeName)") }
            return s
        }
    }

    func optionalStrings(_ key: String) throws -> [String?]? {
        guard let v = object[key], v != .null else { return nil }
        guard case let .array(items) = v else { throw APIError.field(name(key), "expected an array of strings, got \(v.typeName)") }
        return try items.enumerated().map { i, item in
            if item == .null { return nil }
            guard case let .string(s) = item else { throw APIError.field("\(name(key))[\(i)]", "expected a string or null, got \(item.typeName)") }
            return s
        }
    }

    func stringLists(_ key: String) throws -> [[String]]? {
        guard let v = object[key], v != .null else { return nil }
        guard case let .array(items) = v else { throw APIError.field(name(key), "expected an array of arrays of strings, got \(v.typeName)") }
        return try items.enumerated().map { i, item in
            guard case let .array(inner) = item else { throw APIError.field("\(name(key))[\(i)]", "expected an array of strings, got \(item.typeName)") }
            return try inner.enumerated().map { j, s in
                guard case let .string(t) = s else { throw APIError.field("\(name(key))[\(i)][\(j)]", "expected a string, got \(s.typeName)") }
                return t
            }
        }
    }
}
