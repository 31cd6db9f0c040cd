import ArgumentParser
import Testing

@testable import pairranker

/// The start-up check that the CPU has the instruction set the numeric modules were built for.
@Suite struct CPUCheckTests {
    @Test("a CPU without the build's required flags is named as missing them")
    func missingFlags() {
        let old = "processor : 0\nflags : fpu sse sse2 ssse3 sse4_1 sse4_2 avx\nbogomips : 1\n"
        let new = "processor : 0\nflags : fpu sse2 avx avx2 fma bmi2\n"
        #expect(CPUCheck.missing(cpuinfo: old) == CPUCheck.required)
        #expect(CPUCheck.missing(cpuinfo: new).isEmpty)
        #expect(CPUCheck.missing(cpuinfo: nil).isEmpty, "no /proc/cpuinfo (not Linux): nothing to check")
        #if PAIRRANKER_X86_64_V3
        #expect(CPUCheck.required == ["avx2", "fma"])
        #endif
    }
}

/// Option values that would trap inside the benchmark are refused when parsing.
@Suite struct BenchOptionTests {
    @Test("zero or negative benchmark sizes are usage errors, not traps")
    func badSizes() throws {
        for bad in [["--reference-batch-size", "0"], ["--repeats", "0"], ["--batch-tokens", "0"],
                    ["--threads", "0"], ["--mix-instances", "-1"]] {
            #expect(throws: (any Error).self, "\(bad)") { _ = try Bench.parse(["--model", "m"] + bad) }
        }
        _ = try Bench.parse(["--model", "m", "--mix-instances", "0"])
        #expect(throws: (any Error).self) { _ = try Rank.parse(["--batch-tokens", "0"]) }
    }
}
