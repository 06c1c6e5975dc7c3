//! Element-wise activation kernels, in place over slices.
//!
//! The `f32` kernels run 16 lanes at a time with AVX-512, 8 with AVX2+FMA
//! (one generic source, see `kernels::simd`; the path is chosen once by
//! `kernels::isa`), and otherwise a portable scalar loop
//! that implements the same algorithm and which LLVM auto-vectorises for the
//! baseline target (SSE2, NEON). Both paths are within a few ulp of the exact
//! function over the whole `f32` range, including subnormals, and give
//! exact saturation (`tanh` -> ±1, `sigmoid` -> 0/1), ±inf handling and NaN
//! propagation. Measured maximum errors, exhaustively over all 2^32 inputs,
//! against the exact value rounded to `f32`:
//!
//! | function  | AVX2+FMA (and AVX-512: same operations) | scalar |
//! |-----------|----------|--------|
//! | `exp`     | 1 ulp    | 1 ulp  |
//! | `sigmoid` | 2 ulp    | 2 ulp  |
//! | `tanh`    | 1 ulp    | 1 ulp  |
//!
//! (The scalar path is plain IEEE arithmetic with no libm calls and no FMA
//! contraction, so it gives the same bits on x86_64, aarch64 and other
//! targets with IEEE single-precision arithmetic.)
//!
//! The `f64` kernels are scalar loops over std's libm (`exp`, `tanh`),
//! because exactness matters more than speed there.

#![allow(clippy::excessive_precision)] // Cephes coefficients, kept as published.

// ---------------------------------------------------------------------------
// Shared f32 constants (Cephes `expf`/`tanhf`).

/// Inputs to `exp` are clamped to this range before the 2^n bit trick:
/// below it the result rounds to +0 (exp(-104) < 2^-150), above it to +inf
/// (exp(89) > f32::MAX); inside it n = round(x·log2 e) lies in [-150, 128],
/// which the two-step scaling 2^(n/2)·2^(n - n/2) handles without leaving the
/// normal exponent range.
const EXP_LO: f32 = -104.0;
const EXP_HI: f32 = 89.0;
/// 1.5·2^23: adding it rounds to the nearest integer, which then sits in the
/// low mantissa bits (valid for |v| < 2^22).
const ROUND_MAGIC: f32 = 12_582_912.0;
const ROUND_MAGIC_BITS: i32 = 0x4B40_0000;
/// ln 2 split in two: `LN2_HI` has 9 significant bits, so n·LN2_HI is exact
/// for |n| < 2^15 and the range reduction r = x - n·ln2 loses nothing.
const LN2_HI: f32 = 0.693_359_375;
const LN2_LO: f32 = -2.121_944_40e-4;
/// Cephes `expf` minimax polynomial: exp(r) ≈ 1 + r + r²·P(r), |r| ≤ ln2/2.
const EXP_P0: f32 = 1.987_569_150_0e-4;
const EXP_P1: f32 = 1.398_199_950_7e-3;
const EXP_P2: f32 = 8.333_451_907_3e-3;
const EXP_P3: f32 = 4.166_579_589_4e-2;
const EXP_P4: f32 = 1.666_666_545_9e-1;
const EXP_P5: f32 = 5.000_000_120_1e-1;
/// Below this |x|, tanh uses the Cephes `tanhf` odd polynomial
/// x + x³·Q(x²), which keeps full relative precision down to subnormals;
/// above it, 1 - 2/(exp(2|x|)+1) (computed as 1 - 2e/(1+e), e = exp(-2|x|),
/// so nothing overflows and large |x| rounds to exactly ±1).
const TANH_SMALL: f32 = 0.625;
const TANH_Q0: f32 = -5.704_988_727_45e-3;
const TANH_Q1: f32 = 2.063_908_879_54e-2;
const TANH_Q2: f32 = -5.373_971_555_31e-2;
const TANH_Q3: f32 = 1.333_144_220_36e-1;
const TANH_Q4: f32 = -3.333_328_194_22e-1;

