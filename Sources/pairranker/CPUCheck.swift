import Foundation

/// The instruction-set level the numeric modules were compiled for (Package.swift), checked
/// before any of their code runs: on a CPU without it they would die of SIGILL mid-request.
/// This file is compiled for the baseline target, like the rest of the executable; it parses the
/// flags line itself because `OpenBLASCore.flags` lives in a module built for the higher level.
enum CPUCheck {
    #if PAIRRANKER_X86_64_V3
    static let level = "x86-64-v3 (AVX2, FMA)"
    static let required = ["avx2", "fma"]
    #else
    static let level = "baseline"
    static let required: [String] = []
    #endif

    /// The required flags /proc/cpuinfo does not list (none when it cannot be read: not Linux).
    static func missing(cpuinfo: String?) -> [String] {
        guard let cpuinfo, let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        let flags = Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        return required.filter { !flags.contains($0) }
    }

    static func requireBuildLevel() {
        let missing = missing(cpuinfo: try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))
        guard !missing.isEmpty else { return }
        FileHandle.standardError.write(Data("""
            error: this pairranker was built for \(level) and this CPU lacks \(missing.joined(separator: ", ")).
            Rebuild it for the baseline target: PAIRRANKER_PORTABLE=1 swift build -c release

            """.utf8))
        exit(1)
    }
}
