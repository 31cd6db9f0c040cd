/// A request the server answers itself, without a handler: the parser refused it, it was not
/// received in time, or the server had no room for it (connections, request memory). The
/// application turns each into its answer (`HTTPServer.answerRefusals`), so that these answers
/// come from the same error table as the handler's, and are counted and logged like them.
public struct HTTPRefusal: Sendable, Equatable {
    public enum Reason: String, Sendable, CaseIterable {
        case malformed              // 400: the bytes are not HTTP/1.1 as RFC 9112 has it
        case lengthRequired         // 411
        case tooLarge               // 413: the body's declared or received size
        case uriTooLong             // 414
        case expectationFailed      // 417: an Expect other than 100-continue
        case headersTooLarge        // 431
        case versionNotSupported    // 505
        case readTimeout            // 408: the request was not received within the read timeout
        case connectionLimit        // 503: the server has its limit of connections open
        case requestMemory          // 503: the server holds its budget of request bytes
    }

    public let reason: Reason
    /// What the client is told, naming the limit or the problem.
    public let message: String
    /// The request's X-Request-Id when its head was read far enough, else a fresh one.
    public let requestID: String
    public let remoteAddress: String

    public init(reason: Reason, message: String, requestID: String, remoteAddress: String) {
        self.reason = reason
        self.message = message
        self.requestID = requestID
        self.remoteAddress = remoteAddress
    }

    /// The status the server sends for this reason.
    public var status: Int {
        switch reason {
        case .malformed: return 400
        case .lengthRequired: return 411
        case .tooLarge: return 413
        case .uriTooLong: return 414
        case .expectationFailed: return 417
        case .headersTooLarge: return 431
        case .versionNotSupported: return 505
        case .readTimeout: return 408
        case .connectionLimit, .requestMemory: return 503
        }
    }

    /// The reason of a parser refusal with this status.
    static func reason(parseStatus: Int) -> Reason {
        switch parseStatus {
        case 411: return .lengthRequired
        case 413: return .tooLarge
        case 414: return .uriTooLong
        case 417: return .expectationFailed
        case 431: return .headersTooLarge
        case 505: return .versionNotSupported
        default: return .malformed
        }
    }

    /// The answer when no application responder is registered (the HTTP layer used alone).
    public var defaultResponse: HTTPResponse {
        let type: String
        switch reason {
        case .malformed: type = "invalid_request"
        case .lengthRequired: type = "length_required"
        case .tooLarge: type = "payload_too_large"
        case .uriTooLong: type = "uri_too_long"
        case .expectationFailed: type = "expectation_failed"
        case .headersTooLarge: type = "headers_too_large"
        case .versionNotSupported: type = "http_version_not_supported"
        case .readTimeout: type = "timeout"
        case .connectionLimit, .requestMemory: type = "overloaded"
        }
        var r = HTTPResponse.error(status, type: type, message: message)
        if status == 503 { r.headers.append(("Retry-After", "1")) }
        return r
    }
}
