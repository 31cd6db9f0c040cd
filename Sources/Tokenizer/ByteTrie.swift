/// A trie over UTF-8 bytes: pieces are byte strings, never Swift `String`s (whose equality is
/// Unicode-canonical and would merge distinct pieces). The root has a direct 256-entry table;
/// deeper nodes keep their few children sorted in one edge array.
struct ByteTrie: Sendable {
    private var rootTable = [Int32](repeating: -1, count: 256)
    private var edgeStart: [Int32] = []   // per node: first edge
    private var edgeCount: [Int32] = []   // per node: number of edges
    private var edgeByte: [UInt8] = []
    private var edgeTarget: [Int32] = []
    private(set) var value: [Int32] = []  // per node: key id, or -1

    /// Builds the trie of `keys`; `ids[i]` is stored at the end of `keys[i]` (a later duplicate
    /// replaces an earlier one).
    init(keys: [[UInt8]], ids: [Int32]) {
        // Build with per-node dictionaries, then flatten.
        var children: [[UInt8: Int32]] = [[:]]
        var values: [Int32] = [-1]
        for (key, id) in zip(keys, ids) {
            var node: Int32 = 0
            for b in key {
                if let next = children[Int(node)][b] { node = next } else {
                    let next = Int32(children.count)
                    children.append([:])
                    values.append(-1)
                    children[Int(node)][b] = next
                    node = next
                }
            }
            values[Int(node)] = id  // the last duplicate wins, as a HashMap insert does
        }
        value = values
        edgeStart = [Int32](repeating: 0, count: children.count)
        edgeCount = [Int32](repeating: 0, count: children.count)
        for (n, map) in children.enumerated() {
            edgeStart[n] = Int32(edgeByte.count)
            edgeCount[n] = Int32(map.count)
            for b in map.keys.sorted() {
                edgeByte.append(b)
                edgeTarget.append(map[b]!)
            }
        }
        for (b, t) in children[0] { rootTable[Int(b)] = t }
    }

    /// The child of `node` along byte `b`, or -1.
    @inline(__always) func child(_ node: Int32, _ b: UInt8) -> Int32 {
        if node == 0 { return rootTable[Int(b)] }
        let start = Int(edgeStart[Int(node)]), end = start + Int(edgeCount[Int(node)])
        var i = start
        while i < end {
            let e = edgeByte[i]
            if e == b { return edgeTarget[i] }
            if e > b { return -1 }
            i += 1
        }
        return -1
    }

    /// The id stored for exactly `key`, or nil.
    func lookup<C: Collection>(_ key: C) -> Int32? where C.Element == UInt8 {
        var node: Int32 = 0
        for b in key {
            node = child(node, b)
            if node < 0 { return nil }
        }
        let v = value[Int(node)]
        return v >= 0 ? v : nil
    }

    /// Calls `body(length, id)` for every key that is a prefix of `bytes[from...]`, shortest first.
    @inline(__always)
    func forEachPrefix(of bytes: UnsafeBufferPointer<UInt8>, from: Int, _ body: (Int, Int32) -> Void) {
        var node: Int32 = 0
        var i = from
        while i < bytes.count {
            node = child(node, bytes[i])
            if node < 0 { return }
            i += 1
            let v = value[Int(node)]
            if v >= 0 { body(i - from, v) }
        }
    }

    /// The longest key that is a prefix of `bytes[from...]`: (length, id).
    func longestPrefix(of bytes: UnsafeBufferPointer<UInt8>, from: Int) -> (Int, Int32)? {
        var best: (Int, Int32)?
        forEachPrefix(of: bytes, from: from) { best = ($0, $1) }
        return best
    }
}
