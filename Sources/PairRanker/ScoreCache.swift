import Sync

/// An exact cache of pair logits: the logit of a pair sequence, keyed by the whole sequence (its
/// token ids and pooled positions), so a repeated comparison costs no forward. RLHF pipelines
/// re-score the same pairs (client retries, best-of-n re-ranks, overlapping rank requests).
///
/// Exact: keys are compared in full (a hash only picks the bucket), and a cached logit is the
/// one the model computed for that sequence; since a sequence's logit does not depend on its
/// batch (batch invariance), a hit returns the bits a recomputation would. Bounded: entries are
/// evicted least-recently-used first once their accounted bytes (ids, plus a fixed per-entry
/// overhead) pass `capacityBytes`. Thread-safe: one lock guards the whole state, and nothing
/// is called out while it is held.
public final class ScoreCache: Sendable {
    public struct Stats: Sendable, Equatable {
        public var hits = 0, misses = 0, evictions = 0, entries = 0, bytes = 0, capacityBytes = 0
    }

    /// Accounted bytes of one entry beyond its ids: the key's array header and positions, the
    /// dictionary slot, the list links and the logit (measured order of magnitude, not exact).
    public static let entryOverhead = 128

    private struct Node {
        var key: PairSequence
        var logit: Float
        var bytes: Int
        var prev: Int, next: Int   // indices into nodes; -1 = none
    }

    private struct State {
        var index: [PairSequence: Int] = [:]
        var nodes: [Node] = []
        var free: [Int] = []
        var head = -1, tail = -1   // head: most recently used
        var stats = Stats()

        mutating func unlink(_ i: Int) {
            let p = nodes[i].prev, n = nodes[i].next
            if p >= 0 { nodes[p].next = n } else { head = n }
            if n >= 0 { nodes[n].prev = p } else { tail = p }
            nodes[i].prev = -1; nodes[i].next = -1
        }

        mutating func pushFront(_ i: Int) {
            nodes[i].prev = -1
            nodes[i].next = head
            if head >= 0 { nodes[head].prev = i }
            head = i
            if tail < 0 { tail = i }
        }
    }

    /// Guards the index, the entries, the recency list and the stats; a leaf lock (`logits` calls
    /// `compute` with it released).
    private let state: Locked<State>
    public let capacityBytes: Int

    /// `capacityBytes` ≤ 0 makes a cache that stores nothing (every lookup a miss).
    public init(capacityBytes: Int) {
        self.capacityBytes = max(0, capacityBytes)
        var s = State()
        s.stats.capacityBytes = self.capacityBytes
        state = Locked(s)
    }

    static func bytes(of key: PairSequence) -> Int { key.ids.count * MemoryLayout<Int32>.size + entryOverhead }

    /// The cached logit of each pair, or nil; counts a hit or a miss for each.
    public func lookup(_ pairs: [PairSequence]) -> [Float?] {
        state.withLock { s in
            pairs.map { key -> Float? in
                guard let i = s.index[key] else { s.stats.misses += 1; return nil }
                s.stats.hits += 1
                s.unlink(i)
                s.pushFront(i)
                return s.nodes[i].logit
            }
        }
    }

    /// Stores computed logits (pairs and logits of equal count), evicting the least recently
    /// used entries past the capacity. A sequence larger than the whole capacity is not stored.
    public func insert(_ pairs: [PairSequence], _ logits: [Float]) {
        let capacity = capacityBytes
        state.withLock { s in
            for (key, logit) in zip(pairs, logits) {
                let size = Self.bytes(of: key)
                guard size <= capacity else { continue }
                if let i = s.index[key] {
                    s.nodes[i].logit = logit
                    s.unlink(i)
                    s.pushFront(i)
                    continue
                }
                while s.stats.bytes + size > capacity, s.tail >= 0 {
                    let victim = s.tail
                    s.unlink(victim)
                    s.index[s.nodes[victim].key] = nil
                    s.stats.bytes -= s.nodes[victim].bytes
                    s.stats.entries -= 1
                    s.stats.evictions += 1
                    s.nodes[victim].key = PairSequence(ids: [], sourcePosition: 0, leftPosition: 0, rightPosition: 0)
                    s.free.append(victim)
                }
                let node = Node(key: key, logit: logit, bytes: size, prev: -1, next: -1)
                let i: Int
                if let f = s.free.popLast() { s.nodes[f] = node; i = f } else { s.nodes.append(node); i = s.nodes.count - 1 }
                s.index[key] = i
                s.pushFront(i)
                s.stats.bytes += size
                s.stats.entries += 1
            }
        }
    }

    public var stats: Stats { state.withLock { $0.stats } }

    /// Logits for `pairs`: cached ones from the cache, the rest from `compute` (called once, with
    /// the missing pairs only, outside the cache's lock), then stored.
    public func logits(_ pairs: [PairSequence], compute: ([PairSequence]) throws -> [Float]) throws -> [Float] {
        let cached = lookup(pairs)
        // Each distinct missing sequence once.
        var missing: [PairSequence] = [], slotOf: [PairSequence: Int] = [:], slots: [(Int, Int)] = []
        for (k, v) in cached.enumerated() where v == nil {
            let m: Int
            if let i = slotOf[pairs[k]] { m = i } else { m = missing.count; slotOf[pairs[k]] = m; missing.append(pairs[k]) }
            slots.append((k, m))
        }
        if missing.isEmpty { return cached.map { $0 ?? 0 } }
        let computed = try compute(missing)
        guard computed.count == missing.count else {
            throw PairRankerError.evaluation(message: "expected \(missing.count) logits, got \(computed.count)")
        }
        insert(missing, computed)
        var out = cached.map { $0 ?? 0 }
        for (slot, m) in slots { out[slot] = computed[m] }
        return out
    }
}
