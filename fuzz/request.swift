import Foundation
import PairRanker
import PairEngine
import RankerService

// libFuzzer target: request decoding and validation end to end through RankerService.handle on
// the fixture model: any body, any route. Every outcome must be a response or an APIError that
// is not `internal` (bad input is never a 500). Built by scripts/fuzz.sh against the modules
// compiled with -sanitize=fuzzer,address.
nonisolated(unsafe) let service: RankerService = {
    let dir = ProcessInfo.processInfo.environment["PAIRRANKER_FUZZ_MODEL"] ?? "Tests/Fixtures/tiny-pair-ranker"
    let model = try! PairRankerModel(path: dir)
    var limits = ServiceLimits()
    limits.maxPairsPerRequest = 64
    limits.maxTextBytes = 2048
    return RankerService(model: model, engine: DirectEngine(model: model), limits: limits)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let routes = RankerService.Route.allCases
    let route = routes[Int(data[0]) % routes.count]
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    do {
        _ = try service.handle(route, body: body, context: RequestContext(id: "fuzz"))
    } catch let e as APIError {
        precondition(e.kind != .internalError, "internal error for a request: \(e)")
    } catch {
        preconditionFailure("not an APIError: \(error)")
    }
    return 0
}
