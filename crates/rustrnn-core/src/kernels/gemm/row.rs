//! The one-row product `c (+)= a·B̃` against packed panels: the batch-1
//! recurrent step (`h·W_hhᵀ` forward, `dG·W_hh` backward), where the general
//! kernel's tile is one row tall and pays a broadcast of `a[k]` for every two
//! multiply-adds.
//!
//! Here up to [`STREAMS`] panels are read side by side, each linearly over
//! the whole depth: one broadcast of `a[k]` feeds `2·STREAMS` multiply-adds,
//! and those are as many independent accumulator chains, enough to keep both
//! FMA pipes busy while the panels stream in from L2. At batch 1 the step is
//! bound by reading the weights (1 MiB at H = 256 LSTM, the size of Zen 4's
//! L2), so nothing is packed or copied and nothing is reread.
//!
//! Consecutive products on a thread sweep their panels in alternating
//! directions: a recurrent step then starts with the panels the previous step
//! (on this thread) read last, which are still in L2, instead of with the
//! ones evicted longest ago. At H = 256 LSTM this saves about 15% of the
//! forward (measured on Zen 4, CPU time, min of 40 calls).
//!
//! Every output is summed over k in one fixed order (`acc = a[k]·b[k] + acc`,
//! k ascending, one rounding each), then added to C once: which panels are
//! grouped together, and so how a step is split between threads, never
//! changes a result.

use super::pack::PackedB;
use crate::kernels::isa::Isa;

/// Panels read at once: 8 accumulators (of 2 vectors per panel) fit AVX2's
/// 16 registers with the broadcast and loads; an LSTM unit block's 4 gates.
pub const STREAMS: usize = 4;

