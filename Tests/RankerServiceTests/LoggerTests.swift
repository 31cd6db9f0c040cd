import Foundation
import Testing

@testable import RankerService

@Suite struct LoggerTests {
    @Test("one JSON object per line: level, msg, then the fields in order, escaped once")
    func lines() throws {
        let lines = WireRefusalTests.Lines()
        let log = Logger { lines.add($0) }
        log(.warning, "request.refused", ("request.id", .string("a\"b\n")), ("status", .number(400)), ("ok", .bool(false)))
        log(.info, "config")
        #expect(lines.all.count == 2)
        #expect(lines.all[0] == #"{"level":"warning","msg":"request.refused","request.id":"a\"b\n","status":400,"ok":false}"#)
        #expect(lines.all[1] == #"{"level":"info","msg":"config"}"#)
        for l in lines.all {
            #expect(!l.contains("\n"), "one line")
            _ = try JSON.parse(Array(l.utf8))
        }
    }
}
