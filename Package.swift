// swift-tools-version:6.0
// pairranker: the LLM-Blender PairRanker (DeBERTa-v3 pairwise reward model) served over HTTP on CPU.
// Dependency direction (design.md §1): CLI -> PairRanker -> DeBERTa -> Tensors -> COpenBLAS,
// DeBERTa -> Checkpoints -> CZlib. Lower modules never import higher ones.
import PackageDescription

let package = Package(
    name: "pairranker",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "pairranker", targets: ["pairranker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Tensors", dependencies: ["COpenBLAS"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"])]),
        .target(name: "Checkpoints", dependencies: ["CZlib"]),
        .target(name: "DeBERTa", dependencies: ["Tensors", "Checkpoints"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"])]),
        .target(name: "Tokenizer"),
        .target(name: "PairRanker", dependencies: ["DeBERTa", "Checkpoints", "Tensors", "Tokenizer"]),
        .target(name: "HTTPServer"),
        .target(name: "Hub"),
        .target(name: "RankerService", dependencies: ["PairRanker", "HTTPServer"]),
        .executableTarget(name: "pairranker", dependencies: [
            "PairRanker", "RankerService", "Tensors", "HTTPServer", "Hub",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors"]),
        .testTarget(name: "CheckpointsTests", dependencies: ["Checkpoints"]),
        .testTarget(name: "DeBERTaTests", dependencies: ["DeBERTa", "Checkpoints", "Tensors"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"]),
        .testTarget(name: "HubTests", dependencies: ["Hub"]),
        .testTarget(name: "RankerServiceTests", dependencies: ["RankerService", "PairRanker"]),
        .testTarget(name: "PairRankerTests", dependencies: ["PairRanker", "DeBERTa", "Checkpoints"]),
    ]
)
