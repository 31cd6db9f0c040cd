/// Every failure a client can see, and the one table that maps it to a status and a type (the
/// statuses each route answers are listed in openapi.yaml). The body is always {"error": {"type": ..., "message": ...},
/// "detail": message}: `detail` repeats the message for clients that read FastAPI's shape
/// (Jina's clients raise KeyError without it).
public struct APIError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case malformed          // 400: not JSON, wrong types
        case notFound           // 404
        case methodNotAllowed   // 405
        case lengthRequired     // 411
        case tooLarge           // 413
        case unsupportedMedia   // 415
        case validation         // 422: valid JSON that breaks the contract
        case headersTooLarge    // 431
        case uriTooLong         // 414 (the HTTP layer's)
        case expectationFailed  // 417 (the HTTP layer's)
        case requestTimeout     // 408: the request was not received in time (the HTTP layer's)
        case httpVersion        // 505 (the HTTP layer's)
        case overloaded         // 429: nothing was computed
        case unauthorized       // 401
        case notReady           // 503: loading or draining
        case busy               // 503: the server's budget of request memory is full (Retry-After)
        case timeout            // 504: deadline passed in the queue
        case cancelled          // 499: the client went away (logged, never sent)
        case internalError      // 500: never for bad input
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }

    /// (HTTP status, error type) for each kind.
    public var status: (code: Int, type: String) {
        switch kind {
        case .malformed: return (400, "invalid_request")
        case .unauthorized: return (401, "unauthorized")
        case .notFound: return (404, "not_found")
        case .methodNotAllowed: return (405, "method_not_allowed")
        case .lengthRequired: return (411, "length_required")
        case .tooLarge: return (413, "payload_too_large")
        case .unsupportedMedia: return (415, "unsupported_media_type")
        case .validation: return (422, "validation")
        case .overloaded: return (429, "overloaded")
        case .headersTooLarge: return (431, "headers_too_large")
        case .uriTooLong: return (414, "uri_too_long")
        case .expectationFailed: return (417, "expectation_failed")
        case .requestTimeout: return (408, "timeout")
        case .httpVersion: return (505, "http_version_not_supported")
        case .cancelled: return (499, "cancelled")
        case .internalError: return (500, "internal")
        case .notReady: return (503, "unavailable")
        case .busy: return (503, "overloaded")
        case .timeout: return (504, "timeout")
        }
    }

    public var body: JSON {
        .object([("error", .object([("type", .string(status.type)), ("message", .string(message))])),
                 ("detail", .string(message))])
    }

    static func field(_ name: String, _ problem: String) -> APIError { APIError(.malformed, "\(name): \(problem)") }
    static func invalid(_ name: String, _ problem: String) -> APIError { APIError(.validation, "\(name): \(problem)") }
}
