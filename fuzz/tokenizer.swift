import Foundation

// libFuzzer target: the grapheme segmentation and the tokenizer on arbitrary bytes (decoded as UTF-8 with replacement, as the
// server's JSON layer would hand it valid strings) and on arbitrary tokenizer.json / spm.model
// bytes (the loaders must reject, never crash).
nonisolated(unsafe) let tokenizer: Tokenizer = {
    let dir = ProcessInfo.processInfo.environment["PAIRRANKER_FUZZ_MODEL"] ?? "Tests/Fixtures/tiny-pair-ranker"
    return try! Tokenizer.load(directory: dir)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let first = bytes.first, first == 0xFE || first == 0xFD {
        // Arbitrary tokenizer files.
        let dir = NSTemporaryDirectory() + "pairranker-fuzz-tok-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let name = first == 0xFE ? "tokenizer.json" : "spm.model"
        try? FileManager.default.removeItem(atPath: dir + "/tokenizer.json")
        try? FileManager.default.removeItem(atPath: dir + "/spm.model")
        FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(bytes.dropFirst()))
        if let t = try? Tokenizer.load(directory: dir) { _ = t.encode("fuzz ▁ text [SEP] <|source|>") }
        return 0
    }
    // Grapheme segmentation on the raw bytes (valid or not): contiguous, non-empty clusters that
    // cover every byte, and on the valid UTF-8 of a String never a cut inside a scalar.
    var covered = 0
    bytes.withUnsafeBufferPointer { b in
        GraphemeBreak.shared.forEachCluster(b) { r in
            precondition(r.lowerBound == covered && !r.isEmpty && r.upperBound <= b.count)
            covered = r.upperBound
        }
    }
    precondition(covered == bytes.count)
    let text = String(decoding: bytes, as: UTF8.self)
    let valid = Array(text.utf8)
    valid.withUnsafeBufferPointer { b in
        GraphemeBreak.shared.forEachCluster(b) { r in
            precondition(r.lowerBound == b.count || b[r.lowerBound] & 0xC0 != 0x80)
            precondition(r.upperBound == b.count || b[r.upperBound] & 0xC0 != 0x80)
        }
    }
    let ids = tokenizer.encode(text)
    precondition(ids.first == tokenizer.cls && ids.last == tokenizer.sep)
    precondition(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize })
    return 0
}
