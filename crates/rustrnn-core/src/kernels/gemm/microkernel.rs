//! The register-blocked inner kernels of the GEMM.
//!
//! A kernel computes one tile `C[0..m, 0..NR] (+)= Ã · B̃` where `Ã` is a packed
//! `kc × m` block of A (for each k, the `m` row values side by side) and `B̃` a
//! packed `kc × NR` panel of B (for each k, `NR` column values). The tile stays
//! in registers for the whole `kc` loop: with m = 6 and NR = 2 vectors that is
//! 12 accumulators, enough independent FMA chains to keep both FMA pipes busy.
//!
//! x86_64 with AVX2+FMA gets hand-written kernels (chosen at run time; on Zen 4
//! AVX-512 has the same FMA throughput, so AVX2 is already at peak); every other
//! CPU gets a portable kernel of the same shape.

use crate::kernels::isa::{self, Isa};

/// Rows of C per kernel call.
pub const MR: usize = 6;

/// Where a kernel reads its `m × kc` block of A: element (i, k) at
/// `ptr + i·rs + k·cs`. Packed blocks have `rs = 1, cs = m`; a row-major A
/// read in place (no packing) has `rs = lda, cs = 1`.
#[derive(Clone, Copy)]
pub struct ATile<F> {
    pub ptr: *const F,
    pub rs: usize,
    pub cs: usize,
}

impl<F: Copy> ATile<F> {
    /// # Safety
    /// (i, k) must lie inside the block.
    #[inline(always)]
    unsafe fn at(&self, i: usize, k: usize) -> F {
        *self.ptr.add(i * self.rs + k * self.cs)
    }
}

/// The element-specific part of the GEMM: tile widths and the kernel.
pub trait GemmElem: Copy + Send + Sync + 'static {
    /// Columns of C per kernel call.
    const NR: usize;
    /// Depth of one packed block, sized so a B panel block stays in L1.
    const KC: usize;
    /// Rows of A packed at once, sized so the packed block stays in L2.
    const MC: usize;

    /// `C[0..m, 0..n] = (accumulate ? C : 0) + A·B̃` for `m <= MR`, `n <= NR`.
    ///
    /// # Safety
    /// `a` addresses an `m × kc` block, `b` points to `kc * NR` packed
    /// values, and `c` to a row-major tile with row stride `ldc` holding at
    /// least `m` rows of `n`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    unsafe fn kernel(m: usize, n: usize, kc: usize, a: ATile<Self>, b: *const Self, c: *mut Self, ldc: usize, accumulate: bool) {
        Self::kernel_on(isa::active(), m, n, kc, a, b, c, ldc, accumulate)
    }

    /// [`GemmElem::kernel`] on a given path.
    ///
    /// # Safety
    /// As for `kernel`, and the CPU must support `isa`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel_on(isa: Isa, m: usize, n: usize, kc: usize, a: ATile<Self>, b: *const Self, c: *mut Self, ldc: usize, accumulate: bool);
}

/// Portable kernel: the same tiling, written so the compiler can vectorise it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_portable<F, const NR: usize>(
    m: usize,
    n: usize,
    kc: usize,
    a: ATile<F>,
    b: *const F,
    c: *mut F,
    ldc: usize,
    accumulate: bool,
) where
    F: Copy + Default + std::ops::Add<Output = F> + std::ops::Mul<Output = F>,
{
    let mut acc = [[F::default(); NR]; MR];
    for kk in 0..kc {
        let bk = std::slice::from_raw_parts(b.add(kk * NR), NR);
        for (i, row) in acc.iter_mut().enumerate().take(m) {
            let av = a.at(i, kk);
            for (r, &bv) in row.iter_mut().zip(bk) {
                *r = *r + av * bv;
            }
        }
    }
    store_tile(&acc[..m], n, c, ldc, accumulate);
}

#[inline(always)]
unsafe fn store_tile<F, const NR: usize>(acc: &[[F; NR]], n: usize, c: *mut F, ldc: usize, accumulate: bool)
where
    F: Copy + std::ops::Add<Output = F>,
{
    for (i, row) in acc.iter().enumerate() {
        let cr = c.add(i * ldc);
        for (j, &v) in row.iter().enumerate().take(n) {
            *cr.add(j) = if accumulate { *cr.add(j) + v } else { v };
        }
    }
}

