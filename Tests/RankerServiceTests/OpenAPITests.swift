import Foundation
import TestSupport
import Testing

@testable import RankerHTTP
@testable import RankerService

@Suite struct OpenAPITests {
    static let file = try! String(contentsOf: Support.fixtures.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("openapi.yaml"), encoding: .utf8)

    @Test("the served document is openapi.yaml (run scripts/embed-openapi.sh after editing it)")
    func embedded() { #expect(OpenAPIDocument.text + "\n" == Self.file || OpenAPIDocument.text == Self.file) }

    @Test("every route the app serves is in openapi.yaml and no other")
    func routes() {
        let documented = Set(Self.file.split(separator: "\n").filter { $0.hasPrefix("  /") && $0.hasSuffix(":") }
            .map { String($0.dropFirst(2).dropLast()) })
        let served = Set(RankerHTTPApp.getRoutes + RankerService.Route.allCases.map(\.rawValue))
        #expect(documented == served)
    }
}