// ---------------------------------------------------------------------------
// Public API.

use crate::kernels::isa::{self, Isa};

/// `x[i] = 1 / (1 + exp(-x[i]))`, in place. Within 2 ulp over all of `f32`.
pub fn sigmoid_f32(x: &mut [f32]) {
    sigmoid_f32_on(isa::active(), x)
}

/// [`sigmoid_f32`] on a given path (which this CPU must support).
pub fn sigmoid_f32_on(isa: Isa, x: &mut [f32]) {
    assert!(isa.is_supported(), "sigmoid_f32_on: this CPU does not support {isa}");
    match isa {
        // SAFETY: the CPU supports the path (asserted above).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { wide::sigmoid_avx2(x) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { wide::sigmoid_avx512(x) },
        _ => scalar::sigmoid(x),
    }
}

/// `x[i] = tanh(x[i])`, in place. Within 1 ulp over all of `f32`;
/// `tanh(-0.0) = -0.0`.
pub fn tanh_f32(x: &mut [f32]) {
    tanh_f32_on(isa::active(), x)
}

/// [`tanh_f32`] on a given path (which this CPU must support).
pub fn tanh_f32_on(isa: Isa, x: &mut [f32]) {
    assert!(isa.is_supported(), "tanh_f32_on: this CPU does not support {isa}");
    match isa {
        // SAFETY: the CPU supports the path (asserted above).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { wide::tanh_avx2(x) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { wide::tanh_avx512(x) },
        _ => scalar::tanh(x),
    }
}

/// `x[i] = exp(x[i])`, in place. Within 1 ulp over all of `f32`, with
/// correct overflow to +inf and gradual underflow through the subnormals.
pub fn exp_f32(x: &mut [f32]) {
    exp_f32_on(isa::active(), x)
}

/// [`exp_f32`] on a given path (which this CPU must support).
pub fn exp_f32_on(isa: Isa, x: &mut [f32]) {
    assert!(isa.is_supported(), "exp_f32_on: this CPU does not support {isa}");
    match isa {
        // SAFETY: the CPU supports the path (asserted above).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { wide::exp_avx2(x) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { wide::exp_avx512(x) },
        _ => scalar::exp(x),
    }
}

/// `x[i] = 1 / (1 + exp(-x[i]))`, in place, with std's `exp`. Negative inputs
/// use exp(x)/(1+exp(x)), which keeps full relative precision in the tail
/// instead of flushing to 0 once exp(-x) overflows.
pub fn sigmoid_f64(x: &mut [f64]) {
    for v in x {
        *v = if *v >= 0.0 {
            1.0 / (1.0 + (-*v).exp())
        } else {
            // Also the NaN branch: exp(NaN) = NaN propagates.
            let e = v.exp();
            e / (1.0 + e)
        };
    }
}

/// `x[i] = tanh(x[i])`, in place, with std's `tanh`.
pub fn tanh_f64(x: &mut [f64]) {
    for v in x {
        *v = v.tanh();
    }
}

// ---------------------------------------------------------------------------
// Portable path.

/// Scalar versions of the same algorithms as the SIMD path (without FMA).
/// Branch-free per element (both sides computed, then selected) so that LLVM
/// vectorises the loops for whatever the baseline target offers.
mod scalar {
    use super::*;

