import Foundation
import Tensors

/// Makes sure OpenBLAS runs the right kernels for this CPU (docs/model.md §8), and that its idle
/// worker threads do not spin for long between GEMMs (OpenBLASCore.threadTimeout). Both are read
/// when the library loads, so the process re-executes itself once with OPENBLAS_CORETYPE and/or
/// OPENBLAS_THREAD_TIMEOUT set. Returns a line for the start-up log.
enum OpenBLASSetup {
    static func ensureCore() -> String {
        let loaded = BLAS.coreName
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let env = ProcessInfo.processInfo.environment
        let timeout = OpenBLASCore.threadTimeout(environment: env)
        let decision = OpenBLASCore.decide(loadedCore: loaded, flags: OpenBLASCore.flags(cpuinfo: cpuinfo), environment: env)
        let spin = "thread timeout 2^\(env["OPENBLAS_THREAD_TIMEOUT"] ?? "28 (OpenBLAS default)")"
        if timeout != nil, decision == .keep {
            reexec(["OPENBLAS_THREAD_TIMEOUT": timeout!])
            return "OpenBLAS core \(loaded), \(BLAS.threads) threads, \(spin)"  // only if exec failed
        }
        switch decision {
        case .keep:
            return "OpenBLAS core \(loaded), \(BLAS.threads) threads, \(spin)"
        case let .warn(message):
            FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
            return "OpenBLAS core \(loaded) (\(message)), \(BLAS.threads) threads, \(spin)"
        case let .reexec(core):
            var vars = ["OPENBLAS_CORETYPE": core]
            if let timeout { vars["OPENBLAS_THREAD_TIMEOUT"] = timeout }
            reexec(vars)
            // execv only returns on failure: keep running on the slow core, loudly.
            let message = "could not re-execute with OPENBLAS_CORETYPE=\(core) (errno \(errno)); running on \(loaded)"
            FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
            return "OpenBLAS core \(loaded) (\(message)), \(BLAS.threads) threads"
        }
    }

    /// How the dense layers will run a batch's rows on the loaded kernels, for the start-up log.
    static var gemmRowsLine: String {
        BLAS.rowsIndependentOfBatch
            ? "GEMM rows: batch (a row's result does not depend on its batch on \(BLAS.coreName) kernels)"
            : "GEMM rows: per sequence (\(BLAS.coreName) kernels make a row's result depend on its batch; one GEMM per sequence keeps batch invariance)"
    }

    /// Re-executes this process with `vars` added to the environment; returns only on failure.
    static func reexec(_ vars: [String: String]) {
        for (k, v) in vars { setenv(k, v, 1) }
        setenv(OpenBLASCore.reexecMarker, "1", 1)
        let args = CommandLine.arguments
        var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &cargs)
    }
}
