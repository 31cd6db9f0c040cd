import Foundation
import Tensors

/// Makes sure OpenBLAS runs the right kernels for this CPU (design.md §4): the core is fixed when
/// the library loads, so on a fallback core the process re-executes itself once with
/// OPENBLAS_CORETYPE set. Returns a line for the start-up log.
enum OpenBLASSetup {
    static func ensureCore() -> String {
        let loaded = BLAS.coreName
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let env = ProcessInfo.processInfo.environment
        switch OpenBLASCore.decide(loadedCore: loaded, flags: OpenBLASCore.flags(cpuinfo: cpuinfo), environment: env) {
        case .keep:
            return "OpenBLAS core \(loaded), \(BLAS.threads) threads"
        case let .warn(message):
            FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
            return "OpenBLAS core \(loaded) (\(message)), \(BLAS.threads) threads"
        case let .reexec(core):
            setenv("OPENBLAS_CORETYPE", core, 1)
            setenv(OpenBLASCore.reexecMarker, "1", 1)
            let args = CommandLine.arguments
            var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
            execv("/proc/self/exe", &cargs)
            // execv only returns on failure: keep running on the slow core, loudly.
            let message = "could not re-execute with OPENBLAS_CORETYPE=\(core) (errno \(errno)); running on \(loaded)"
            FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
            return "OpenBLAS core \(loaded) (\(message)), \(BLAS.threads) threads"
        }
    }
}
