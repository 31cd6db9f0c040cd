import Foundation

/// The service's one log format: a JSON object per line, `{"level", "msg", ...fields}`, fields in
/// the order given, values rendered by `JSON` (so escaping is done once, correctly). Every log
/// line of `serve` (start-up, requests, refusals, load errors, shutdown) goes through one of these.
public struct Logger: Sendable {
    public enum Level: String, Sendable { case info, warning, error }

    private let sink: @Sendable (String) -> Void

    /// Lines go to `sink`, one call per line, without the newline.
    public init(sink: @escaping @Sendable (String) -> Void) { self.sink = sink }

    /// Standard error, one line per write.
    public static let standardError = Logger { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
    /// Nothing (tests, the offline commands).
    public static let discard = Logger { _ in }

    public func callAsFunction(_ level: Level, _ message: String, _ fields: (String, JSON)...) {
        sink(Self.line(level, message, fields))
    }

    public func log(_ level: Level, _ message: String, fields: [(String, JSON)]) {
        sink(Self.line(level, message, fields))
    }

    /// The line for these values: the level and message first, then the fields.
    public static func line(_ level: Level, _ message: String, _ fields: [(String, JSON)]) -> String {
        JSON.object([("level", .string(level.rawValue)), ("msg", .string(message))] + fields).text
    }
}
