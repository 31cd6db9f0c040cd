import Foundation
import HTTPServer
import PairEngine
import RankerService
import Sync

/// The HTTP face of the service: routes, authentication, request ids, timing headers, one JSON
/// log line per request, metrics, readiness and draining. Maps every error through APIError.
public final class RankerHTTPApp: Sendable {
    public struct Settings: Sendable {
        /// API key required on the inference routes and /info (as a Bearer token, the Basic
        /// password or X-API-Key); nil: no authentication.
        public var apiKey: String?
        /// Seconds a request may take before 504 (default; a request may lower it with the
        /// X-Request-Timeout header, in seconds).
        public var requestTimeout: Double = 120
        /// Bytes a request body may inflate to (`Content-Encoding: gzip` or `deflate`); past it,
        /// 413 without inflating the rest. The server's own limit on the bytes received.
        public var maxBodyBytes = 4 << 20
        public var info: JSON = .object([])
        public var openapi: String = ""
        public init() {}
    }

    public let metrics: Metrics
    /// Fixed at init and read without a lock; what `attach` changes lives in `state` below.
    public let settings: Settings
    struct State {
        var ready = false, draining = false
        var service: RankerService?
        var info: JSON
    }
    /// Guards the loaded service, the /info body, readiness and draining; a leaf lock (nothing
    /// is called while it is held; see docs/architecture.md).
    private let guarded: Locked<State>
    private let log: Logger

    public init(metrics: Metrics, settings: Settings, log: @escaping @Sendable (String) -> Void) {
        self.metrics = metrics
        self.settings = settings
        guarded = Locked(State(info: settings.info))
        self.log = Logger(sink: log)
    }

    /// Installs the loaded model's service (before `setReady`); `info` is what /info answers.
    public func attach(service: RankerService, info: JSON) {
        guarded.withLock { s in
            s.service = service
            s.info = info
        }
    }

    public func setReady(_ value: Bool) { guarded.withLock { $0.ready = value } }
    public func beginDrain() { guarded.withLock { $0.draining = true } }
    /// A copy of the state, taken under the lock.
    var state: State { guarded.withLock { $0 } }

    /// `Cache-Control: no-cache` or `no-store` (any case, among other directives) computes every
    /// pair afresh and stores nothing new, as an HTTP cache would.
    static func bypassesCache(_ value: String?) -> Bool {
        guard let value else { return false }
        return value.split(separator: ",").contains { d in
            let t = d.trimmingCharacters(in: .whitespaces).lowercased()
            return t == "no-cache" || t == "no-store"
        }
    }

    static let getRoutes = ["/health", "/ready", "/metrics", "/info", "/openapi.yaml"]
    /// Answered on the server's event loop, never behind inference: their work is a few short
    /// locks (the app's state, the metrics, the engine's gauges), none held across a forward pass.
    public static let inlinePaths: Set<String> = ["/health", "/ready", "/metrics"]

    /// Registers `inlinePaths` with `server` (before `server.start()`), so that a kubelet's probe
    /// answers at once however many requests hold the handler threads.
    public func answerProbesInline(on server: HTTPServer) {
        server.answerInline(paths: Self.inlinePaths) { [self] in handle($0, $1) }
    }

    /// Registers with `server` (before `server.start()`) everything the app answers: the routes
    /// through `handle`'s caller, the probes inline, and the server's own refusals through
    /// `refusal`, so that every answer comes from `APIError`'s table and is counted and logged.
    public func install(on server: HTTPServer) {
        answerProbesInline(on: server)
        server.answerRefusals { [self] in refusal($0) }
    }

    /// The answer to a request the HTTP layer refused (parser, read timeout, connection cap,
    /// request memory): `APIError`'s status and body, counted in `pairranker_requests_total`
    /// (route "http") and the failure counts, and logged with its request id. Runs on the event
    /// loop: it takes only the metrics' leaf lock.
    func refusal(_ r: HTTPRefusal) -> HTTPResponse {
        let kind: APIError.Kind
        switch r.reason {
        case .malformed: kind = .malformed
        case .lengthRequired: kind = .lengthRequired
        case .tooLarge: kind = .tooLarge
        case .uriTooLong: kind = .uriTooLong
        case .expectationFailed: kind = .expectationFailed
        case .headersTooLarge: kind = .headersTooLarge
        case .versionNotSupported: kind = .httpVersion
        case .readTimeout: kind = .requestTimeout
        case .connectionLimit, .requestMemory: kind = .busy
        }
        let e = APIError(kind, r.message)
        var response = Self.errorResponse(e)
        response.headers.append(("X-Request-Id", r.requestID))
        metrics.request(route: Self.refusalRoute, status: response.status, seconds: 0)
        metrics.failure(Self.reason(kind))
        log(.warning, "request.refused", ("request.id", .string(r.requestID)), ("status", .number(Double(response.status))),
            ("reason", .string(r.reason.rawValue)), ("remote", .string(r.remoteAddress)), ("error", .string(r.message)))
        return response
    }