impl GemmElem for f32 {
    const NR: usize = 16;
    const KC: usize = 256;
    const MC: usize = 120;

    #[inline]
    unsafe fn kernel_on(isa: Isa, m: usize, n: usize, kc: usize, a: ATile<f32>, b: *const f32, c: *mut f32, ldc: usize, accumulate: bool) {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => x86::kernel_f32(m, n, kc, a, b, c, ldc, accumulate),
            _ => kernel_portable::<f32, 16>(m, n, kc, a, b, c, ldc, accumulate),
        }
    }
}

impl GemmElem for f64 {
    const NR: usize = 8;
    const KC: usize = 192;
    const MC: usize = 96;

    #[inline]
    unsafe fn kernel_on(isa: Isa, m: usize, n: usize, kc: usize, a: ATile<f64>, b: *const f64, c: *mut f64, ldc: usize, accumulate: bool) {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::Avx512 => x86::kernel_f64(m, n, kc, a, b, c, ldc, accumulate),
            _ => kernel_portable::<f64, 8>(m, n, kc, a, b, c, ldc, accumulate),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{store_tile, ATile, MR};
    use std::arch::x86_64::*;

    /// Expands to a kernel over `M` rows of two vectors each; `$split` makes
    /// the k loop use two sets of accumulators (even and odd k) so that small
    /// `M` still has enough independent FMA chains.
    macro_rules! avx2_kernel {
        ($name:ident, $t:ty, $v:ty, $lanes:expr, $zero:ident, $load:ident, $store:ident, $set1:ident, $fma:ident, $add:ident) => {
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn $name<const M: usize>(
                kc: usize,
                a: ATile<$t>,
                b: *const $t,
                c: *mut $t,
                ldc: usize,
                accumulate: bool,
                full: bool,
                n: usize,
            ) {
                const NR: usize = 2 * $lanes;
                // Start fetching the C tile now so that a cold tile (the big
                // all-steps products write C once) does not stall the stores.
                for i in 0..M {
                    _mm_prefetch::<_MM_HINT_T0>(c.add(i * ldc) as *const i8);
                    _mm_prefetch::<_MM_HINT_T0>(c.add(i * ldc + NR - 1) as *const i8);
                }
                let mut c0 = [$zero(); M];
                let mut c1 = [$zero(); M];
                let mut k = 0;
                if M <= 2 {
                    let mut d0 = [$zero(); M];
                    let mut d1 = [$zero(); M];
                    while k + 2 <= kc {
                        let (b0, b1) = ($load(b.add(k * NR)), $load(b.add(k * NR + $lanes)));
                        let (e0, e1) = ($load(b.add(k * NR + NR)), $load(b.add(k * NR + NR + $lanes)));
                        for i in 0..M {
                            let av = $set1(a.at(i, k));
                            c0[i] = $fma(av, b0, c0[i]);
                            c1[i] = $fma(av, b1, c1[i]);
                            let aw = $set1(a.at(i, k + 1));
                            d0[i] = $fma(aw, e0, d0[i]);
                            d1[i] = $fma(aw, e1, d1[i]);
                        }
                        k += 2;
                    }
                    for i in 0..M {
                        c0[i] = $add(c0[i], d0[i]);
                        c1[i] = $add(c1[i], d1[i]);
                    }
                }
                while k < kc {
                    let (b0, b1) = ($load(b.add(k * NR)), $load(b.add(k * NR + $lanes)));
                    for i in 0..M {
                        let av = $set1(a.at(i, k));
                        c0[i] = $fma(av, b0, c0[i]);
                        c1[i] = $fma(av, b1, c1[i]);
                    }
                    k += 1;
                }
                if full {
                    for i in 0..M {
                        let cr = c.add(i * ldc);
                        if accumulate {
                            c0[i] = $add(c0[i], $load(cr));
                            c1[i] = $add(c1[i], $load(cr.add($lanes)));
                        }
                        $store(cr, c0[i]);
                        $store(cr.add($lanes), c1[i]);
                    }
                } else {
                    let mut tile = [[0 as $t; NR]; M];
                    for i in 0..M {
                        $store(tile[i].as_mut_ptr(), c0[i]);
                        $store(tile[i].as_mut_ptr().add($lanes), c1[i]);
                    }
                    store_tile(&tile, n, c, ldc, accumulate);
                }
            }
        };
    }

    avx2_kernel!(
        tile_f32,
        f32,
        __m256,
        8,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps,
        _mm256_add_ps
    );
    avx2_kernel!(
        tile_f64,
        f64,
        __m256d,
        4,
        _mm256_setzero_pd,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_set1_pd,
        _mm256_fmadd_pd,
        _mm256_add_pd
    );

    macro_rules! dispatch {
        ($pub_name:ident, $tile:ident, $t:ty, $nr:expr) => {
            #[allow(clippy::too_many_arguments)]
            pub unsafe fn $pub_name(m: usize, n: usize, kc: usize, a: ATile<$t>, b: *const $t, c: *mut $t, ldc: usize, accumulate: bool) {
                let full = n == $nr;
                debug_assert!((1..=MR).contains(&m));
                match m {
                    1 => $tile::<1>(kc, a, b, c, ldc, accumulate, full, n),
                    2 => $tile::<2>(kc, a, b, c, ldc, accumulate, full, n),
                    3 => $tile::<3>(kc, a, b, c, ldc, accumulate, full, n),
                    4 => $tile::<4>(kc, a, b, c, ldc, accumulate, full, n),
                    5 => $tile::<5>(kc, a, b, c, ldc, accumulate, full, n),
                    _ => $tile::<6>(kc, a, b, c, ldc, accumulate, full, n),
                }
            }
        };
    }

    dispatch!(kernel_f32, tile_f32, f32, 16);
    dispatch!(kernel_f64, tile_f64, f64, 8);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (m, n) tile shape of every kernel path this CPU supports against
    /// a plain triple loop.
    fn check<F>(to: impl Fn(f64) -> F, back: impl Fn(F) -> f64, tol: f64)
    where
        F: GemmElem + Default + std::ops::Add<Output = F> + std::ops::Mul<Output = F>,
    {
        let nr = F::NR;
        for kc in [0usize, 1, 2, 3, 7, 64] {
            for m in 1..=MR {
                let a: Vec<F> = (0..kc * m).map(|v| to(((v * 7) % 11) as f64 * 0.1 - 0.5)).collect();
                let b: Vec<F> = (0..kc * nr).map(|v| to(((v * 5) % 13) as f64 * 0.1 - 0.6)).collect();
                for n in [1, nr / 2 + 1, nr] {
                    for accumulate in [false, true] {
                        for (isa, in_place) in isa::supported().into_iter().flat_map(|i| [(i, false), (i, true)]) {
                            // The same values, packed (k-major) or row-major with a padded row stride.
                            let lda = kc + 2;
                            let mut a_rows = vec![F::default(); m * lda];
                            for i in 0..m {
                                for k in 0..kc {
                                    a_rows[i * lda + k] = a[k * m + i];
                                }
                            }
                            let tile = if in_place {
                                ATile { ptr: a_rows.as_ptr(), rs: lda, cs: 1 }
                            } else {
                                ATile { ptr: a.as_ptr(), rs: 1, cs: m }
                            };
                            let ldc = nr + 3;
                            let mut c: Vec<F> = (0..m * ldc).map(|v| to(v as f64 * 0.01)).collect();
                            let before = c.clone();
                            unsafe { F::kernel_on(isa, m, n, kc, tile, b.as_ptr(), c.as_mut_ptr(), ldc, accumulate) }
                            for i in 0..m {
                                for j in 0..ldc {
                                    let got = back(c[i * ldc + j]);
                                    let old = back(before[i * ldc + j]);
                                    let want = if j < n {
                                        let dot: f64 = (0..kc).map(|k| back(a[k * m + i]) * back(b[k * nr + j])).sum();
                                        dot + if accumulate { old } else { 0.0 }
                                    } else {
                                        old // columns past n are never written
                                    };
                                    assert!(
                                        (got - want).abs() <= tol,
                                        "kc {kc} m {m} n {n} acc {accumulate} {isa} ({i},{j}): {got} vs {want}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn kernels_match_a_plain_product_for_every_tile_shape() {
        check::<f32>(|v| v as f32, |v| v as f64, 1e-4);
        check::<f64>(|v| v, |v| v, 1e-12);
    }
}