    /// exp(x) for any f32 (NaN propagates). Written with comparisons in the
    /// order that keeps NaN (`f32::max`/`min` would drop it).
    #[inline(always)]
    pub(super) fn exp1(x: f32) -> f32 {
        let x = if x < EXP_LO { EXP_LO } else { x };
        let x = if x > EXP_HI { EXP_HI } else { x };
        // n = round(x·log2 e), both as float and as integer.
        let t = x * std::f32::consts::LOG2_E + ROUND_MAGIC;
        let n = t - ROUND_MAGIC;
        let ni = (t.to_bits() as i32).wrapping_sub(ROUND_MAGIC_BITS);
        // r = x - n·ln2 in [-ln2/2, ln2/2].
        let r = x - n * LN2_HI;
        let r = r - n * LN2_LO;
        let mut p = EXP_P0;
        p = p * r + EXP_P1;
        p = p * r + EXP_P2;
        p = p * r + EXP_P3;
        p = p * r + EXP_P4;
        p = p * r + EXP_P5;
        let y = p * (r * r) + r + 1.0;
        // Scale by 2^n in two steps so both factors are normal floats; only
        // the last multiply can round (into the subnormals).
        let n1 = ni >> 1;
        let n2 = ni.wrapping_sub(n1);
        let s1 = f32::from_bits((n1.wrapping_add(127) as u32) << 23);
        let s2 = f32::from_bits((n2.wrapping_add(127) as u32) << 23);
        y * s1 * s2
    }

    #[inline(always)]
    pub(super) fn sigmoid1(x: f32) -> f32 {
        // e = exp(-|x|) in (0, 1]: never overflows. For x < 0 the result is
        // e/(1+e), accurate down to the subnormals.
        let e = exp1(-x.abs());
        let num = if x < 0.0 { e } else { 1.0 };
        num / (1.0 + e)
    }

    #[inline(always)]
    pub(super) fn tanh1(x: f32) -> f32 {
        let ax = x.abs();
        let z = x * x;
        let mut q = TANH_Q0;
        q = q * z + TANH_Q1;
        q = q * z + TANH_Q2;
        q = q * z + TANH_Q3;
        q = q * z + TANH_Q4;
        // Both branches on |x|, then x's sign: keeps tanh(-0) = -0.
        let small = q * z * ax + ax;
        let e = exp1(-2.0 * ax);
        let large = 1.0 - (e + e) / (1.0 + e);
        // NaN fails the comparison and takes the `large` branch, which is NaN.
        let y = if ax < TANH_SMALL { small } else { large };
        y.copysign(x)
    }

    pub(super) fn exp(x: &mut [f32]) {
        for v in x {
            *v = exp1(*v);
        }
    }

    pub(super) fn sigmoid(x: &mut [f32]) {
        for v in x {
            *v = sigmoid1(*v);
        }
    }

    pub(super) fn tanh(x: &mut [f32]) {
        for v in x {
            *v = tanh1(*v);
        }
    }
}

// ---------------------------------------------------------------------------
// AVX2 + FMA and AVX-512 paths: one generic source over the vector width.

#[cfg(target_arch = "x86_64")]
mod wide {
    use super::*;
    use crate::kernels::simd::SimdF32;
    use std::arch::x86_64::{__m256, __m512};

    #[inline(always)]
    unsafe fn exp_v<V: SimdF32>(x: V) -> V {
        // Clamp; with x as the second operand, max/min return x when it is NaN.
        let x = V::max_of(V::splat(EXP_LO), x);
        let x = V::min_of(V::splat(EXP_HI), x);
        let t = x.fmadd(V::splat(std::f32::consts::LOG2_E), V::splat(ROUND_MAGIC));
        let n = t.sub(V::splat(ROUND_MAGIC));
        let r = n.fnmadd(V::splat(LN2_HI), x);
        let r = n.fnmadd(V::splat(LN2_LO), r);
        let mut p = V::splat(EXP_P0);
        p = p.fmadd(r, V::splat(EXP_P1));
        p = p.fmadd(r, V::splat(EXP_P2));
        p = p.fmadd(r, V::splat(EXP_P3));
        p = p.fmadd(r, V::splat(EXP_P4));
        p = p.fmadd(r, V::splat(EXP_P5));
        let y = p.fmadd(r.mul(r), r);
        let y = y.add(V::splat(1.0));
        let (s1, s2) = V::exp2_halves(t, ROUND_MAGIC_BITS);
        y.mul(s1).mul(s2)
    }

    #[inline(always)]
    unsafe fn sigmoid_v<V: SimdF32>(x: V) -> V {
        let one = V::splat(1.0);
        // e = exp(-|x|); numerator e where x's sign bit is set (x < 0, -0.0
        // or a negative NaN; all give the right result), else 1.
        let e = exp_v(x.neg_abs());
        let num = V::select_sign(x, e, one);
        num.div(one.add(e))
    }

