import Foundation

// libFuzzer target: the tokenizer on arbitrary bytes (decoded as UTF-8 with replacement, as the
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
    let text = String(decoding: bytes, as: UTF8.self)
    let ids = tokenizer.encode(text)
    precondition(ids.first == tokenizer.cls && ids.last == tokenizer.sep)
    precondition(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize })
    return 0
}
