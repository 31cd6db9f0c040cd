import Foundation
import RankerService
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP drains like SIGTERM (its default action killed the server at once, losing in-flight work).
@Suite struct HangUpTests {
    @Test("SIGHUP during requests: all answered, then exit 0, the drain logged with its signal")
    func sighup() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Support.executable)
        // Port 0: the kernel picks a free one, read back from the start-up log.
        p.arguments = ["serve", "--model", Support.modelDir, "--port", "0", "--drain-timeout", "120"]
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("pairranker-hup-\(getpid()).log").path
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardError = FileHandle(forWritingAtPath: log)
        try p.run()
        var port = 0
        var up = false
        for _ in 0..<1200 {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if port == 0, let r = text.range(of: #""port":"#) {
                port = Int(text[r.upperBound...].prefix { $0.isNumber }) ?? 0
            }
            if port > 0, let c = try? RawHTTPClient(port: port) {
                c.send(RawHTTPClient.request("GET", "/ready"))
                if c.read()?.status == 200 { up = true; break }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(up, "the server became ready on port \(port)")
        guard up else { p.terminate(); return }
        let statuses = try DrainTests.ranksAcross(port: port) { kill(p.processIdentifier, SIGHUP) }
        #expect(statuses == Array(repeating: 200, count: 6), "every accepted request is answered: \(statuses)")
        p.waitUntilExit()
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(p.terminationReason == .exit && p.terminationStatus == 0, "\(text)")
        #expect(text.contains(#""msg":"shutdown.drain","signal":"SIGHUP""#), "\(text)")
        #expect((try? RawHTTPClient(port: port)) == nil, "the listener is closed")
    }
}