thread_local! {
    /// Whether this thread's next product sweeps its panels last to first.
    static SWEEP_BACKWARDS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `C[:, place(p)] (+)= a · B[:, panel p]` for every panel `p` of `panels`,
/// `a` a row of `b.k()` contiguous values. Returns `false` (and does nothing)
/// on the portable path, which the caller's general loop handles.
///
/// # Safety
/// `a` points to `b.k()` values; for every panel `p`, `place(p) = (col0, n)`
/// with `n <= nr` names `n` writable values at `c + col0` that no other
/// thread accesses during the call.
pub(super) unsafe fn product<F: super::GemmElem + num_traits::Zero>(
    a: *const F,
    b: &PackedB<F>,
    panels: std::ops::Range<usize>,
    accumulate: bool,
    c: *mut F,
    place: impl Fn(usize) -> (usize, usize),
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::any::TypeId;
        let isa = b.isa();
        if isa < Isa::Avx2 {
            return false;
        }
        let k = b.k();
        let groups = panels.len().div_ceil(STREAMS);
        let backwards = SWEEP_BACKWARDS.with(|f| f.replace(!f.get()));
        for gi in 0..groups {
            let gi = if backwards { groups - 1 - gi } else { gi };
            let start = panels.start + gi * STREAMS;
            let s = STREAMS.min(panels.end - start);
            let group: [Stream<F>; STREAMS] = std::array::from_fn(|i| {
                let p = start + i.min(s - 1);
                let (col0, n) = place(p);
                Stream { b: b.block_ptr(p, 0), c: c.add(col0), n }
            });
            // SAFETY: the casts are identities (F is the type checked); the
            // CPU has the features of the path the panels were packed for.
            if TypeId::of::<F>() == TypeId::of::<f32>() {
                let g: &[Stream<f32>; STREAMS] = &*(&group as *const _ as *const [Stream<f32>; STREAMS]);
                if isa == Isa::Avx512 {
                    x86::f32_avx512(s, k, a as *const f32, g, accumulate);
                } else {
                    x86::f32_avx2(s, k, a as *const f32, g, accumulate);
                }
            } else if TypeId::of::<F>() == TypeId::of::<f64>() {
                let g: &[Stream<f64>; STREAMS] = &*(&group as *const _ as *const [Stream<f64>; STREAMS]);
                if isa == Isa::Avx512 {
                    x86::f64_avx512(s, k, a as *const f64, g, accumulate);
                } else {
                    x86::f64_avx2(s, k, a as *const f64, g, accumulate);
                }
            } else {
                return false;
            }
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (a, b, panels, accumulate, c, place);
        false
    }
}

/// One panel of a group: its packed values, where its columns of C start,
/// and how many of its `nr` columns are real.
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct Stream<F> {
    b: *const F,
    c: *mut F,
    n: usize,
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Stream, STREAMS};
    use crate::kernels::simd::Simd;
    use std::arch::x86_64::*;

    /// `S` panels of two vectors per k, over the whole depth `k`.
    #[inline(always)]
    unsafe fn panels<V: Simd, const S: usize>(k: usize, a: *const V::E, g: &[Stream<V::E>; STREAMS], accumulate: bool) {
        let lanes = V::LANES;
        let nr = 2 * lanes;
        let b: [*const V::E; S] = std::array::from_fn(|i| g[i].b);
        let mut lo = [V::zero(); S];
        let mut hi = [V::zero(); S];
        for kk in 0..k {
            let x = V::splat(*a.add(kk));
            for i in 0..S {
                let p = b[i].add(kk * nr);
                lo[i] = x.fmadd(V::load(p), lo[i]);
                hi[i] = x.fmadd(V::load(p.add(lanes)), hi[i]);
            }
        }
        for i in 0..S {
            let Stream { c, n, .. } = g[i];
            if n == nr {
                if accumulate {
                    lo[i] = V::load(c).add(lo[i]);
                    hi[i] = V::load(c.add(lanes)).add(hi[i]);
                }
                lo[i].store(c);
                hi[i].store(c.add(lanes));
            } else {
                let mut row = [V::E::default(); 32];
                lo[i].store(row.as_mut_ptr());
                hi[i].store(row.as_mut_ptr().add(lanes));
                for (j, &v) in row.iter().enumerate().take(n) {
                    *c.add(j) = if accumulate { *c.add(j) + v } else { v };
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn group<V: Simd>(s: usize, k: usize, a: *const V::E, g: &[Stream<V::E>; STREAMS], accumulate: bool) {
        match s {
            1 => panels::<V, 1>(k, a, g, accumulate),
            2 => panels::<V, 2>(k, a, g, accumulate),
            3 => panels::<V, 3>(k, a, g, accumulate),
            _ => panels::<V, 4>(k, a, g, accumulate),
        }
    }

    macro_rules! entry {
        ($name:ident, $t:ty, $v:ty, $features:literal) => {
            #[target_feature(enable = $features)]
            pub(super) unsafe fn $name(s: usize, k: usize, a: *const $t, g: &[Stream<$t>; STREAMS], accumulate: bool) {
                group::<$v>(s, k, a, g, accumulate)
            }
        };
    }
    entry!(f32_avx2, f32, __m256, "avx2,fma");
    entry!(f64_avx2, f64, __m256d, "avx2,fma");
    entry!(f32_avx512, f32, __m512, "avx512f,avx2,fma");
    entry!(f64_avx512, f64, __m512d, "avx512f,avx2,fma");
}

#[cfg(test)]
mod tests {
    use crate::kernels::gemm::tests::filled;
    use crate::kernels::gemm::{gemm_packed, GemmElem, PackedB, PackedGates};
    use crate::kernels::isa::{self, Isa};
    use ndarray::{s, Array2};

    /// One row against a plain sum, on every path, for panel counts that
    /// leave every group size (1 to 4) and a last panel that is not full.
    #[test]
    fn one_row_matches_a_plain_product_on_every_path() {
        for isa in isa::supported() {
            for &(k, panels) in &[(1, 1), (7, 2), (64, 3), (300, 5), (257, 9)] {
                let n = panels * f64::nr_for(isa) - 3;
                let (a, b) = (filled(1, k, 1), filled(k, n, 2));
                let c0 = filled(1, n, 3);
                let want = a.dot(&b);
                let packed = PackedB::new_on(isa, b.view());
                let packed32 = PackedB::new_on(isa, b.mapv(|v| v as f32).view());
                for accumulate in [false, true] {
                    let mut c = c0.clone();
                    gemm_packed(a.view(), &packed, 0..packed.panels(), accumulate, c.view_mut());
                    let mut c32 = c0.mapv(|v| v as f32);
                    gemm_packed(a.mapv(|v| v as f32).view(), &packed32, 0..packed32.panels(), accumulate, c32.view_mut());
                    let base = if accumulate { &want + &c0 } else { want.clone() };
                    let err = (&c - &base).iter().fold(0.0f64, |e, v| e.max(v.abs()));
                    assert!(err < 1e-12, "{isa} k {k} n {n} acc {accumulate}: f64 err {err}");
                    let err = (&c32.mapv(f64::from) - &base).iter().fold(0.0f64, |e, v| e.max(v.abs()));
                    assert!(err < 1e-4, "{isa} k {k} n {n} acc {accumulate}: f32 err {err}");
                }
            }
        }
    }

    /// How the panels are split (between threads) and in which direction a
    /// sweep goes never changes a bit of the result.
    #[test]
    fn one_row_is_identical_for_any_split_and_sweep() {
        for isa in isa::supported().into_iter().filter(|&i| i != Isa::Portable) {
            let nr = f32::nr_for(isa);
            let (k, n) = (129, 11 * nr);
            let a = filled(1, k, 4).mapv(|v| v as f32);
            let packed = PackedB::new_on(isa, filled(k, n, 5).mapv(|v| v as f32).view());
            let mut whole = Array2::<f32>::zeros((1, n));
            gemm_packed(a.view(), &packed, 0..11, false, whole.view_mut());
            for cut in [1, 3, 4, 5, 10] {
                for _sweep in 0..2 {
                    let mut c = Array2::<f32>::from_elem((1, n), f32::NAN);
                    gemm_packed(a.view(), &packed, 0..cut, false, c.slice_mut(s![.., ..cut * nr]));
                    gemm_packed(a.view(), &packed, cut..11, false, c.slice_mut(s![.., cut * nr..]));
                    assert_eq!(c, whole, "{isa}: panels split at {cut}");
                }
            }
        }
    }

    /// The batch-1 recurrent step (`PackedGates::product` with one row)
    /// puts each gate where the general product does.
    #[test]
    fn one_row_gate_product_matches_the_plain_product() {
        // PackedGates packs for the active path (RUSTRNN_ISA picks it).
        {
            let isa = isa::active();
            let nr = f64::nr();
            let (g, h) = (4, 2 * nr + 5);
            let w = filled(g * h, h, 6);
            let x = filled(1, h, 7);
            let full = x.dot(&w.t()); // (1 × G·H), PyTorch's gate order
            let packed = PackedGates::new(w.view(), g);
            let units = 1..packed.unit_panels();
            let u = units.len() * nr;
            let mut c = Array2::<f64>::from_elem((1, g * u), f64::NAN);
            packed.product(x.view(), units.clone(), c.view_mut());
            for gate in 0..g {
                for j in 0..u {
                    let unit = units.start * nr + j;
                    let want = if unit < h { full[[0, gate * h + unit]] } else { 0.0 };
                    assert!((c[[0, gate * u + j]] - want).abs() < 1e-12, "{isa} gate {gate} unit {unit}");
                }
            }
        }
    }
}
