/// A parsed request. Header names keep their case; lookups are case-insensitive.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    public var target: String
    public var version: HTTPVersion
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// Bytes this request holds once parsed, counted in the server's request-byte budget: its
    /// body, and its head's text (method, target, header names and values, each with a little
    /// for the line and String overhead).
    public var heldBytes: Int {
        headers.reduce(body.count + method.utf8.count + target.utf8.count + 32) { $0 + $1.name.utf8.count + $1.value.utf8.count + 32 }
    }

    /// The target in origin form: an absolute-form target (`http://host:port/rank?x`, RFC 9112
    /// §3.2.2) is routed by its path and query, its authority taking the place of Host.
    public var originForm: Substring {
        guard let i = Self.absoluteFormPathStart(target) else { return Substring(target) }
        return target[i...]
    }

    public var path: String {
        let o = originForm
        let p = o.prefix { $0 != "?" }
        return p.isEmpty ? "/" : String(p)
    }

    public var query: String? {
        let o = originForm
        guard let q = o.firstIndex(of: "?") else { return nil }
        return String(o[o.index(after: q)...])
    }

    /// Where the path starts in an absolute-form target (`http://` or `https://`, any case, then
    /// a non-empty authority); nil for any other form.
    static func absoluteFormPathStart(_ target: String) -> String.Index? {
        let lower = String(decoding: target.utf8.prefix(8), as: UTF8.self).lowercased()
        let schemeLength: Int
        if lower.hasPrefix("http://") { schemeLength = 7 } else if lower.hasPrefix("https://") { schemeLength = 8 } else { return nil }
        // `target` is public: whatever it holds, never step past its end.
        guard let afterScheme = target.utf8.index(target.startIndex, offsetBy: schemeLength, limitedBy: target.endIndex) else { return nil }
        let rest = target[afterScheme...]
        let end = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        guard end > rest.startIndex else { return nil }
        return end
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of the field `name` (any case), in order: repeated fields are one list
    /// (RFC 9110 §5.3).
    public func values(of name: String) -> [String] {
        let n = name.lowercased()
        return headers.filter { $0.name.lowercased() == n }.map(\.value)
    }

    /// The values of `name` joined as one comma-separated list; nil when the field is absent.
    public func list(_ name: String) -> String? {
        let v = values(of: name)
        return v.isEmpty ? nil : v.joined(separator: ", ")
    }

    /// HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0 closes unless keep-alive.
    public var keepAlive: Bool {
        let tokens = (header("connection") ?? "").lowercased().split(separator: ",").map { $0.trimmedOWS }
        if tokens.contains("close") { return false }
        return version == .http11 || tokens.contains("keep-alive")
    }

    public static func == (a: HTTPRequest, b: HTTPRequest) -> Bool {
        a.method == b.method && a.target == b.target && a.version == b.version && a.body == b.body
            && a.headers.count == b.headers.count && zip(a.headers, b.headers).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

public enum HTTPVersion: String, Sendable { case http10 = "HTTP/1.0", http11 = "HTTP/1.1" }

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }

    /// A JSON error body for failures the server itself answers (parse errors, limits, routing).
    public static func error(_ status: Int, type: String, message: String) -> HTTPResponse {
        var escaped = ""
        for u in message.unicodeScalars {
            switch u {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case _ where u.value < 0x20: escaped += " "
            default: escaped.unicodeScalars.append(u)
            }
        }
        // `detail` repeats the message, as the service's own errors do (RankerService.APIError).
        let body = "{\"error\":{\"type\":\"\(type)\",\"message\":\"\(escaped)\"},\"detail\":\"\(escaped)\"}"
        return HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 422: return "Unprocessable Content"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Status \(status)"
        }
    }

    /// Status line, headers (Content-Length always; Connection: close when closing), body.
    public func serialized(keepAlive: Bool, headOnly: Bool = false) -> [UInt8] {
        var s = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        for h in headers where h.name.lowercased() != "content-length" && h.name.lowercased() != "connection" {
            s += "\(h.name): \(h.value)\r\n"
        }
        s += "Content-Length: \(body.count)\r\n"
        if !keepAlive { s += "Connection: close\r\n" }
        s += "\r\n"
        return Array(s.utf8) + (headOnly ? [] : body)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    var trimmedOWS: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
