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
