import Foundation
import PairEngine
import PairRanker

@testable import RankerService

enum Support {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let modelDir = fixtures.appendingPathComponent("tiny-pair-ranker").path
    static let model = try! PairRankerModel(path: modelDir)
    static let service = RankerService(model: model, engine: DirectEngine(model: model))

    struct Instance: Decodable {
        let name: String
        let instruction: String?
        let input: String
        let candidates: [String]
        let scores: [Float]
        let ranks: [Int]
        let compare: [String: Float]?
        let rank_with_ref: [String: [Double]]?
    }
    struct Pairs: Decodable { let instances: [Instance] }
    static let instances: [Instance] = try! JSONDecoder().decode(
        Pairs.self, from: Data(contentsOf: fixtures.appendingPathComponent("goldens/pairs.json"))).instances

    static func call(_ route: RankerService.Route, _ body: String) throws -> JSON {
        try service.handle(route, body: Array(body.utf8), context: RequestContext(id: "test"))
    }

    static func body(_ pairs: [(String, JSON)]) -> String { JSON.object(pairs).text }
    static func strings(_ s: [String]) -> JSON { .array(s.map(JSON.string)) }

    /// The built `pairranker` executable next to the test bundle.
    static var executable: String {
        URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("pairranker").path
    }

    static func run(_ args: [String], stdin: String, environment: [String: String] = [:]) throws -> (Int32, String, String) {
        try run(args, stdinData: Data(stdin.utf8), environment: environment)
    }

    /// Runs the executable; `environment` is added to this process's.
    static func run(_ args: [String], stdinData: Data, environment: [String: String] = [:]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        p.standardError = errPipe
        try p.run()
        inPipe.fileHandleForWriting.write(stdinData)
        try inPipe.fileHandleForWriting.close()
        let out = outPipe.fileHandleForReading.readDataToEndOfFile()
        let err = errPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}

extension JSON {
    var numbers: [Double] { if case let .array(a) = self { return a.compactMap { if case let .number(d) = $0 { return d }; return nil } }; return [] }
    var number: Double? { if case let .number(d) = self { return d }; return nil }
    var items: [JSON] { if case let .array(a) = self { return a }; return [] }
}
