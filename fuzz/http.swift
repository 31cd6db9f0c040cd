// libFuzzer target: the HTTP/1.1 request parser on arbitrary bytes, fed in pieces whose sizes
// come from the input itself. Must never crash, hang or buffer past its limits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var limits = HTTPLimits()
    limits.maxBodyBytes = 1 << 16
    var parser = HTTPParser(limits: limits)
    var i = 0
    var step = 1
    while i < bytes.count {
        let n = min(bytes.count - i, step)
        parser.feed(Array(bytes[i..<(i + n)]))
        i += n
        step = Int(bytes[i - 1] % 64) + 1
        do {
            while let event = try parser.next() {
                if case let .request(r) = event { precondition(r.body.count <= limits.maxBodyBytes) }
            }
        } catch { return 0 }
        precondition(parser.bufferedBytes <= bytes.count)
    }
    return 0
}