    #[inline(always)]
    unsafe fn tanh_v<V: SimdF32>(x: V) -> V {
        let one = V::splat(1.0);
        let ax = x.abs();
        let z = x.mul(x);
        let mut q = V::splat(TANH_Q0);
        q = q.fmadd(z, V::splat(TANH_Q1));
        q = q.fmadd(z, V::splat(TANH_Q2));
        q = q.fmadd(z, V::splat(TANH_Q3));
        q = q.fmadd(z, V::splat(TANH_Q4));
        // Both branches on |x|, then x's sign: keeps tanh(-0) = -0.
        let small = q.mul(z).fmadd(ax, ax);
        let e = exp_v(ax.mul(V::splat(-2.0)));
        let large = one.sub(e.add(e).div(one.add(e)));
        // Ordered compare: NaN selects `large`, which is NaN.
        V::select_lt(ax, V::splat(TANH_SMALL), small, large).or_sign_of(x)
    }

    /// One element-wise function, for [`apply`].
    trait Op {
        unsafe fn f<V: SimdF32>(x: V) -> V;
    }
    struct Exp;
    struct Sigmoid;
    struct Tanh;
    impl Op for Exp {
        #[inline(always)]
        unsafe fn f<V: SimdF32>(x: V) -> V {
            exp_v(x)
        }
    }
    impl Op for Sigmoid {
        #[inline(always)]
        unsafe fn f<V: SimdF32>(x: V) -> V {
            sigmoid_v(x)
        }
    }
    impl Op for Tanh {
        #[inline(always)]
        unsafe fn f<V: SimdF32>(x: V) -> V {
            tanh_v(x)
        }
    }

    /// `O` in place, a vector at a time; the tail goes through one masked
    /// load/store, so every element gets the same arithmetic whatever its position.
    #[inline(always)]
    unsafe fn apply<V: SimdF32, O: Op>(x: &mut [f32]) {
        let len = x.len();
        let p = x.as_mut_ptr();
        let mut i = 0;
        while i + V::LANES <= len {
            O::f(V::load(p.add(i))).store(p.add(i));
            i += V::LANES;
        }
        if i < len {
            O::f(V::load_first(p.add(i), len - i)).store_first(p.add(i), len - i);
        }
    }

    macro_rules! entry {
        ($name:ident, $v:ty, $op:ty, $features:literal) => {
            #[target_feature(enable = $features)]
            pub(super) unsafe fn $name(x: &mut [f32]) {
                apply::<$v, $op>(x)
            }
        };
    }
    entry!(exp_avx2, __m256, Exp, "avx2,fma");
    entry!(sigmoid_avx2, __m256, Sigmoid, "avx2,fma");
    entry!(tanh_avx2, __m256, Tanh, "avx2,fma");
    entry!(exp_avx512, __m512, Exp, "avx512f,avx2,fma");
    entry!(sigmoid_avx512, __m512, Sigmoid, "avx512f,avx2,fma");
    entry!(tanh_avx512, __m512, Tanh, "avx512f,avx2,fma");
}

// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// Loosest per-function bound; also the allowed SIMD/scalar disagreement.
    const MAX_ULP: u64 = 2;

    type Kernel = fn(&mut [f32]);

    #[derive(Clone, Copy, Debug)]
    enum Func {
        Exp,
        Sigmoid,
        Tanh,
    }
    const FUNCS: [Func; 3] = [Func::Exp, Func::Sigmoid, Func::Tanh];

    impl Func {
        /// Max ulp error, as measured exhaustively (see `exhaustive`).
        fn bound(self) -> u64 {
            match self {
                Func::Exp | Func::Tanh => 1,
                Func::Sigmoid => 2,
            }
        }

        /// The exact function, computed in f64 and rounded once to f32.
        fn reference(self, x: f32) -> f32 {
            let x = x as f64;
            let y = match self {
                Func::Exp => x.exp(),
                Func::Sigmoid => {
                    if x >= 0.0 {
                        1.0 / (1.0 + (-x).exp())
                    } else {
                        let e = x.exp();
                        e / (1.0 + e)
                    }
                }
                Func::Tanh => x.tanh(),
            };
            y as f32
        }

        /// Every implementation of this function that can run here.
        fn paths(self) -> Vec<(&'static str, Kernel)> {
            #[allow(unused_mut)] // only x86_64 adds a SIMD path
            let mut v: Vec<(&'static str, Kernel)> = vec![
                (
                    "dispatch",
                    match self {
                        Func::Exp => exp_f32,
                        Func::Sigmoid => sigmoid_f32,
                        Func::Tanh => tanh_f32,
                    },
                ),
                (
                    "scalar",
                    match self {
                        Func::Exp => scalar::exp,
                        Func::Sigmoid => scalar::sigmoid,
                        Func::Tanh => scalar::tanh,
                    },
                ),
            ];
            for isa in isa::supported().into_iter().filter(|&i| i != Isa::Portable) {
                fn e(x: &mut [f32]) {
                    exp_f32_on(Isa::Avx2, x)
                }
                fn s(x: &mut [f32]) {
                    sigmoid_f32_on(Isa::Avx2, x)
                }
                fn t(x: &mut [f32]) {
                    tanh_f32_on(Isa::Avx2, x)
                }
                fn e5(x: &mut [f32]) {
                    exp_f32_on(Isa::Avx512, x)
                }
                fn s5(x: &mut [f32]) {
                    sigmoid_f32_on(Isa::Avx512, x)
                }
                fn t5(x: &mut [f32]) {
                    tanh_f32_on(Isa::Avx512, x)
                }
                let k: [Kernel; 3] = if isa == Isa::Avx2 { [e, s, t] } else { [e5, s5, t5] };
                v.push((isa.name(), k[self as usize]));
            }
            if !Isa::Avx2.is_supported() {
                eprintln!("note: no AVX2+FMA here; SIMD path not tested");
            }
            if !Isa::Avx512.is_supported() {
                eprintln!("note: no AVX-512 here; AVX-512 path not tested");
            }
            v
        }
    }

    /// Maps f32 bit patterns onto a line where adjacent floats differ by 1.
    fn ordinal(x: f32) -> i64 {
        let b = x.to_bits();
        if b >> 31 != 0 {
            -((b & 0x7fff_ffff) as i64)
        } else {
            b as i64
        }
    }

    fn ulp_dist(got: f32, want: f32) -> u64 {
        match (got.is_nan(), want.is_nan()) {
            (true, true) => 0,
            (false, false) => (ordinal(got) - ordinal(want)).unsigned_abs(),
            _ => u64::MAX,
        }
    }

    /// Max ulp error of `k` over `xs` and the input where it occurs.
    fn max_err(f: Func, k: Kernel, xs: &[f32]) -> (u64, f32) {
        let mut y = xs.to_vec();
        k(&mut y);
        let mut worst = (0, 0.0);
        for (&x, &y) in xs.iter().zip(&y) {
            let d = ulp_dist(y, f.reference(x));
            if d > worst.0 {
                worst = (d, x);
            }
        }
        worst
    }

    fn check_all(what: &str, xs: &[f32]) {
        for f in FUNCS {
            for (name, k) in f.paths() {
                let (d, x) = max_err(f, k, xs);
                assert!(
                    d <= f.bound(),
                    "{what}: {f:?}/{name}: {d} ulp at x = {x:e} (got {}, want {})",
                    {
                        let mut v = [x];
                        k(&mut v);
                        v[0]
                    },
                    f.reference(x)
                );
            }
        }
    }

    /// `n` consecutive floats on each side of `x`.
    fn around(x: f32, n: i32) -> Vec<f32> {
        (-n..=n).map(|k| f32::from_bits((x.to_bits() as i32 + k) as u32)).collect()
    }

    /// Deterministic pseudo-random bit patterns (xorshift), no dependencies.
    fn random_bits(n: usize, mut s: u64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                f32::from_bits(s as u32)
            })
            .collect()
    }

    #[test]
    fn dense_grid() {
        let xs: Vec<f32> = (-20 * 8192..=20 * 8192).map(|i| i as f32 / 8192.0).collect();
        check_all("grid [-20, 20]", &xs);
    }

    #[test]
    fn random_bit_patterns() {
        check_all("random bits", &random_bits(1 << 20, 0x9E37_79B9_7F4A_7C15));
    }

    #[test]
    fn tiny_and_subnormal() {
        let mut xs = Vec::new();
        for e in -30..=-3 {
            for m in [1.0f32, 1.234_567, 3.0, 5.5, 7.777_77, 9.999_99] {
                let v = m * 10f32.powi(e);
                xs.extend([v, -v]);
            }
        }
        for b in (1u32..0x0080_0000).step_by(997).chain([1, 2, 3, 0x007f_ffff]) {
            let v = f32::from_bits(b);
            xs.extend([v, -v]);
        }
        xs.extend([f32::MIN_POSITIVE, -f32::MIN_POSITIVE, f32::EPSILON, -f32::EPSILON]);
        check_all("tiny", &xs);
        // tanh(x) = x exactly for tiny x (|x| < 2^-12 or so).
        for (_, k) in Func::Tanh.paths() {
            let mut y = xs.clone();
            k(&mut y);
            for (&x, &y) in xs.iter().zip(&y) {
                if x.abs() < 1e-5 {
                    assert_eq!(x.to_bits(), y.to_bits(), "tanh({x:e})");
                }
            }
        }
    }

    #[test]
    fn thresholds() {
        let mut xs = Vec::new();
        for t in [
            TANH_SMALL, // tanh branch switch
            9.0,        // tanh saturates to 1
            9.1,
            16.6, // sigmoid saturates to 1
            17.4,
            87.33, // exp/sigmoid enter the subnormals
            -87.33,
            -103.28,
            -103.97, // exp underflows to 0
            EXP_LO,
            88.72, // exp overflows
            EXP_HI,
            0.5 * std::f32::consts::LN_2, // exp range-reduction boundary
            1e4,
            f32::MAX,
        ] {
            for v in around(t, 2000) {
                xs.extend([v, -v]);
            }
        }
        check_all("thresholds", &xs);
    }

    #[test]
    fn special_values() {
        let cases: &[(f32, [f32; 3])] = &[
            // x, [exp, sigmoid, tanh]
            (f32::INFINITY, [f32::INFINITY, 1.0, 1.0]),
            (f32::NEG_INFINITY, [0.0, 0.0, -1.0]),
            (0.0, [1.0, 0.5, 0.0]),
            (-0.0, [1.0, 0.5, -0.0]),
            (f32::MAX, [f32::INFINITY, 1.0, 1.0]),
            (f32::MIN, [0.0, 0.0, -1.0]),
            (30.0, [30f32.exp(), 1.0, 1.0]),
            (-30.0, [(-30f32).exp(), (-30f32).exp(), -1.0]),
            (200.0, [f32::INFINITY, 1.0, 1.0]),
            (-200.0, [0.0, 0.0, -1.0]),
        ];
        for (i, f) in FUNCS.into_iter().enumerate() {
            for (name, k) in f.paths() {
                for &(x, want) in cases {
                    let mut v = [x];
                    k(&mut v);
                    let ok = if f32::is_finite(want[i]) && want[i] != 0.0 && x.abs() == 30.0 {
                        ulp_dist(v[0], want[i]) <= f.bound()
                    } else {
                        v[0].to_bits() == want[i].to_bits()
                    };
                    assert!(ok, "{f:?}/{name}({x:e}) = {:e}, want {:e}", v[0], want[i]);
                }
                for nan in [f32::NAN, -f32::NAN, f32::from_bits(0x7f80_0001)] {
                    let mut v = [nan; 9];
                    k(&mut v);
                    assert!(v.iter().all(|y| y.is_nan()), "{f:?}/{name}(NaN) = {v:?}");
                }
            }
        }
    }

    /// Lengths 0..=37 cover every tail length; each element must equal the
    /// same kernel applied to it alone, and nothing outside the slice changes.
    #[test]
    fn tails() {
        for f in FUNCS {
            for (name, k) in f.paths() {
                for len in 0..=37usize {
                    let src: Vec<f32> = (0..len).map(|i| (i as f32 - 18.3) * 0.77).collect();
                    let mut buf = vec![f32::from_bits(0xDEAD_BEEF); len + 16];
                    buf[8..8 + len].copy_from_slice(&src);
                    k(&mut buf[8..8 + len]);
                    for (i, &x) in src.iter().enumerate() {
                        let mut one = [x];
                        k(&mut one);
                        let y = buf[8 + i];
                        assert_eq!(y.to_bits(), one[0].to_bits(), "{f:?}/{name} len {len} i {i}");
                        assert!(ulp_dist(y, f.reference(x)) <= f.bound());
                    }
                    for j in (0..8).chain(8 + len..len + 16) {
                        assert_eq!(buf[j].to_bits(), 0xDEAD_BEEF, "{f:?}/{name} len {len}");
                    }
                }
            }
        }
    }

    #[test]
    fn simd_and_scalar_agree() {
        let mut xs: Vec<f32> = (-40_000..=40_000).map(|i| i as f32 / 1000.0).collect();
        xs.extend(random_bits(1 << 16, 12345));
        for f in FUNCS {
            let paths = f.paths();
            let mut base = xs.clone();
            (paths[1].1)(&mut base); // scalar
            for (name, k) in &paths {
                let mut y = xs.clone();
                k(&mut y);
                for ((&x, &a), &b) in xs.iter().zip(&y).zip(&base) {
                    assert!(ulp_dist(a, b) <= MAX_ULP, "{f:?}/{name} vs scalar at {x:e}: {a:e} vs {b:e}");
                }
            }
        }
    }

    /// AVX-512 runs the AVX2 operations on wider vectors: the same bits.
    #[test]
    fn avx512_equals_avx2_bit_for_bit() {
        if !Isa::Avx512.is_supported() {
            eprintln!("note: no AVX-512 here; AVX-512 activations not tested");
            return;
        }
        let mut xs: Vec<f32> = (-40_000..=40_000).map(|i| i as f32 / 1000.0).collect();
        xs.extend(random_bits(1 << 16, 777));
        xs.push(1.5); // an odd length: the masked tail too
        let funcs: [fn(Isa, &mut [f32]); 3] = [exp_f32_on, sigmoid_f32_on, tanh_f32_on];
        for f in funcs {
            let (mut a, mut b) = (xs.clone(), xs.clone());
            f(Isa::Avx2, &mut a);
            f(Isa::Avx512, &mut b);
            for ((x, a), b) in xs.iter().zip(&a).zip(&b) {
                assert_eq!(a.to_bits(), b.to_bits(), "at {x:e}");
            }
        }
    }

    #[test]
    fn sigmoid_symmetry() {
        let xs: Vec<f32> = (-30_000..=30_000).map(|i| i as f32 / 1000.0).collect();
        let neg: Vec<f32> = xs.iter().map(|x| -x).collect();
        for (name, k) in Func::Sigmoid.paths() {
            let (mut a, mut b) = (xs.clone(), neg.clone());
            k(&mut a);
            k(&mut b);
            for ((x, a), b) in xs.iter().zip(&a).zip(&b) {
                let s = *a as f64 + *b as f64;
                assert!((s - 1.0).abs() <= 2.0 * f32::EPSILON as f64, "{name}: x = {x}: {s}");
            }
        }
    }

    #[test]
    fn f64_kernels() {
        let xs: Vec<f64> =
            (-8000..=8000).map(|i| i as f64 / 100.0).chain([1e-300, -1e-300, 5e-324, 0.0, -0.0, 700.0, -745.0, 1e308, -1e308]).collect();
        let mut s = xs.clone();
        let mut t = xs.clone();
        sigmoid_f64(&mut s);
        tanh_f64(&mut t);
        for ((&x, &s), &t) in xs.iter().zip(&s).zip(&t) {
            let want = 1.0 / (1.0 + (-x).exp());
            assert!((s - want).abs() <= 1e-15 * want.max(1e-300), "sigmoid({x}) = {s}, want {want}");
            assert!((0.0..=1.0).contains(&s));
            assert_eq!(t, x.tanh());
        }
        assert_eq!(t[xs.len() - 5].to_bits(), (-0.0f64).to_bits()); // tanh(-0.0)
        let mut sp = [f64::INFINITY, f64::NEG_INFINITY, f64::NAN];
        let mut tp = sp;
        sigmoid_f64(&mut sp);
        tanh_f64(&mut tp);
        assert_eq!(&sp[..2], &[1.0, 0.0]);
        assert_eq!(&tp[..2], &[1.0, -1.0]);
        assert!(sp[2].is_nan() && tp[2].is_nan());
        sigmoid_f64(&mut []);
        tanh_f64(&mut []);
    }

    /// Every f32 bit pattern through every path; prints the max ulp error.
    /// `cargo test --release -- --ignored exhaustive --nocapture` (minutes).
    #[test]
    #[ignore]
    fn exhaustive() {
        const CHUNK: u64 = 1 << 16;
        for f in FUNCS {
            for (name, k) in f.paths().into_iter().filter(|p| p.0 != "dispatch") {
                let mut worst = (0u64, 0.0f32);
                let mut buf = vec![0f32; CHUNK as usize];
                let mut x = vec![0f32; CHUNK as usize];
                for c in (0..1u64 << 32).step_by(CHUNK as usize) {
                    for (i, v) in x.iter_mut().enumerate() {
                        *v = f32::from_bits((c + i as u64) as u32);
                    }
                    buf.copy_from_slice(&x);
                    k(&mut buf);
                    for (&x, &y) in x.iter().zip(&buf) {
                        let d = ulp_dist(y, f.reference(x));
                        if d > worst.0 {
                            worst = (d, x);
                        }
                    }
                }
                println!("{f:?}/{name}: max {} ulp at x = {:e}", worst.0, worst.1);
                assert!(worst.0 <= f.bound());
            }
        }
    }

    /// Throughput at the LSTM-gate slice length of 256.
    /// `cargo test --release -- --ignored bench --nocapture`
    #[test]
    #[ignore]
    fn bench() {
        use std::hint::black_box;
        use std::time::Instant;
        const LEN: usize = 256;
        const REPS: usize = 200_000;
        let src: Vec<f32> = (0..LEN).map(|i| (i as f32 - 128.0) / 16.0).collect();
        let mut buf = src.clone();
        let libm_sigmoid: Kernel = |x| x.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp()));
        let libm_tanh: Kernel = |x| x.iter_mut().for_each(|v| *v = v.tanh());
        let mut rows: Vec<(String, Kernel)> = Vec::new();
        for f in FUNCS {
            for (name, k) in f.paths() {
                rows.push((format!("{f:?}/{name}"), k));
            }
        }
        rows.push(("copy only".into(), |x| {
            black_box(x);
        }));
        rows.push(("Sigmoid/std-libm".into(), libm_sigmoid));
        rows.push(("Tanh/std-libm".into(), libm_tanh));
        for (name, k) in rows {
            let mut best = f64::INFINITY;
            for _ in 0..5 {
                let t = Instant::now();
                for _ in 0..REPS {
                    buf.copy_from_slice(&src); // keeps inputs in range; ~negligible
                    k(black_box(&mut buf));
                }
                best = best.min(t.elapsed().as_nanos() as f64);
            }
            let per = (REPS * LEN) as f64 / best;
            println!("{name:>20}: {per:6.2} elem/ns  ({:.1} ns per 256-slice)", best / REPS as f64);
        }
    }
}
