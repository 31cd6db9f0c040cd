import Testing

@testable import DeBERTa

@Suite struct RelativePositionTests {
    @Test("log buckets match the spec's reference values")
    func buckets() {
        let want = [129: 129, 130: 130, 131: 131, 132: 131, 140: 137, 150: 143, 160: 149, 200: 169, 256: 192,
                    300: 207, 383: 229, 510: 255, 511: 255, 128: 128, 0: 0, 1: 1, 127: 127]
        for (r, b) in want {
            #expect(RelativePosition.bucket(r, bucketSize: 256, maxPosition: 512) == b, "r = \(r)")
            #expect(RelativePosition.bucket(-r, bucketSize: 256, maxPosition: 512) == -b, "r = -\(r)")
        }
    }

    @Test("first distance reaching each bucket, from the spec table")
    func firstReach() {
        let table = [132: 133, 150: 161, 170: 201, 192: 255, 200: 278, 229: 381]
        for (v, r) in table {
            #expect(RelativePosition.bucket(r, bucketSize: 256, maxPosition: 512) == v)
            #expect(RelativePosition.bucket(r - 1, bucketSize: 256, maxPosition: 512) == v - 1)
        }
    }

    @Test("the index table is clamped to the relative-embedding rows and monotonic")
    func table() {
        let t = RelativePosition.indexTable(maxLength: 2048, span: 256, bucketSize: 256, maxPosition: 512)
        #expect(t.first == 0 && t.last == 511)
        #expect(zip(t, t.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(t[2047] == 256)
    }
}