    /// The route label of answers the HTTP layer gave before any route was known.
    public static let refusalRoute = "http"
    static let postRoutes = Dictionary(uniqueKeysWithValues: RankerService.Route.allCases.map { ($0.rawValue, $0) })

    public func handle(_ request: HTTPRequest, _ http: HTTPRequestContext) -> HTTPResponse {
        let start = DispatchTime.now().uptimeNanoseconds
        let id = Self.requestID(request.header("x-request-id"))
        let path = request.path
        // The header is read on the inference routes only: a probe never fails for it.
        let timeout = Result { Self.postRoutes[path] == nil ? nil : try Self.timeout(request.header("x-request-timeout")) }
        let seconds = min((try? timeout.get()) ?? settings.requestTimeout, settings.requestTimeout)
        let context = RequestContext(id: id, deadline: Self.deadline(start: start, seconds: seconds),
                                     useCache: !Self.bypassesCache(request.header("cache-control")))
        // A departed client reaches the engine as a signal (the event loop calls this), not a poll.
        http.whenCancelled { context.cancel() }
        var response: HTTPResponse
        var routeLabel = path
        do {
            response = try route(request, http, path: path, context: context, timeout: timeout)
        } catch let e as APIError {
            response = Self.errorResponse(e)
            metrics.failure(Self.reason(e.kind))
            if e.kind == .internalError {
                log(.error, "request.internal_error", ("request.id", .string(id)), ("error", .string(e.message)))
            }
        } catch {
            log(.error, "request.internal_error", ("request.id", .string(id)), ("error", .string("\(error)")))
            response = Self.errorResponse(APIError(.internalError, "internal error (request \(id))"))
            metrics.failure("internal")
        }
        if Self.getRoutes.contains(path) == false && Self.postRoutes[path] == nil { routeLabel = "other" }
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        response.headers.append(("X-Request-Id", id))
        response.headers.append(("x-queue-time", JSON.format((Double(context.queueNanoseconds) / 1e6 * 1000).rounded() / 1000)))
        response.headers.append(("x-inference-time", JSON.format((Double(context.inferenceNanoseconds) / 1e6 * 1000).rounded() / 1000)))
        response = Self.compressed(response, acceptEncoding: request.list("accept-encoding"))
        metrics.request(route: routeLabel, status: response.status, seconds: ms / 1000)
        if !["/health", "/ready", "/metrics"].contains(path) {
            log(.info, "request", ("request.id", .string(id)), ("method", .string(request.method)), ("route", .string(routeLabel)),
                ("status", .number(Double(response.status))), ("pairs", .number(Double(context.pairs))),
                ("tokens", .number(Double(context.tokens))), ("ms", .number((ms * 100).rounded() / 100)))
        }
        return response
    }

    private func route(_ request: HTTPRequest, _ http: HTTPRequestContext, path: String, context: RequestContext,
                       timeout: Result<Double?, any Error>) throws -> HTTPResponse {
        if Self.getRoutes.contains(path) {
            guard request.method == "GET" || request.method == "HEAD" else {
                throw APIError(.methodNotAllowed, "\(path) accepts GET")
            }
            switch path {
            case "/health": return Self.json(200, .object([("status", .string("ok"))]))
            case "/ready":
                let s = state
                if s.draining { throw APIError(.notReady, "draining: the server is shutting down") }
                if !s.ready { throw APIError(.notReady, "loading: the model is not ready yet") }
                return Self.json(200, .object([("status", .string("ready"))]))
            case "/metrics":
                return HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")], body: Array(metrics.render().utf8))
            case "/info":
                try authorize(request)
                let s = state
                return Self.json(200, s.service == nil ? .object([("status", .string("loading"))]) : s.info)
            default:
                return HTTPResponse(status: 200, headers: [("Content-Type", "application/yaml")], body: Array(settings.openapi.utf8))
            }
        }
        guard let route = Self.postRoutes[path] else { throw APIError(.notFound, "no route \(path)") }
        guard request.method == "POST" else { throw APIError(.methodNotAllowed, "\(path) accepts POST") }
        try authorize(request)
        if let type = request.header("content-type"), !Self.acceptable(contentType: type) {
            throw APIError(.unsupportedMedia, "Content-Type \(type) is not JSON (send application/json)")
        }
        _ = try timeout.get()  // a bad X-Request-Timeout: 400, once the client is authorized
        let s = state
        if s.draining { throw APIError(.notReady, "draining: the server is shutting down") }
        guard s.ready, let service = s.service else { throw APIError(.notReady, "loading: the model is not ready yet") }
        let body = try decodedBody(request, http)
        // The JSON tree is reserved in the server's budget of request memory before it is built.
        let tree = JSON.parseBytesBound(body)
        if let limit = http.memoryLimit, tree > limit {
            throw APIError(.tooLarge, "the body's JSON may take \(tree) bytes once parsed (2 per byte and \(JSON.bytesPerValue) per value), more than the server's whole budget of \(limit) bytes of request memory: send fewer values")
        }
        guard http.reserve(bytes: tree) else {
            throw APIError(.busy, "the server holds its limit of request memory (the parsed JSON of this body may take \(tree) bytes); retry later")
        }
        return Self.json(200, try service.handle(route, body: body, context: context))
    }

