import Glibc
import Testing
@testable import RankerService

@Suite(.serialized) struct JSONMemoryTests {
    /// Resident bytes of this process (/proc/self/statm).
    static func allocated() -> Int {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var size = 0, resident = 0
        guard withUnsafeMutablePointer(to: &size, { a in withUnsafeMutablePointer(to: &resident) { b in
            withVaList([a, b]) { vfscanf(f, "%ld %ld", $0) } } }) == 2 else { return 0 }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static let shapes: [(String, @Sendable (Int) -> String)] = [
        ("zeros", { n in "[" + Array(repeating: "0", count: n).joined(separator: ",") + "]" }),
        ("empty arrays", { n in "[" + Array(repeating: "[]", count: n).joined(separator: ",") + "]" }),
        ("empty objects", { n in "[" + Array(repeating: "{}", count: n).joined(separator: ",") + "]" }),
        ("one-member objects", { n in "[" + Array(repeating: #"{"":0}"#, count: n).joined(separator: ",") + "]" }),
        ("empty strings", { n in "[" + Array(repeating: #""""#, count: n).joined(separator: ",") + "]" }),
        ("16-byte strings", { n in "[" + Array(repeating: #""aaaaaaaaaaaaaaaa""#, count: n).joined(separator: ",") + "]" }),
        ("nested singletons", { n in "[" + Array(repeating: "[[0]]", count: n).joined(separator: ",") + "]" }),
        ("wide object", { n in "{" + (0..<n).map { #""k\#($0)":null"# }.joined(separator: ",") + "}" }),
        ("text", { n in #"{"texts":[""# + String(repeating: "x", count: n * 4) + #""]}"# }),
    ]

    /// The tree of each costliest shape, measured from this process's resident memory (every
    /// tree kept alive, so each one's pages are new), stays within the bound handlers reserve.
    @Test("the parse-memory bound holds for the costliest shapes", arguments: 0..<shapes.count)
    func boundHolds(_ k: Int) throws {
        let (name, make) = Self.shapes[k]
        let body = Array(make(300_000).utf8)
        let bound = JSON.parseBytesBound(body)
        let before = Self.allocated()
        let tree = try JSON.parse(body)
        let grown = Self.allocated() - before
        #expect(grown <= bound, "\(name): the tree took \(grown) bytes, over the bound \(bound)")
        withExtendedLifetime(tree) {}
    }

    @Test("the bound counts values, not text: a realistic body reserves about twice its size")
    func boundOfRealisticBody() {
        let candidates = (0..<32).map { _ in JSON.string(String(repeating: "word ", count: 200)) }
        let body = JSON.object([("instruction", .string("Pick the best answer.")), ("input", .string("What is 2+2?")),
                                ("candidates", .array(candidates))]).bytes
        let bound = JSON.parseBytesBound(body)
        #expect(bound >= 2 * body.count)
        #expect(bound < 2 * body.count + 80 * JSON.bytesPerValue)
    }

    @Test("escaped quotes and commas inside strings are not values; no overflow on any size")
    func boundLexing() {
        #expect(JSON.parseBytesBound(Array(#""a\",[{b""#.utf8)) == 2 * 9 + 2 * JSON.bytesPerValue)
        #expect(JSON.parseBytesBound(Array("[0,0]".utf8)) == 2 * 5 + 3 * JSON.bytesPerValue)
        #expect(JSON.parseBytesBound([]) == JSON.bytesPerValue)
    }
}
