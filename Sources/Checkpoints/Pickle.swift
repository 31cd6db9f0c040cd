/// "Just enough pickle" for torch state dicts (modelled on candle's pickle.rs).
///
/// A closed set of opcodes is interpreted; anything else is an error. GLOBAL only names one of an
/// allow-list of classes and functions, and REDUCE applies just those, by pattern: nothing is ever
/// imported, called or executed. The output is a value tree whose tensors are descriptions
/// (storage key, dtype, offset, shape, stride) that `TorchCheckpoint` resolves against the zip.
struct TorchTensorRef {
    let storageKey: String
    let dtype: DType
    let storageNumel: Int
    let offset: Int
    let shape: [Int]
    let strides: [Int]
}

/// A pickle value. Containers and tensors live in the reader's `PickleHeap` and are referred to by
/// index: no value contains another, so nothing a pickle builds (nested a million deep, shared
/// through the memo into a tree of 2^64 paths, or containing itself) is ever walked or freed
/// recursively.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(Int)
    case list(Int)
    case dict(Int)
    case global(module: String, name: String)
    case storage(dtype: DType, key: String, numel: Int)
    case tensor(Int)

    var asInt: Int? { if case let .int(v) = self { return v }; return nil }
    var asString: String? { if case let .string(v) = self { return v }; return nil }
}

/// Every container a pickle built, by index.
struct PickleHeap {
    /// Containers at most: a state dict needs a few per tensor (a DeBERTa-v3-large one, under
    /// 5,000); the limit bounds the reader's memory whatever the pickle's size.
    static let maxContainers = 1 << 20

    var tuples: [[PickleValue]] = []
    var lists: [[PickleValue]] = []
    var dicts: [[(PickleValue, PickleValue)]] = []
    var tensors: [TorchTensorRef] = []

    var containers: Int { tuples.count + lists.count + dicts.count }

    /// The items of a tuple or list.
    func items(_ v: PickleValue) -> [PickleValue]? {
        switch v {
        case let .tuple(i): return tuples[i]
        case let .list(i): return lists[i]
        default: return nil
        }
    }

    func intTuple(_ v: PickleValue) -> [Int]? { items(v)?.compactMapAll { $0.asInt } }

    /// What `v` is, in a few words: "a tuple of 2 items", "an int".
    func kind(_ v: PickleValue) -> String {
        func n(_ c: Int) -> String { c == 1 ? "1 item" : "\(c) items" }
        switch v {
        case .none: return "None"
        case .bool: return "a bool"
        case .int: return "an int"
        case .float: return "a float"
        case .string: return "a string"
        case let .bytes(b): return "\(b.count) bytes"
        case let .tuple(i): return "a tuple of \(n(tuples[i].count))"
        case let .list(i): return "a list of \(n(lists[i].count))"
        case let .dict(i): return "a dict of \(n(dicts[i].count))"
        case .global: return "a global"
        case .storage: return "a storage"
        case .tensor: return "a tensor"
        }
    }

    /// `v` rendered within a bounded size: containers to depth 2 and their first 3 items, strings
    /// clipped. Used in error messages.
    func describe(_ v: PickleValue, depth: Int = 0) -> String {
        func seq(_ items: [PickleValue], _ open: String, _ close: String) -> String {
            if depth >= 2 { return items.isEmpty ? open + close : open + "…" + close }
            var parts = items.prefix(3).map { describe($0, depth: depth + 1) }
            if items.count > 3 { parts.append("… \(items.count) in all") }
            return open + parts.joined(separator: ", ") + close
        }
        switch v {
        case .none: return "None"
        case let .bool(b): return b ? "True" : "False"
        case let .int(i): return "\(i)"
        case let .float(d): return "\(d)"
        case let .string(s): return "'" + BoundedRendering.clip(s, max: 40) + "'"
        case let .bytes(b): return "<\(b.count) bytes>"
        case let .tuple(i): return seq(tuples[i], "(", ")")
        case let .list(i): return seq(lists[i], "[", "]")
        case let .dict(i): return dicts[i].isEmpty ? "{}" : "{… \(dicts[i].count) items}"
        case let .global(m, n): return BoundedRendering.clip("\(m).\(n)", max: 60)
        case let .storage(dtype, key, numel): return "storage(\(dtype.rawValue), '\(BoundedRendering.clip(key, max: 40))', \(numel))"
        case .tensor: return "tensor"
        }
    }
}

extension Array {
    /// Maps every element, or returns nil if any maps to nil.
    func compactMapAll<T>(_ f: (Element) -> T?) -> [T]? {
        var out: [T] = []
        out.reserveCapacity(count)
        for e in self { guard let v = f(e) else { return nil }; out.append(v) }
        return out
    }
}

