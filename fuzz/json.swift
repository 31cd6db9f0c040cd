// libFuzzer target: the request JSON parser and serializer: parse arbitrary bytes; whatever
// parses must serialize and parse back to exactly the same value (the parser refuses
// non-finite numbers, so nothing turns into null), and every integral number below 2^63 in
// magnitude must be written as an integer (no exponent, no fraction: `1e+15` or `...0` would
// change the type a strict client reads).
func checkNumbers(_ v: JSON) {
    switch v {
    case let .number(d):
        let t = JSON.number(d).text
        if d == d.rounded(), abs(d) < 9.2e18 {
            precondition(t.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }, "\(d) written as \(t)")
        }
    case let .array(items): items.forEach(checkNumbers)
    case let .object(members): members.forEach { checkNumbers($0.1) }
    default: break
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSON.parse(bytes) else { return 0 }
    let again = try! JSON.parse(value.bytes)
    precondition(again == value, "round trip changed the value: \(value.text)")
    checkNumbers(value)
    return 0
}
