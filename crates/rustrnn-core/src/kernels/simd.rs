//! 256-bit (AVX2 + FMA) and 512-bit (AVX-512F) vectors behind one trait, so
//! that the AVX2 and AVX-512 kernels are one generic source: the algorithm
//! tested on an AVX2 machine is the one an AVX-512 machine runs, only wider.
//!
//! Every method is `#[inline(always)]` and only ever called, after inlining,
//! from a function compiled with the matching `#[target_feature]` (the
//! entry points in `gemm`, `gemv`, `activations`); that is the safety
//! contract of the whole module.

#![allow(clippy::missing_safety_doc)] // one contract for the module, above

use std::arch::x86_64::*;

/// A vector of `LANES` floats of type `E`.
pub(crate) trait Simd: Copy {
    type E: Copy + Default + std::ops::Add<Output = Self::E> + std::ops::AddAssign + std::ops::Mul<Output = Self::E>;
    const LANES: usize;
    unsafe fn zero() -> Self;
    unsafe fn splat(v: Self::E) -> Self;
    unsafe fn load(p: *const Self::E) -> Self;
    unsafe fn store(self, p: *mut Self::E);
    /// `self · b + c`, rounded once.
    unsafe fn fmadd(self, b: Self, c: Self) -> Self;
    unsafe fn add(self, b: Self) -> Self;
    /// The sum of the lanes (a fixed pairwise order).
    unsafe fn sum(self) -> Self::E;
}

/// The extra operations of the f32 activations.
pub(crate) trait SimdF32: Simd<E = f32> {
    unsafe fn sub(self, b: Self) -> Self;
    unsafe fn mul(self, b: Self) -> Self;
    unsafe fn div(self, b: Self) -> Self;
    /// `c - self · b`, rounded once.
    unsafe fn fnmadd(self, b: Self, c: Self) -> Self;
    /// `max(lo, self)` as x86's `max`: `self` when it is NaN.
    unsafe fn max_of(lo: Self, x: Self) -> Self;
    /// `min(hi, self)` likewise.
    unsafe fn min_of(hi: Self, x: Self) -> Self;
    /// `self` with its sign bit set (`-|self|`, NaN included).
    unsafe fn neg_abs(self) -> Self;
    /// `|self|`.
    unsafe fn abs(self) -> Self;
    /// `self` with the sign bit of `x` or-ed in.
    unsafe fn or_sign_of(self, x: Self) -> Self;
    /// Per lane: `if_set` where `x`'s sign bit is set, else `if_clear`.
    unsafe fn select_sign(x: Self, if_set: Self, if_clear: Self) -> Self;
    /// Per lane: `if_lt` where `a < b` (ordered: NaN is not less), else `other`.
    unsafe fn select_lt(a: Self, b: Self, if_lt: Self, other: Self) -> Self;
    /// From `t = x·log2e + 1.5·2^23` (the integer n in t's low mantissa
    /// bits): the normal floats `2^(n>>1)` and `2^(n - (n>>1))`.
    unsafe fn exp2_halves(t: Self, magic_bits: i32) -> (Self, Self);
    /// The first `n < LANES` values (others zero), and their masked store.
    unsafe fn load_first(p: *const f32, n: usize) -> Self;
    unsafe fn store_first(self, p: *mut f32, n: usize);
}

macro_rules! simd_common {
    ($v:ty, $e:ty, $lanes:expr, $zero:ident, $set1:ident, $load:ident, $store:ident, $fma:ident, $add:ident) => {
        #[inline(always)]
        unsafe fn zero() -> Self {
            $zero()
        }
        #[inline(always)]
        unsafe fn splat(v: $e) -> Self {
            $set1(v)
        }
        #[inline(always)]
        unsafe fn load(p: *const $e) -> Self {
            $load(p)
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut $e) {
            $store(p, self)
        }
        #[inline(always)]
        unsafe fn fmadd(self, b: Self, c: Self) -> Self {
            $fma(self, b, c)
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            $add(self, b)
        }
        #[inline(always)]
        unsafe fn sum(self) -> $e {
            // Halve the vector until one lane is left: the same order on any width.
            let mut lanes = [<$e>::default(); $lanes];
            $store(lanes.as_mut_ptr(), self);
            let mut width = $lanes;
            while width > 1 {
                width /= 2;
                for i in 0..width {
                    lanes[i] += lanes[i + width];
                }
            }
            lanes[0]
        }
    };
}

impl Simd for __m256 {
    type E = f32;
    const LANES: usize = 8;
    simd_common!(__m256, f32, 8, _mm256_setzero_ps, _mm256_set1_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_fmadd_ps, _mm256_add_ps);
}

impl Simd for __m256d {
    type E = f64;
    const LANES: usize = 4;
    simd_common!(__m256d, f64, 4, _mm256_setzero_pd, _mm256_set1_pd, _mm256_loadu_pd, _mm256_storeu_pd, _mm256_fmadd_pd, _mm256_add_pd);
}

impl Simd for __m512 {
    type E = f32;
    const LANES: usize = 16;
    simd_common!(__m512, f32, 16, _mm512_setzero_ps, _mm512_set1_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_fmadd_ps, _mm512_add_ps);
}

