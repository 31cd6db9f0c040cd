import Foundation
import PairEngine
import PairRanker
import RankerService

/// What the service and CLI test targets share: the fixture model, the golden instances, calls
/// through the service, and runs of the built `pairranker` executable.
public enum Support {
    public static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    public static let modelDir = fixtures.appendingPathComponent("tiny-pair-ranker").path
    public static let model = try! PairRankerModel(path: modelDir)
    public static let service = RankerService(model: model, engine: DirectEngine(model: model))

    public struct Instance: Decodable, Sendable {
        public let name: String
        public let instruction: String?
        public let input: String
        public let candidates: [String]
        public let scores: [Float]
        public let ranks: [Int]
        public let compare: [String: Float]?
        public let rank_with_ref: [String: [Double]]?
    }
    struct Pairs: Decodable { let instances: [Instance] }
    public static let instances: [Instance] = try! JSONDecoder().decode(
        Pairs.self, from: Data(contentsOf: fixtures.appendingPathComponent("goldens/pairs.json"))).instances

    public static func call(_ route: RankerService.Route, _ body: String) throws -> JSON {
        try service.handle(route, body: Array(body.utf8), context: RequestContext(id: "test"))
    }

    public static func body(_ pairs: [(String, JSON)]) -> String { JSON.object(pairs).text }
    public static func strings(_ s: [String]) -> JSON { .array(s.map(JSON.string)) }

    /// The built `pairranker` executable next to the test bundle.
    public static var executable: String {
        URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("pairranker").path
    }

    public static func run(_ args: [String], stdin: String, environment: [String: String] = [:]) throws -> (Int32, String, String) {
        try run(args, stdinData: Data(stdin.utf8), environment: environment)
    }

    /// Runs the executable; `environment` is added to this process's.
    public static func run(_ args: [String], stdinData: Data, environment: [String: String] = [:]) throws -> (Int32, String, String) {
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
    public var numbers: [Double] { if case let .array(a) = self { return a.compactMap { if case let .number(d) = $0 { return d }; return nil } }; return [] }
    public var number: Double? { if case let .number(d) = self { return d }; return nil }
    public var items: [JSON] { if case let .array(a) = self { return a }; return [] }
}
