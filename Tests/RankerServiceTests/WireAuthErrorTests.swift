import Foundation
import HTTPServer
import Testing

@testable import RankerHTTP
@testable import RankerService

/// Every error body carries `detail` (Jina's clients read it), and the
/// API key is accepted the ways real clients send it (Bearer, Basic password, X-API-Key).
@Suite(.serialized) struct WireAuthErrorTests {
    @Test("every APIError kind's body has error.type, error.message and detail == message")
    func everyKindHasDetail() {
        for kind in APIError.Kind.allCases {
            let e = APIError(kind, "the problem: \(kind.rawValue) \"quoted\"")
            #expect(e.body["detail"] == .string(e.message), "\(kind)")
            #expect(e.body["error"]?["message"] == .string(e.message), "\(kind)")
            #expect(e.body["error"]?["type"] == .string(e.status.type), "\(kind)")
        }
    }

    @Test("live server: errors from the HTTP layer and from the service both carry detail")
    func liveErrorsHaveDetail() throws {
        let live = try LiveServerTests.Live(apiKey: "k")
        let cases: [(String, Int)] = [
            (RawHTTPClient.request("POST", "/rank", body: "{nope", headers: ["X-API-Key": "k"]), 400),
            (RawHTTPClient.request("POST", "/rank", body: "{}"), 401),
            (RawHTTPClient.request("GET", "/nope"), 404),
            (RawHTTPClient.request("GET", "/rank"), 405),
            ("POST /rank HTTP/1.1\r\nHost: a\r\n\r\n", 411),                                  // HTTPServer's own
            ("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n\r\n", 414),       // HTTPServer's own
            (RawHTTPClient.request("POST", "/rank", body: #"{"input":"q","candidates":[]}"#, headers: ["X-API-Key": "k"]), 422),
        ]
        for (raw, status) in cases {
            let c = try RawHTTPClient(port: live.port)
            c.send(raw)
            let r = try #require(c.read())
            #expect(r.status == status, "\(raw.prefix(40).debugDescription): \(r.status) \(r.text)")
            let message = r.json?["error"]?["message"]
            #expect(message != nil, "\(status): \(r.text)")
            #expect(r.json?["detail"] == message, "\(status): detail equals error.message: \(r.text)")
        }
    }

    static func basic(_ userPass: String) -> String { "Basic " + Data(userPass.utf8).base64EncodedString() }

    @Test("the key as Bearer, as the Basic password with any user, or as X-API-Key; nothing else")
    func authForms() {
        let app = HostileRequestTests.app(apiKey: "s3cret")
        let rank = HostileRequestTests.rank
        let cases: [([(String, String)], Int)] = [
            ([("Authorization", "Bearer s3cret")], 200),
            ([("Authorization", Self.basic(":s3cret"))], 200),          // http://:s3cret@host (requests, aiohttp)
            ([("Authorization", Self.basic("user:s3cret"))], 200),
            ([("Authorization", Self.basic("a:b:s3cret"))], 401),       // the password is after the FIRST colon
            ([("Authorization", Self.basic("user:s3:cret"))], 401),
            ([("Authorization", "basic " + Data(":s3cret".utf8).base64EncodedString())], 200),
            ([("Authorization", "BASIC  " + Data("x:s3cret".utf8).base64EncodedString())], 200),
            ([("Authorization", Self.basic(":s3cre"))], 401),
            ([("Authorization", Self.basic(":s3crett"))], 401),
            ([("Authorization", Self.basic("s3cret"))], 401),            // no colon: no password
            ([("Authorization", Self.basic("s3cret:"))], 401),           // the key as user, empty password
            ([("Authorization", "Basic " + String(Self.basic(":s3cret").dropFirst(6).dropLast()))], 401),  // broken padding
            ([("Authorization", "Basic !!!!")], 401),
            ([("Authorization", "Basic ")], 401),
            ([("Authorization", "Basic")], 401),
            ([("X-API-Key", "s3cret")], 200),
            ([("x-api-key", "s3cret")], 200),
            ([("X-API-Key", "S3CRET")], 401),
            ([("X-API-Key", "")], 401),
            ([("X-API-Key", "s3cre")], 401),
            ([("X-API-Key", "wrong"), ("Authorization", "Bearer s3cret")], 200),   // any one right form is enough
            ([("X-API-Key", "s3cret"), ("Authorization", "Bearer wrong")], 200),
            ([], 401),
        ]
        for (headers, status) in cases {
            let r = HostileRequestTests.send(app, "POST", "/rank", headers: headers, body: rank)
            #expect(r.status == status, "\(headers): \(r.status) \(String(decoding: r.body, as: UTF8.self))")
            if status == 401 {
                #expect(r.headers.contains { $0.name == "WWW-Authenticate" && $0.value.hasPrefix("Basic") })
            }
        }
        // /info is guarded the same way.
        #expect(HostileRequestTests.send(app, "GET", "/info", headers: [("X-API-Key", "s3cret")]).status == 200)
        #expect(HostileRequestTests.send(app, "GET", "/info", headers: [("Authorization", Self.basic(":s3cret"))]).status == 200)
        #expect(HostileRequestTests.send(app, "GET", "/info").status == 401)
    }

    /// OpenRLHF's reward client (aiohttp/requests) with the key in the URL: `http://:KEY@host:port/get_reward`
    /// becomes `Authorization: Basic base64(":KEY")` on the wire, with the JSON body it always sends.
    @Test("live server: OpenRLHF's /get_reward with the key in the URL (Basic), and X-API-Key")
    func openRLHFLive() throws {
        let live = try LiveServerTests.Live(apiKey: "s3cret")
        let body = #"{"query": ["What is 2+2? 4"], "prompts": ["What is 2+2?"], "labels": ["4"]}"#
        let c = try RawHTTPClient(port: live.port)
        c.send(RawHTTPClient.request("POST", "/get_reward", body: body, headers: ["Authorization": Self.basic(":s3cret")]))
        let r = try #require(c.read())
        #expect(r.status == 200, "\(r.text)")
        #expect(r.json?["rewards"]?.items.count == 1)
        c.send(RawHTTPClient.request("POST", "/get_reward", body: body, headers: ["X-API-Key": "s3cret"]))
        #expect(c.read()?.status == 200)
        c.send(RawHTTPClient.request("POST", "/get_reward", body: body))
        let refused = try #require(c.read())
        #expect(refused.status == 401)
        #expect(refused.json?["detail"] != nil)
    }
}
