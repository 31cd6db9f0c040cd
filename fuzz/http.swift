// libFuzzer target: the HTTP/1.1 request parser on arbitrary bytes, fed in pieces whose sizes
// come from the input itself. Must never crash, hang or buffer past its limits.
// The first byte picks a prefix, so that the fuzzer spends its time past the request line too:
// chunked bodies (sizes, extensions, trailers), Expect, absolute-form targets, Host rules.
let prefixes: [[UInt8]] = [
    [],
    Array("POST /rank HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".utf8),
    Array("POST http://h:8080/rank?x=1 HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 8\r\n\r\n".utf8),
    Array("POST /rank HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\n".utf8),
    Array("GET / HTTP/1.1\r\n".utf8),
    Array("GET /health HTTP/1.1\r\nHost: a\r\n\r\n\r\n".utf8),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let bytes = prefixes[Int(input[0]) % prefixes.count] + input.dropFirst()
    var limits = HTTPLimits()
    limits.maxBodyBytes = 1 << 16
    limits.maxChunkExtensionBytes = 512
    var parser = HTTPParser(limits: limits)
    var i = 0
    var step = 1
    var fed = 0
    var bodies = 0
    while i < bytes.count {
        let n = min(bytes.count - i, step)
        parser.feed(Array(bytes[i..<(i + n)]))
        fed += n
        i += n
        step = Int(bytes[i - 1] % 64) + 1
        do {
            while let event = try parser.next() {
                guard case let .request(r) = event else { continue }
                precondition(r.body.count <= limits.maxBodyBytes)
                bodies += r.body.count
                // Routing must be total on whatever target got through.
                precondition(r.path.hasPrefix("/") || r.method == "CONNECT" || r.method == "OPTIONS")
                _ = r.query
                _ = r.keepAlive
                if r.version == .http11 { precondition(r.headers.filter { $0.name.lowercased() == "host" }.count == 1) }
            }
        } catch {
            precondition(parser.bufferedBytes == 0)
            return 0
        }
        // Nothing is held that was not fed; consumed bytes are given back.
        precondition(parser.bufferedBytes <= fed - bodies)
        precondition(parser.heldBytes <= 2 * (parser.bufferedBytes + 64) + 64)
    }
    return 0
}
