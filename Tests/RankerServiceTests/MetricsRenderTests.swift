import Foundation
import Testing

@testable import RankerService

/// Metrics.render reads gauges with no lock held and renders any label safely.
@Suite struct MetricsRenderTests {
    @Test("a gauge that calls back into Metrics does not deadlock render")
    func reentrantGauge() {
        let metrics = Metrics()
        metrics.add("pairranker_pairs_processed_total", 3)
        metrics.gauge("pairranker_test_gauge") { [unowned metrics] in metrics.counter("pairranker_pairs_processed_total") }
        final class Box: @unchecked Sendable { var text = "" }  // written before signal, read after wait
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread { box.text = metrics.render(); done.signal() }.start()
        #expect(done.wait(timeout: .now() + 10) == .success, "render finished")
        #expect(box.text.contains("pairranker_test_gauge 3\n"))
    }

    @Test("route labels with quotes, backslashes, newlines or nothing render as valid exposition text")
    func labels() {
        let metrics = Metrics()
        for route in ["", "a|b", "q\"x", "back\\slash", "new\nline"] { metrics.request(route: route, status: 200, seconds: 0.01) }
        let text = metrics.render()
        #expect(text.contains(#"pairranker_requests_total{route="",status="200"} 1"#))
        #expect(text.contains(#"pairranker_requests_total{route="a|b",status="200"} 1"#))
        #expect(text.contains(#"pairranker_requests_total{route="q\"x",status="200"} 1"#))
        #expect(text.contains(#"pairranker_requests_total{route="back\\slash",status="200"} 1"#))
        #expect(text.contains(#"pairranker_requests_total{route="new\nline",status="200"} 1"#))
        #expect(text.split(separator: "\n").allSatisfy { $0.hasPrefix("#") || $0.hasPrefix("pairranker_") || $0.hasPrefix("process_") }, "one sample per line")
    }
}
