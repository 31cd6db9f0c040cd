/// Which OpenBLAS kernel family this CPU should run, and whether the loaded library picked it.
///
/// Debian's OpenBLAS 0.3.21 chooses its kernels when the library loads, from `OPENBLAS_CORETYPE`
/// or its own CPU detection. On CPUs newer than the library (AVX-512 parts it does not know) the
/// detection falls back to generic `Prescott` kernels, 4-5x slower (docs/model.md §8). The core cannot
/// be changed after load, so the executable re-executes itself with `OPENBLAS_CORETYPE` set when
/// `decide` says so. Everything here is pure so the rules are unit-tested.
public enum OpenBLASCore {
    /// Capability tier of a core name as `openblas_get_corename()` reports it (case-insensitive).
    /// 0: SSE-era kernels; 1: AVX; 2: AVX2/FMA; 3: AVX-512 (SkylakeX); 4: AVX-512 + BF16 (Cooperlake).
    public static func tier(of core: String) -> Int {
        switch core.lowercased() {
        case "cooperlake", "sapphirerapids": return 4
        case "skylakex": return 3
        case "haswell", "zen", "excavator", "steamroller": return 2
        case "sandybridge", "bulldozer", "piledriver": return 1
        default: return 0
        }
    }

    /// Kernel families whose SGEMM gives a row the same bits whatever other rows share the call and
    /// at whatever row offset it sits (measured with OpenBLAS 0.3.21 under 2 threads, on the
    /// model's shapes and the fixture's, for every row count and offset tried): the AVX-512 cores.
    /// On the others a row's result depends on the call: Haswell and Zen by its offset modulo the
    /// kernel's 12-row blocking and by where the threads split the rows; Prescott by whether it
    /// falls in the odd last row. There the engine runs one GEMM per sequence instead.
    public static func rowsIndependentOfBatch(core: String) -> Bool {
        ["skylakex", "cooperlake", "sapphirerapids"].contains(core.lowercased())
    }

    /// The kernel families the test command checks the goldens and batch invariance under, in
    /// order of the CPU features they need; `runnable` keeps those this CPU can execute.
    public static let testedCores = ["Prescott", "Haswell", "Zen", "SkylakeX", "Cooperlake"]

    /// The cores of `testedCores` a CPU with these flags can run.
    public static func runnable(flags: Set<String>) -> [String] {
        let preferred = preferredCore(flags: flags)
        let top = preferred.map { tier(of: $0) } ?? 0
        return testedCores.filter { tier(of: $0) <= top }
    }

    /// The best core Debian's OpenBLAS 0.3.21 has for a CPU with these `/proc/cpuinfo` flags.
    public static func preferredCore(flags: Set<String>) -> String? {
        let avx512 = ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains)
        if avx512 && flags.contains("avx512_bf16") { return "Cooperlake" }
        if avx512 { return "SkylakeX" }
        if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
        if flags.contains("avx") { return "Sandybridge" }
        return nil
    }

    /// CPU flags from the text of `/proc/cpuinfo` (the first `flags` line).
    public static func flags(cpuinfo: String) -> Set<String> {
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }

    public enum Decision: Equatable, Sendable {
        /// The loaded core is the right one (or as good).
        case keep
        /// Re-execute the process with `OPENBLAS_CORETYPE` set to this core.
        case reexec(core: String)
        /// A slower core is loaded but we may not change it (the user set OPENBLAS_CORETYPE, or we
        /// already re-executed once); the reason is logged.
        case warn(String)
    }

    /// OpenBLAS's worker threads spin (sched_yield) for 2^OPENBLAS_THREAD_TIMEOUT cycles after every
    /// parallel GEMM before they sleep (default 2^28). Between GEMMs our own attention and
    /// element-wise tasks run on the same cores, and the spinning steals their time: measured
    /// with `pairranker dev bench`, 2^8 made the forward 5-12% faster. The value to set, or nil when
    /// the user chose one (or we already re-executed).
    public static func threadTimeout(environment: [String: String]) -> String? {
        if let v = environment["OPENBLAS_THREAD_TIMEOUT"], !v.isEmpty { return nil }
        if environment[reexecMarker] != nil { return nil }
        return "8"
    }

    /// The environment variable that marks a process we re-executed, so we never loop.
    public static let reexecMarker = "PAIRRANKER_OPENBLAS_REEXEC"

    public static func decide(loadedCore: String, flags: Set<String>, environment: [String: String]) -> Decision {
        guard let preferred = preferredCore(flags: flags) else { return .keep }
        if tier(of: loadedCore) >= tier(of: preferred) { return .keep }
        if let forced = environment["OPENBLAS_CORETYPE"], !forced.isEmpty {
            if environment[reexecMarker] != nil {
                return .warn("OpenBLAS loaded \(loadedCore) although OPENBLAS_CORETYPE=\(forced) was set; "
                             + "expected \(preferred) on this CPU")
            }
            return .warn("OPENBLAS_CORETYPE=\(forced) is set by the environment: OpenBLAS runs \(loadedCore), "
                         + "slower than \(preferred) on this CPU")
        }
        if environment[reexecMarker] != nil {
            return .warn("OpenBLAS still runs \(loadedCore) after re-executing with \(preferred)")
        }
        return .reexec(core: preferred)
    }
}
