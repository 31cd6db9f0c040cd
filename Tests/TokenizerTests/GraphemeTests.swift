import Foundation
import Testing

@testable import Tokenizer

/// The charsmap step's grapheme clusters are the reference's (unicode-segmentation 1.12.0,
/// Unicode 16.0.0), whatever Unicode version the Swift toolchain ships.
@Suite struct GraphemeTests {
    struct Line: Decodable { let source: String; let scalars: [UInt32]; let clusters: [Int] }

    static let lines: [Line] = {
        let url = CorpusTests.fixtures.appendingPathComponent("goldens/grapheme_clusters.jsonl")
        let text = try! String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n").map { try! JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
    }()

    /// Cluster sizes in scalars, from our segmentation of the UTF-8 of `scalars`.
    static func clusters(_ scalars: [UInt32]) -> [Int] {
        var s = ""
        for v in scalars { s.unicodeScalars.append(Unicode.Scalar(v)!) }
        var utf8 = Array(s.utf8)
        var sizes: [Int] = []
        utf8.withUnsafeMutableBufferPointer { p in
            let b = UnsafeBufferPointer(p)
            GraphemeBreak.shared.forEachCluster(b) { r in
                sizes.append(String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self).unicodeScalars.count)
            }
        }
        return sizes
    }

    @Test("every case of GraphemeBreakTest 16.0.0 and the crate's answers on random strings")
    func goldens() {
        let conformance = Self.lines.filter { $0.source == "GraphemeBreakTest-16.0.0" }
        #expect(conformance.count > 1000)
        #expect(Self.lines.count - conformance.count >= 5000)
        var failures = 0
        for line in Self.lines {
            let got = Self.clusters(line.scalars)
            if got != line.clusters {
                failures += 1
                if failures <= 15 {
                    Issue.record("\(line.source) \(line.scalars.map { String($0, radix: 16) }): \(got) want \(line.clusters)")
                }
            }
        }
        #expect(failures == 0)
    }

    @Test("the two-stage lookup gives every code point the value of its generated range")
    func lookupMatchesRanges() {
        let packed = GraphemeBreak.packedRanges
        var expected = [UInt8](repeating: 0, count: 0x110000)
        var previousEnd = -1
        for i in stride(from: 0, to: packed.count, by: 2) {
            let lo = Int(packed[i]), hi = Int(packed[i + 1] >> 8)
            #expect(lo > previousEnd && lo <= hi && hi < 0x110000, "ranges sorted, disjoint, in range")
            previousEnd = hi
            for cp in lo...hi { expected[cp] = UInt8(truncatingIfNeeded: packed[i + 1]) }
        }
        var mismatches = 0
        for cp in 0..<0x110000 where GraphemeBreak.shared.value(UInt32(cp)) != expected[cp] { mismatches += 1 }
        #expect(mismatches == 0)
        #expect(GraphemeBreak.shared.value(0x110000) == 0 && GraphemeBreak.shared.value(.max) == 0)
        #expect(GraphemeBreak.category(GraphemeBreak.shared.value(0x1AE1)) == .other)   // unassigned at 16.0
        #expect(GraphemeBreak.category(GraphemeBreak.shared.value(0x1AC7)) == .extend)
    }

    @Test("code points assigned after Unicode 16.0 are clusters of their own, as the reference has them")
    func newerCodePoints() {
        // U+1AE1 (Combining Diacritical Marks Extended, Unicode 17.0) after a letter: the reference
        // (unassigned, Other) breaks before it; a Unicode 17 toolchain's Character does not.
        #expect(Self.clusters([0x61, 0x1AE1]) == [1, 1])
        #expect(Self.clusters([0x149, 0x1AE1, 0x20]) == [1, 1, 1])
        // A mark that is Extend at 16.0 still extends.
        #expect(Self.clusters([0x61, 0x301, 0x1AC7]) == [3])
        #expect(GraphemeBreak.unicodeVersion == (16, 0, 0))
    }

    @Test("GB9c, GB11 and regional-indicator pairs")
    func rules() {
        #expect(Self.clusters([0x915, 0x94D, 0x924]) == [3])              // क्त: consonant, virama, consonant
        #expect(Self.clusters([0x915, 0x94D, 0x200D, 0x924]) == [4])
        #expect(Self.clusters([0x61, 0x94D, 0x924]) == [2, 1])            // no consonant before the linker
        #expect(Self.clusters([0x1F469, 0x200D, 0x1F4BB]) == [3])         // 👩‍💻
        #expect(Self.clusters([0x61, 0x200D, 0x1F4BB]) == [2, 1])
        #expect(Self.clusters([0x1F1EF, 0x1F1F5, 0x1F1FA, 0x1F1F8, 0x1F1EC]) == [2, 2, 1])
        #expect(Self.clusters([0x0D, 0x0A, 0x0A]) == [2, 1])
        #expect(Self.clusters([0x1100, 0x1161, 0x11A8, 0xAC00]) == [3, 1])
    }

    @Test("invalid or truncated UTF-8 advances byte by byte and never reads past the end")
    func invalidUTF8() {
        let cases: [[UInt8]] = [[0xE2, 0x96], [0xF0], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
                                [0x61, 0xCC], [0xFF, 0xFE, 0x61], [0x80, 0x80]]
        for bytes in cases {
            var covered = 0
            bytes.withUnsafeBufferPointer { b in
                GraphemeBreak.shared.forEachCluster(b) { r in
                    #expect(r.lowerBound == covered && r.upperBound <= b.count && !r.isEmpty)
                    covered = r.upperBound
                }
            }
            #expect(covered == bytes.count, "\(bytes)")
        }
    }
}
