/// Vectorised exp, erf and tanh on SIMD16<Float>, accurate to a few ulp (checked against libm in the
/// tests). Comparisons use `.replacing(with:where:)`: `pointwiseMax`/`clamped` compile to
/// lane-by-lane code (docs/model.md §8).
public enum SIMDMath {
    public typealias V = SIMD16<Float>

    @inline(__always) static func clamp(_ x: V, _ lo: Float, _ hi: Float) -> V {
        var r = x
        r.replace(with: V(repeating: lo), where: r .< lo)
        r.replace(with: V(repeating: hi), where: r .> hi)
        return r
    }

    /// e^x: x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial for e^r, 2^n from the exponent bits.
    @inline(__always) public static func exp(_ x: V) -> V {
        let xc = clamp(x, -87.3, 88.7)
        // Round to nearest with the 1.5·2^23 trick: adding it leaves the integer in the low
        // mantissa bits (lane-wise integer ops only; Swift's generic SIMD conversions are scalar).
        let magic = V(repeating: 12582912)
        let shifted = xc * 1.44269504088896341 + magic
        let n = shifted - magic
        var r = xc - n * 0.693359375      // ln2 high part, exact in float
        r = r - n * -2.12194440e-4        // ln2 low part
        var p = V(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let r2 = r * r
        let e = p * r2 + r + 1
        let ni = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(magic, to: SIMD16<Int32>.self)
        let bits = (ni &+ 127) &<< 23
        var out = e * unsafeBitCast(bits, to: V.self)
        out.replace(with: V(repeating: 0), where: x .< -87.3)
        return out
    }

    /// erf(x) as a rational function of x² on [-4, 4] (erf is ±1 to float precision beyond).
    @inline(__always) public static func erf(_ x: V) -> V {
        let xc = clamp(x, -4, 4)
        let x2 = xc * xc
        var p = V(repeating: -2.72614225801306e-10)
        p = p * x2 + 2.77068142495902e-08
        p = p * x2 + -2.10102402082508e-06
        p = p * x2 + -5.69250639462346e-05
        p = p * x2 + -7.34990630326855e-04
        p = p * x2 + -2.95459980854025e-03
        p = p * x2 + -1.60960333262415e-02
        p = p * xc
        var q = V(repeating: -1.45660718464996e-05)
        q = q * x2 + -2.13374055278905e-04
        q = q * x2 + -1.68282697438203e-03
        q = q * x2 + -7.37332916720468e-03
        q = q * x2 + -1.42647390514189e-02
        return p / q
    }

    /// tanh(x): an odd polynomial below |x| = 0.625 (no cancellation near 0), else
    /// 1 − 2/(e^{2|x|} + 1), with x's sign (the Cephes tanhf split).
    @inline(__always) public static func tanh(_ x: V) -> V {
        var a = x
        a.replace(with: -x, where: x .< 0)
        let z = x * x
        var p = V(repeating: -5.70498872745e-3)
        p = p * z + 2.06390887954e-2
        p = p * z + -5.37397155531e-2
        p = p * z + 1.33314422036e-1
        p = p * z + -3.33332819422e-1
        let small = p * z * x + x
        let e = exp(clamp(2 * a, 0, 88))
        var large = 1 - 2 / (e + 1)
        large.replace(with: -large, where: x .< 0)
        large.replace(with: small, where: a .< 0.625)
        return large
    }
}
