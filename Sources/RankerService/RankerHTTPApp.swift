import Foundation
import HTTPServer

/// The HTTP face of the service: routes, authentication, request ids, timing headers, one JSON
/// log line per request, metrics, readiness and draining. Maps every error through APIError.
public final class RankerHTTPApp: @unchecked Sendable {
    public struct Settings: Sendable {
        /// Bearer token required on the inference routes and /info; nil: no authentication.
        public var apiKey: String?
        /// Seconds a request may take before 504 (default; a request may lower it with the
        /// X-Request-Timeout header, in seconds).
        public var requestTimeout: Double = 120
        public var info: JSON = .object([])
        public var openapi: String = ""
        public init() {}
    }

    public let metrics: Metrics
    public private(set) var settings: Settings
    private var service: RankerService?
    private let lock = NSLock()
    private var ready = false
    private var draining = false
    private let log: @Sendable (String) -> Void

    public init(metrics: Metrics, settings: Settings, log: @escaping @Sendable (String) -> Void) {
        self.metrics = metrics
        self.settings = settings
        self.log = log
    }

    /// Installs the loaded model's service (before `setReady`); `info` is what /info answers.
    public func attach(service: RankerService, info: JSON) {
        lock.lock()
        self.service = service
        settings.info = info
        lock.unlock()
    }

    public func setReady(_ value: Bool) { lock.lock(); ready = value; lock.unlock() }
    public func beginDrain() { lock.lock(); draining = true; lock.unlock() }
    var state: (ready: Bool, draining: Bool, service: RankerService?, info: JSON) {
        lock.lock(); defer { lock.unlock() }
        return (ready, draining, service, settings.info)
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
    static let postRoutes = Dictionary(uniqueKeysWithValues: RankerService.Route.allCases.map { ($0.rawValue, $0) })

    public func handle(_ request: HTTPRequest, _ http: HTTPRequestContext) -> HTTPResponse {
        let start = DispatchTime.now().uptimeNanoseconds
        let id = Self.requestID(request.header("x-request-id"))
        let timeout = Self.timeout(request.header("x-request-timeout"), default: settings.requestTimeout)
        let context = RequestContext(id: id, deadline: start + UInt64(timeout * 1e9), cancelled: { http.isCancelled })
        let path = request.path
        var response: HTTPResponse
        var routeLabel = path
        do {
            response = try route(request, path: path, context: context)
        } catch let e as APIError {
            response = Self.errorResponse(e)
            metrics.failure(Self.reason(e.kind))
        } catch {
            log(#"{"level":"error","msg":"request.internal_error","request.id":"\#(id)","error":\#(JSON.string("\(error)").text)}"#)
            response = Self.errorResponse(APIError(.internalError, "internal error (request \(id))"))
            metrics.failure("internal")
        }
        if Self.getRoutes.contains(path) == false && Self.postRoutes[path] == nil { routeLabel = "other" }
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        response.headers.append(("X-Request-Id", id))
        response.headers.append(("x-queue-time", JSON.format((Double(context.queueNanoseconds) / 1e6 * 1000).rounded() / 1000)))
        response.headers.append(("x-inference-time", JSON.format((Double(context.inferenceNanoseconds) / 1e6 * 1000).rounded() / 1000)))
        metrics.request(route: routeLabel, status: response.status, seconds: ms / 1000)
        if !["/health", "/ready", "/metrics"].contains(path) {
            log(#"{"level":"info","msg":"request","request.id":\#(JSON.string(id).text),"method":\#(JSON.string(request.method).text),"route":\#(JSON.string(routeLabel).text),"status":\#(response.status),"pairs":\#(context.pairs),"tokens":\#(context.tokens),"ms":\#(JSON.format((ms * 100).rounded() / 100))}"#)
        }
        return response
    }

    private func route(_ request: HTTPRequest, path: String, context: RequestContext) throws -> HTTPResponse {
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
        let s = state
        if s.draining { throw APIError(.notReady, "draining: the server is shutting down") }
        guard s.ready, let service = s.service else { throw APIError(.notReady, "loading: the model is not ready yet") }
        let body = try service.handle(route, body: request.body, context: context)
        return Self.json(200, body)
    }

    /// JSON, or what curl -d sends by default (form-urlencoded) and plain text: the body is parsed
    /// as JSON either way.
    static func acceptable(contentType: String) -> Bool {
        let t = contentType.split(separator: ";")[0].trimmingCharacters(in: .whitespaces).lowercased()
        return t.isEmpty || t == "application/json" || t.hasSuffix("+json") || t == "application/x-www-form-urlencoded"
            || t == "text/plain" || t == "*/*"
    }

    private func authorize(_ request: HTTPRequest) throws {
        guard let key = settings.apiKey else { return }
        let given = request.header("authorization") ?? ""
        let expected = "Bearer " + key
        guard Self.constantTimeEqual(Array(given.utf8), Array(expected.utf8)) else {
            throw APIError(.unauthorized, "missing or wrong API key (send Authorization: Bearer <key>)")
        }
    }

    /// Compares without an early exit, so timing does not reveal a matching prefix.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
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
        if e.kind == .unauthorized { r.headers.append(("WWW-Authenticate", "Bearer")) }
        return r
    }

    static func reason(_ kind: APIError.Kind) -> String {
        switch kind {
        case .malformed, .validation, .notFound, .methodNotAllowed, .lengthRequired, .tooLarge, .unsupportedMedia, .headersTooLarge:
            return "validation"
        case .overloaded: return "overloaded"
        case .timeout: return "timeout"
        case .cancelled: return "cancelled"
        case .unauthorized: return "unauthorized"
        case .notReady: return "not_ready"
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

    static func timeout(_ header: String?, default d: Double) -> Double {
        guard let h = header, let v = Double(h.trimmingCharacters(in: .whitespaces)), v > 0, v.isFinite else { return d }
        return min(v, d)
    }
}
