import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Caps glibc's malloc arenas for `serve`. Each handler thread otherwise gets an arena of its own
/// (up to 8 per core), and memory a request freed stays resident in the arena that built it: 24
/// requests of 600 KB whose JSON trees took 10 MB each left 135 MB resident with the request
/// memory budget at 48 MB (ServerMemoryTests); with one arena per BLAS thread (two here), 15 MB. The serving path
/// allocates little per pair (the forward pass runs in a preallocated workspace), so the cap costs
/// no measurable contention. `MALLOC_ARENA_MAX` in the environment, when set, is left to glibc.
enum MallocSetup {
    /// glibc's `M_ARENA_MAX` parameter for `mallopt`.
    static let arenaMaxParameter: Int32 = -8

    @discardableResult
    static func capArenas(perCPU: Int = 1, cpus: Int, environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        guard environment["MALLOC_ARENA_MAX"] == nil else { return nil }
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return nil }
        let arenas = Int32(clamping: max(1, perCPU * max(cpus, 1)))
        return unsafeBitCast(sym, to: Mallopt.self)(arenaMaxParameter, arenas) == 1 ? Int(arenas) : nil
    }
}
