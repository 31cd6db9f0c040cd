import Foundation
@testable import HTTPServer
import PairRanker
import PairEngine
import RankerHTTP
import RankerService

// libFuzzer target: the RankerHTTPApp layer (routing, methods, authentication, Content-Type,
// X-Request-Id, X-Request-Timeout, then validation and the fixture model) with arbitrary
// methods, targets, headers and bodies, as the HTTP parser would hand them over.
//
// Input: byte 0 picks the app (bit 0: with an API key "k"); then newline-separated fields:
// method, target, header lines "name:value" up to an empty line, and the rest is the body.
// Every answer must be a well-formed response: never a 500 (bad input is never the server's
// fault), always an X-Request-Id, a JSON body that parses whenever the type says JSON, and an
// error body for every non-200 JSON answer. Built by scripts/fuzz.sh against the modules
// compiled with -sanitize=fuzzer,address.
func makeApp(apiKey: String?) -> RankerHTTPApp {
    let dir = ProcessInfo.processInfo.environment["PAIRRANKER_FUZZ_MODEL"] ?? "Tests/Fixtures/tiny-pair-ranker"
    let model = try! PairRankerModel(path: dir)
    var limits = ServiceLimits()
    limits.maxPairsPerRequest = 64
    limits.maxTextBytes = 2048
    var settings = RankerHTTPApp.Settings()
    settings.apiKey = apiKey
    settings.openapi = "openapi: 3.1.0\n"
    let app = RankerHTTPApp(metrics: Metrics(), settings: settings, log: { _ in })
    app.attach(service: RankerService(model: model, engine: DirectEngine(model: model), limits: limits), info: .object([]))
    app.setReady(true)
    return app
}

nonisolated(unsafe) let apps = [makeApp(apiKey: nil), makeApp(apiKey: "k")]

func split(_ bytes: ArraySlice<UInt8>) -> (String, String, [(name: String, value: String)], [UInt8]) {
    var fields: [String] = []
    var headers: [(name: String, value: String)] = []
    var i = bytes.startIndex
    while i < bytes.endIndex {
        let end = bytes[i...].firstIndex(of: 0x0A) ?? bytes.endIndex
        let line = String(decoding: bytes[i..<end], as: UTF8.self)
        i = end < bytes.endIndex ? end + 1 : end
        if fields.count < 2 { fields.append(line); continue }
        if line.isEmpty { break }
        if let colon = line.firstIndex(of: ":") {
            headers.append((name: String(line[..<colon]), value: String(line[line.index(after: colon)...])))
        } else {
            headers.append((name: line, value: ""))
        }
    }
    while fields.count < 2 { fields.append("") }
    return (fields[0], fields[1], headers, Array(bytes[i...]))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let app = apps[Int(bytes[0] & 1)]
    let (method, target, headers, body) = split(bytes[1...])
    let request = HTTPRequest(method: method, target: target, version: .http11, headers: headers, body: body)
    let r = app.handle(request, HTTPRequestContext(remoteAddress: "fuzz"))
    precondition(r.status != 500, "500 for \(method) \(target) \(headers): \(String(decoding: r.body, as: UTF8.self))")
    precondition((200...599).contains(r.status), "status \(r.status)")
    precondition(r.header("x-request-id")?.isEmpty == false, "no X-Request-Id")
    if r.header("content-type") == "application/json" {
        guard let json = try? JSON.parse(r.body) else { preconditionFailure("the JSON answer does not parse: \(r.body)") }
        if r.status != 200 {
            guard case .string? = json["error"]?["message"] else { preconditionFailure("no error message in \(json.text)") }
        }
    }
    return 0
}