    /// The body as sent, or inflated per `Content-Encoding` (gzip, deflate) to at most
    /// `maxBodyBytes`, the inflated bytes reserved in the server's budget while the request runs.
    func decodedBody(_ request: HTTPRequest, _ http: HTTPRequestContext) throws -> [UInt8] {
        // Repeated fields are one list (RFC 9110 §5.3): `identity` then `gzip` is gzip.
        guard let coding = request.list("content-encoding"),
              coding.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces).lowercased() != "identity" }) else {
            return request.body
        }
        let limit = settings.maxBodyBytes
        if let whole = http.memoryLimit, limit > whole {
            throw APIError(.tooLarge, "a compressed body may inflate to \(limit) bytes (--max-body-bytes), more than the server's whole budget of \(whole) bytes of request memory: send it uncompressed")
        }
        guard http.reserve(bytes: limit) else {
            throw APIError(.busy, "the server holds its limit of request memory (inflating this body may take \(limit) bytes); retry later")
        }
        do {
            let body = try ContentCoding.decode(request.body, encoding: coding, limit: limit)
            http.release(bytes: limit - body.count)
            return body
        } catch {
            http.release(bytes: limit)
            switch error {
            case let .tooLarge(limit):
                throw APIError(.tooLarge, "the body inflates past the limit of \(limit) bytes (Content-Encoding: \(coding.prefix(64)))")
            case let .corrupt(why):
                throw APIError(.malformed, "the body is not valid \(coding.prefix(64)) data: \(why)")
            case let .unsupported(what):
                throw APIError(.unsupportedMedia, "Content-Encoding \(what.prefix(64)) is not supported (send gzip, deflate or identity)")
            }
        }
    }

    /// gzip of a response body of at least `ContentCoding.compressThreshold` bytes when the
    /// request's Accept-Encoding takes gzip; `Vary: Accept-Encoding` on every answer it could apply to.
    static func compressed(_ response: HTTPResponse, acceptEncoding: String?) -> HTTPResponse {
        var r = response
        r.headers.append(("Vary", "Accept-Encoding"))
        guard r.body.count >= ContentCoding.compressThreshold, ContentCoding.acceptsGzip(acceptEncoding),
              r.header("content-encoding") == nil, let z = ContentCoding.gzip(r.body) else { return r }
        r.body = z
        r.headers.append(("Content-Encoding", "gzip"))
        return r
    }

    /// JSON, or what curl -d sends by default (form-urlencoded) and plain text: the body is parsed
    /// as JSON either way.
    /// An empty value counts as absent; otherwise the media type (before any `;` parameters) must
    /// be present and one of these.
    static func acceptable(contentType: String) -> Bool {
        if contentType.allSatisfy({ $0 == " " || $0 == "\t" }) { return true }
        let type = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let t = type.trimmingCharacters(in: .whitespaces).lowercased()
        return t == "application/json" || t.hasSuffix("+json") || t == "application/x-www-form-urlencoded"
            || t == "text/plain" || t == "*/*"
    }

    /// The key is accepted in three places, each compared in constant time: `Authorization:
    /// Bearer KEY`, `Authorization: Basic base64(user:KEY)` (any user; what requests and aiohttp
    /// send for `http://:KEY@host/...`, so OpenRLHF's reward client can authenticate), and
    /// `X-API-Key: KEY`. Every form present is checked (no early exit on the first mismatch).
    private func authorize(_ request: HTTPRequest) throws {
        guard let key = settings.apiKey else { return }
        let expected = Array(key.utf8)
        let authorization = request.header("authorization") ?? ""
        var ok = false
        if let given = Self.bearerToken(authorization) { ok = Self.constantTimeEqual(given, expected) || ok }
        if let given = Self.basicPassword(authorization) { ok = Self.constantTimeEqual(given, expected) || ok }
        if let given = request.header("x-api-key") { ok = Self.constantTimeEqual(Array(given.utf8), expected) || ok }
        guard ok else {
            throw APIError(.unauthorized, "missing or wrong API key (send Authorization: Bearer <key>, Authorization: Basic with the key as password, or X-API-Key: <key>)")
        }
    }

    /// The credentials of `Bearer <token>`: the scheme in any case (RFC 9110 §11.1), then one or
    /// more spaces; nil for another scheme or none.
    static func bearerToken(_ value: String) -> [UInt8]? { credentials(value, scheme: "bearer") }

    /// The password of `Basic base64(user:password)` (RFC 7617): the scheme in any case, one or
    /// more spaces, then standard base64 (padding required, nothing after it). The user is
    /// everything before the first colon and is ignored; nil when the value is not that shape.
    static func basicPassword(_ value: String) -> [UInt8]? {
        guard let token = credentials(value, scheme: "basic"), token.count % 4 == 0,
              let decoded = Data(base64Encoded: Data(token)) else { return nil }
        let bytes = Array(decoded)
        guard let colon = bytes.firstIndex(of: 0x3A) else { return nil }
        return Array(bytes[(colon + 1)...])
    }

    private static func credentials(_ value: String, scheme name: String) -> [UInt8]? {
        let bytes = Array(value.utf8)
        let scheme = Array(name.utf8)
        guard bytes.count > scheme.count, bytes[scheme.count] == 0x20 else { return nil }
        for (i, c) in scheme.enumerated() where bytes[i] | 0x20 != c { return nil }
        var start = scheme.count
        while start < bytes.count, bytes[start] == 0x20 { start += 1 }
        return Array(bytes[start...])
    }

    /// Compares without an early exit, so timing does not reveal a matching prefix. Lengths are
    /// compared at full width: a truncated fold would equate lengths that differ by 256.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff: UInt = a.count == b.count ? 0 : 1
        for i in 0..<max(a.count, b.count) {
            diff |= UInt((i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0))
        }
        return diff == 0
    }

    static func json(_ status: Int, _ body: JSON) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: body.bytes)
    }

    static func errorResponse(_ e: APIError) -> HTTPResponse {
        var r = json(e.status.code, e.body)
        if e.kind == .methodNotAllowed {
            r.headers.append(("Allow", e.message.hasSuffix("GET") ? "GET, HEAD" : "POST"))
        }
        if e.kind == .busy { r.headers.append(("Retry-After", "1")) }
        if e.kind == .unsupportedMedia { r.headers.append(("Accept-Encoding", "gzip, deflate")) }
        if e.kind == .unauthorized {
            r.headers.append(("WWW-Authenticate", "Bearer"))
            r.headers.append(("WWW-Authenticate", #"Basic realm="pairranker""#))
        }
        return r
    }

    static func reason(_ kind: APIError.Kind) -> String {
        switch kind {
        case .malformed, .validation, .notFound, .methodNotAllowed, .lengthRequired, .tooLarge, .unsupportedMedia, .headersTooLarge,
             .uriTooLong, .expectationFailed, .httpVersion:
            return "validation"
        case .requestTimeout: return "timeout"
        case .overloaded: return "overloaded"
        case .timeout: return "timeout"
        case .cancelled: return "cancelled"
        case .unauthorized: return "unauthorized"
        case .notReady: return "not_ready"
        case .busy: return "overloaded"
        case .internalError: return "internal"
        }
    }

    /// The client's X-Request-Id when it is short printable ASCII, else a fresh one.
    static func requestID(_ given: String?) -> String {
        if let g = given, !g.isEmpty, g.utf8.count <= 128, g.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) {
            return g
        }
        return UUID().uuidString.lowercased()
    }

    /// X-Request-Timeout in seconds: a positive decimal number (`5`, `0.25`, `1e3`); nil when the
    /// header is absent. Anything else (`nan`, `inf`, `-1`, `0`, hex) is a 400 naming the header.
    static func timeout(_ header: String?) throws -> Double? {
        guard let header else { return nil }
        let text = header.trimmingCharacters(in: .whitespaces)
        let decimal = !text.isEmpty && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x65 || $0 == 0x45 || $0 == 0x2B || $0 == 0x2D }
        guard decimal, let v = Double(text), v.isFinite, v > 0 else {
            throw APIError(.malformed, "X-Request-Timeout: expected a positive number of seconds, got '\(text.prefix(64))'")
        }
        return v
    }

    /// `start` plus `seconds`, in monotonic nanoseconds: nil (no deadline) when that is past
    /// what UInt64 holds; `start` itself for zero, negative or NaN seconds.
    static func deadline(start: UInt64, seconds: Double) -> UInt64? {
        guard seconds > 0 else { return start }
        let ns = seconds * 1e9
        guard ns < 1.8e19 else { return nil }  // UInt64.max is 1.84e19
        let (sum, overflow) = start.addingReportingOverflow(UInt64(ns))
        return overflow ? nil : sum
    }
}