struct PickleReader {
    static let allowedGlobals: Set<String> = [
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.DoubleStorage",
        "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage",
        "torch.ByteStorage", "torch.BoolStorage",
    ]

    let path: String
    let bytes: UnsafeRawBufferPointer
    private var pos = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    /// The containers the pickle built; valid after `read()`.
    private(set) var heap = PickleHeap()

    init(path: String, bytes: UnsafeRawBufferPointer) {
        self.path = path
        self.bytes = bytes
    }

    private func fail(_ message: String) -> CheckpointError { .badPickle(path: path, message: message) }

    private mutating func checkRoom() throws {
        guard heap.containers < PickleHeap.maxContainers else {
            throw fail("more than \(PickleHeap.maxContainers) tuples, lists and dicts at byte \(pos)")
        }
    }
    private mutating func newTuple(_ items: [PickleValue]) throws -> PickleValue {
        try checkRoom()
        heap.tuples.append(items)
        return .tuple(heap.tuples.count - 1)
    }

    private mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= bytes.count - pos else {
            throw CheckpointError.truncated(path: path, what: "pickle operand at byte \(pos)", needed: n,
                                            available: bytes.count - pos)
        }
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + n)])
    }

    private mutating func u8() throws -> Int { Int(try take(1)[0]) }
    private mutating func le(_ n: Int) throws -> UInt64 {
        let b = try take(n)
        var v: UInt64 = 0
        for i in (0..<n).reversed() { v = v << 8 | UInt64(b[i]) }
        return v
    }
    private mutating func line() throws -> String {
        guard let nl = bytes[pos...].firstIndex(of: 0x0a) else { throw fail("unterminated GLOBAL operand") }
        let s = String(decoding: bytes[pos..<nl], as: UTF8.self)
        pos = nl + 1
        return s
    }
    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw fail("stack underflow at byte \(pos)") }
        if let m = marks.last, stack.count < m { throw fail("stack underflow past a mark at byte \(pos)") }
        return v
    }
    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("missing MARK at byte \(pos)") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }
    private mutating func memoGet(_ i: Int) throws -> PickleValue {
        guard let v = memo[i] else { throw fail("memo key \(i) is not set") }
        return v
    }
    private mutating func memoPut(_ i: Int) throws {
        guard let top = stack.last else { throw fail("memoize with an empty stack") }
        memo[i] = top
    }

    private func checkGlobal(_ module: String, _ name: String) throws -> PickleValue {
        guard Self.allowedGlobals.contains("\(module).\(name)") else {
            throw CheckpointError.disallowedPickleGlobal(path: path, module: module, name: name)
        }
        return .global(module: module, name: name)
    }

    mutating func read() throws -> PickleValue {
        while pos < bytes.count {
            let at = pos
            let op = bytes[pos]
            pos += 1
            switch op {
            case 0x80: _ = try u8()                                  // PROTO
            case 0x95: _ = try le(8)                                 // FRAME
            case 0x2e: return try pop()                              // STOP
            case 0x28: marks.append(stack.count)                     // MARK
            case 0x7d:                                               // EMPTY_DICT
                try checkRoom()
                heap.dicts.append([])
                stack.append(.dict(heap.dicts.count - 1))
            case 0x5d:                                               // EMPTY_LIST
                try checkRoom()
                heap.lists.append([])
                stack.append(.list(heap.lists.count - 1))
            case 0x29: stack.append(try newTuple([]))                // EMPTY_TUPLE
            case 0x4e: stack.append(.none)                           // NONE
            case 0x88: stack.append(.bool(true))                     // NEWTRUE
            case 0x89: stack.append(.bool(false))                    // NEWFALSE
            case 0x4b: stack.append(.int(try u8()))                  // BININT1
            case 0x4d: stack.append(.int(Int(try le(2))))            // BININT2
            case 0x4a: stack.append(.int(Int(Int32(truncatingIfNeeded: try le(4)))))  // BININT
            case 0x8a:                                               // LONG1
                let n = try u8()
                guard n <= 8 else { throw fail("LONG1 of \(n) bytes is too large") }
                var v = n == 0 ? 0 : Int(truncatingIfNeeded: try le(n))
                if n > 0 && n < 8 && v & (1 << (8 * n - 1)) != 0 { v -= 1 << (8 * n) }
                stack.append(.int(v))
            case 0x47:                                               // BINFLOAT (big-endian)
                let b = try take(8)
                var v: UInt64 = 0
                for i in 0..<8 { v = v << 8 | UInt64(b[i]) }
                stack.append(.float(Double(bitPattern: v)))
            case 0x58, 0x8c, 0x8d:                                   // BINUNICODE, SHORT_, 8
                let n = Int(clamping: try le(op == 0x8c ? 1 : op == 0x58 ? 4 : 8))
                stack.append(.string(String(decoding: try take(n), as: UTF8.self)))
            case 0x42, 0x43, 0x8e:                                   // BINBYTES, SHORT_, 8
                let n = Int(clamping: try le(op == 0x43 ? 1 : op == 0x42 ? 4 : 8))
                stack.append(.bytes(Array(try take(n))))
            case 0x71: try memoPut(try u8())                         // BINPUT
            case 0x72: try memoPut(Int(try le(4)))                   // LONG_BINPUT
            case 0x94: try memoPut(memo.count)                       // MEMOIZE
            case 0x68: stack.append(try memoGet(try u8()))           // BINGET
            case 0x6a: stack.append(try memoGet(Int(try le(4))))     // LONG_BINGET
            case 0x63:                                               // GLOBAL
                let module = try line()
                let name = try line()
                stack.append(try checkGlobal(module, name))
            case 0x93:                                               // STACK_GLOBAL
                let name = try pop(), module = try pop()
                guard let m = module.asString, let n = name.asString else { throw fail("STACK_GLOBAL needs two strings") }
                stack.append(try checkGlobal(m, n))
            case 0x74: stack.append(try newTuple(try popMark()))     // TUPLE
            case 0x85: let a = try pop(); stack.append(try newTuple([a]))  // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(try newTuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(try newTuple([a, b, c]))
            case 0x61:                                               // APPEND
                let v = try pop()
                guard case let .list(l) = stack.last else { throw fail("APPEND to a non-list") }
                heap.lists[l].append(v)
            case 0x65:                                               // APPENDS
                let items = try popMark()
                guard case let .list(l) = stack.last else { throw fail("APPENDS to a non-list") }
                heap.lists[l] += items
            case 0x73:                                               // SETITEM
                let v = try pop(), k = try pop()
                guard case let .dict(d) = stack.last else { throw fail("SETITEM on a non-dict") }
                heap.dicts[d].append((k, v))
            case 0x75:                                               // SETITEMS
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items") }
                guard case let .dict(d) = stack.last else { throw fail("SETITEMS on a non-dict") }
                for i in stride(from: 0, to: items.count, by: 2) { heap.dicts[d].append((items[i], items[i + 1])) }
            case 0x62: _ = try pop()                                 // BUILD: object state is not needed
            case 0x51:                                               // BINPERSID
                stack.append(try persistentLoad(try pop()))
            case 0x52:                                               // REDUCE
                let args = try pop(), callable = try pop()
                stack.append(try reduce(callable, args))
            default:
                throw CheckpointError.unknownPickleOpcode(path: path, opcode: op, offset: at)
            }
        }
        throw CheckpointError.truncated(path: path, what: "pickle (no STOP opcode)", needed: 1, available: 0)
    }

    /// ('storage', torch.XStorage, key, location, numel) -> a storage description.
    private func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        guard case let .tuple(t) = pid, case let items = heap.tuples[t], items.count == 5, items[0].asString == "storage",
              case let .global(_, storageName) = items[1], let key = items[2].asString, let numel = items[4].asInt
        else { throw fail("unsupported persistent id, \(heap.kind(pid)): \(heap.describe(pid))") }
        guard let dtype = DType.fromTorchStorage(storageName) else {
            throw CheckpointError.disallowedPickleGlobal(path: path, module: "torch", name: storageName)
        }
        guard numel >= 0 else { throw fail("storage '\(BoundedRendering.clip(key))' has negative size \(numel)") }
        return .storage(dtype: dtype, key: key, numel: numel)
    }

    private mutating func reduce(_ callable: PickleValue, _ args: PickleValue) throws -> PickleValue {
        guard case let .global(module, name) = callable, case let .tuple(t) = args else {
            throw fail("REDUCE of \(heap.kind(callable)) on \(heap.kind(args)), expected a global on a tuple")
        }
        let a = heap.tuples[t]
        switch "\(module).\(name)" {
        case "collections.OrderedDict":
            try checkRoom()
            heap.dicts.append([])
            return .dict(heap.dicts.count - 1)
        case "torch._utils._rebuild_tensor_v2":
            guard a.count >= 4, case let .storage(dtype, key, numel) = a[0], let offset = a[1].asInt,
                  let shape = heap.intTuple(a[2]), let strides = heap.intTuple(a[3]), shape.count == strides.count,
                  offset >= 0, shape.allSatisfy({ $0 >= 0 })
            else { throw fail("bad arguments to _rebuild_tensor_v2") }
            heap.tensors.append(TorchTensorRef(storageKey: key, dtype: dtype, storageNumel: numel, offset: offset,
                                               shape: shape, strides: strides))
            return .tensor(heap.tensors.count - 1)
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard let first = a.first else { throw fail("bad arguments to \(name)") }
            return first
        default:
            throw fail("'\(module).\(name)' cannot be called")
        }
    }
}