impl Simd for __m512d {
    type E = f64;
    const LANES: usize = 8;
    simd_common!(__m512d, f64, 8, _mm512_setzero_pd, _mm512_set1_pd, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_fmadd_pd, _mm512_add_pd);
}

impl SimdF32 for __m256 {
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        _mm256_sub_ps(self, b)
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        _mm256_mul_ps(self, b)
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        _mm256_div_ps(self, b)
    }
    #[inline(always)]
    unsafe fn fnmadd(self, b: Self, c: Self) -> Self {
        _mm256_fnmadd_ps(self, b, c)
    }
    #[inline(always)]
    unsafe fn max_of(lo: Self, x: Self) -> Self {
        _mm256_max_ps(lo, x)
    }
    #[inline(always)]
    unsafe fn min_of(hi: Self, x: Self) -> Self {
        _mm256_min_ps(hi, x)
    }
    #[inline(always)]
    unsafe fn neg_abs(self) -> Self {
        _mm256_or_ps(self, _mm256_set1_ps(-0.0))
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        _mm256_andnot_ps(_mm256_set1_ps(-0.0), self)
    }
    #[inline(always)]
    unsafe fn or_sign_of(self, x: Self) -> Self {
        _mm256_or_ps(self, _mm256_and_ps(x, _mm256_set1_ps(-0.0)))
    }
    #[inline(always)]
    unsafe fn select_sign(x: Self, if_set: Self, if_clear: Self) -> Self {
        _mm256_blendv_ps(if_clear, if_set, x)
    }
    #[inline(always)]
    unsafe fn select_lt(a: Self, b: Self, if_lt: Self, other: Self) -> Self {
        _mm256_blendv_ps(other, if_lt, _mm256_cmp_ps::<_CMP_LT_OQ>(a, b))
    }
    #[inline(always)]
    unsafe fn exp2_halves(t: Self, magic_bits: i32) -> (Self, Self) {
        let ni = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(magic_bits));
        let n1 = _mm256_srai_epi32::<1>(ni);
        let n2 = _mm256_sub_epi32(ni, n1);
        let bias = _mm256_set1_epi32(127);
        let s1 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n1, bias)));
        let s2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n2, bias)));
        (s1, s2)
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> Self {
        _mm256_maskload_ps(p, mask8(n))
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        _mm256_maskstore_ps(p, mask8(n), self)
    }
}

#[inline(always)]
unsafe fn mask8(n: usize) -> __m256i {
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
}

impl SimdF32 for __m512 {
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        _mm512_sub_ps(self, b)
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        _mm512_mul_ps(self, b)
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        _mm512_div_ps(self, b)
    }
    #[inline(always)]
    unsafe fn fnmadd(self, b: Self, c: Self) -> Self {
        _mm512_fnmadd_ps(self, b, c)
    }
    #[inline(always)]
    unsafe fn max_of(lo: Self, x: Self) -> Self {
        _mm512_max_ps(lo, x)
    }
    #[inline(always)]
    unsafe fn min_of(hi: Self, x: Self) -> Self {
        _mm512_min_ps(hi, x)
    }
    // AVX-512F has the bitwise operations on integers only (the float forms
    // need AVX-512DQ): cast, operate, cast back.
    #[inline(always)]
    unsafe fn neg_abs(self) -> Self {
        _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(self), sign512()))
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        _mm512_castsi512_ps(_mm512_andnot_si512(sign512(), _mm512_castps_si512(self)))
    }
    #[inline(always)]
    unsafe fn or_sign_of(self, x: Self) -> Self {
        let s = _mm512_and_si512(_mm512_castps_si512(x), sign512());
        _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(self), s))
    }
    #[inline(always)]
    unsafe fn select_sign(x: Self, if_set: Self, if_clear: Self) -> Self {
        let set = _mm512_test_epi32_mask(_mm512_castps_si512(x), sign512());
        _mm512_mask_blend_ps(set, if_clear, if_set)
    }
    #[inline(always)]
    unsafe fn select_lt(a: Self, b: Self, if_lt: Self, other: Self) -> Self {
        _mm512_mask_blend_ps(_mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b), other, if_lt)
    }
    #[inline(always)]
    unsafe fn exp2_halves(t: Self, magic_bits: i32) -> (Self, Self) {
        let ni = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(magic_bits));
        let n1 = _mm512_srai_epi32::<1>(ni);
        let n2 = _mm512_sub_epi32(ni, n1);
        let bias = _mm512_set1_epi32(127);
        let s1 = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(n1, bias)));
        let s2 = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(n2, bias)));
        (s1, s2)
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> Self {
        _mm512_maskz_loadu_ps(mask16(n), p)
    }
    #[inline(always)]
    unsafe fn store_first(self, p: *mut f32, n: usize) {
        _mm512_mask_storeu_ps(p, mask16(n), self)
    }
}

#[inline(always)]
unsafe fn sign512() -> __m512i {
    _mm512_set1_epi32(i32::MIN)
}

#[inline(always)]
fn mask16(n: usize) -> __mmask16 {
    ((1u32 << n) - 1) as __mmask16
}
