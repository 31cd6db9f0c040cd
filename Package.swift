// swift-tools-version:6.0
// pairranker: the LLM-Blender PairRanker (DeBERTa-v3 pairwise reward model) served over HTTP on CPU.
// Dependency direction (docs/architecture.md, "Modules"): pairranker (CLI) -> RankerHTTP ->
// RankerService -> PairEngine -> PairRanker -> DeBERTa -> Tensors -> COpenBLAS, CInt8, CGemm; RankerHTTP ->
// HTTPServer -> CZlib; PairRanker -> Tokenizer; DeBERTa -> Checkpoints -> CZlib; the CLI also uses
// Hub and lower modules directly. Sync (the lock types, no dependencies) is the bottom: every
// module that takes a lock (Tensors, PairRanker, PairEngine, RankerService, HTTPServer, RankerHTTP,
// the CLI) depends on it. Lower modules never import higher ones: PairEngine (the batching
// engine) knows neither HTTP nor the API's types, and RankerService (the API's semantics, used by
// the offline `rank`) knows no HTTP.
// Linux only (Glibc, /proc): no Apple platform is claimed.
import Foundation
import PackageDescription

// The numeric modules (Tensors, DeBERTa: the element-wise kernels and attention loops around
// OpenBLAS) are compiled for x86-64-v3 (AVX2, FMA; Intel Haswell 2013+, AMD Zen 2017+) on
// x86_64: SIMD16 code then runs on 256-bit registers instead of SSE (measured: 384-token forward
// about 3% faster). The executable refuses to start, with a message, on a CPU without them.
// PAIRRANKER_PORTABLE=1 at build time keeps the baseline x86-64 target.
#if arch(x86_64)
let simdTarget: [String] = ProcessInfo.processInfo.environment["PAIRRANKER_PORTABLE"] == "1" ? [] : ["-target-cpu", "haswell"]
#else
let simdTarget: [String] = []
#endif
let simdDefine: [SwiftSetting] = simdTarget.isEmpty ? [] : [.define("PAIRRANKER_X86_64_V3")]
// -Ounchecked (numeric modules only) drops overflow and bounds traps in the hot loops. What keeps
// that safe: nothing in Tensors or DeBERTa indexes with a value from outside unchecked. Token ids
// and sequence lengths are validated (DebertaV2Model.validate) before a forward touches memory,
// every weight's shape is checked at load (WeightLoader), and buffer sizes come from the
// workspace's reserve for the batch at hand. Parsers of outside bytes (Checkpoints, Tokenizer,
// HTTPServer, RankerService) keep Swift's checks.
let numericSettings: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"] + simdTarget)] + simdDefine

let package = Package(
    name: "pairranker",
    products: [
        .executable(name: "pairranker", targets: ["pairranker"]),
    ],
    dependencies: [
        // Exact: Package.resolved is not committed (CONTRIBUTING.md), so the version is pinned here.
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // The int8 path's VNNI kernels, in C because Swift has no VNNI intrinsics; each kernel is
        // compiled for its ISA by a function attribute and chosen at run time (CPUID), so the
        // module needs no CPU flags. -O3 in every configuration: debug test runs use it too.
        .target(name: "CInt8", cSettings: [.unsafeFlags(["-O3"])]),
        // The exact path's float32 GEMM over weights packed once (AVX-512, chosen at run time by
        // CPUID, OpenBLAS otherwise): C for the intrinsics, like CInt8.
        .target(name: "CGemm", cSettings: [.unsafeFlags(["-O3"])]),
        // The lock types (Locked, Condition): the bottom of the graph, no dependencies.
        .target(name: "Sync"),
        .target(name: "Tensors", dependencies: ["COpenBLAS", "CInt8", "CGemm", "Sync"], swiftSettings: numericSettings),
        .target(name: "Checkpoints", dependencies: ["CZlib"]),
        .target(name: "DeBERTa", dependencies: ["Tensors", "Checkpoints"], swiftSettings: numericSettings),
        .target(name: "Tokenizer"),
        .target(name: "PairRanker", dependencies: ["DeBERTa", "Checkpoints", "Tensors", "Tokenizer", "Sync"]),
        .target(name: "HTTPServer", dependencies: ["CZlib", "Sync"]),
        .target(name: "Hub"),
        .target(name: "PairEngine", dependencies: ["PairRanker", "Sync"]),
        .target(name: "RankerService", dependencies: ["PairEngine", "PairRanker", "Sync"]),
        .target(name: "RankerHTTP", dependencies: ["RankerService", "PairEngine", "HTTPServer", "Sync"]),
        .executableTarget(name: "pairranker", dependencies: [
            "PairRanker", "PairEngine", "RankerService", "RankerHTTP", "DeBERTa", "Tensors", "HTTPServer", "Hub", "Sync",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: simdDefine),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "CInt8", "CGemm"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints"]),
        .testTarget(name: "DeBERTaTests", dependencies: ["DeBERTa", "Checkpoints", "Tensors"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "Sync"]),
        .testTarget(name: "SyncTests", dependencies: ["Sync"]),
        .testTarget(name: "HubTests", dependencies: ["Hub"]),
        // A scorer and metrics to drive the engine with, without a model or a server.
        .target(name: "EngineTestSupport", dependencies: ["PairEngine", "PairRanker"], path: "Tests/EngineTestSupport"),
        .testTarget(name: "PairEngineTests", dependencies: ["PairEngine", "PairRanker", "EngineTestSupport"]),
        // Shared by the service and CLI tests: the fixture model, goldens, runs of the executable.
        .target(name: "TestSupport", dependencies: ["RankerService", "PairEngine", "PairRanker"], path: "Tests/TestSupport"),
        .testTarget(name: "RankerServiceTests", dependencies: ["RankerService", "RankerHTTP", "PairEngine", "PairRanker", "TestSupport",
                                                      "EngineTestSupport"]),
        // The pairranker executable's commands: argument parsing, ServeSettings, rank, shards.
        .testTarget(name: "CLITests", dependencies: ["pairranker", "RankerService", "RankerHTTP", "PairEngine", "PairRanker", "Tensors", "TestSupport"],
                    swiftSettings: simdDefine),
        .testTarget(name: "PairRankerTests", dependencies: ["PairRanker", "DeBERTa", "Checkpoints"]),
    ]
)
