//! The register-blocked inner kernels of the GEMM.
//!
//! A kernel computes one tile `C[0..m, 0..NR] (+)= Ã · B̃` where `Ã` is a packed
//! `kc × m` block of A (for each k, the `m` row values side by side) and `B̃` a
//! packed `kc × NR` panel of B (for each k, `NR` column values). The tile stays
//! in registers for the whole `kc` loop: with m = 6 and NR = 2 vectors that is
//! 12 accumulators, enough independent FMA chains to keep both FMA pipes busy.
//!
//! x86_64 gets hand-written kernels, one generic source for AVX2+FMA (tiles of
//! 6 × 2 vectors: 16 f32 / 8 f64 columns) and AVX-512 (the same tile on 512-bit
//! vectors: 32 f32 / 16 f64 columns, for cores with two 512-bit FMA units);
//! every other CPU, or `RUSTRNN_ISA=portable`, gets a portable kernel of the
//! AVX2 shape. The path (and with it the panel width `nr()`) is chosen once
//! per process by `kernels::isa`.

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
    /// Columns of C per kernel call on a path (the width of packed B panels).
    fn nr_for(isa: Isa) -> usize;

    /// Columns of C per kernel call on the path in use.
    #[inline]
    fn nr() -> usize {
        Self::nr_for(isa::active())
    }
    /// Depth of one packed block, sized so a B panel block stays in L1.
    const KC: usize;
    /// Rows of A packed at once, sized so the packed block stays in L2.
    const MC: usize;

    /// `C[0..m, 0..n] = (accumulate ? C : 0) + A·B̃` for `m <= MR`, `n <= NR`.
    ///
    /// # Safety
    /// `a` addresses an `m × kc` block, `b` points to `kc * nr()` packed
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
    unsafe fn kernel_on(
        isa: Isa,
        m: usize,
        n: usize,
        kc: usize,
        a: ATile<Self>,
        b: *const Self,
        c: *mut Self,
        ldc: usize,
        accumulate: bool,
    );
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
    #[inline]
    fn nr_for(isa: Isa) -> usize {
        if isa == Isa::Avx512 {
            32
        } else {
            16
        }
    }
    const KC: usize = 256;
    const MC: usize = 120;

    #[inline]
    unsafe fn kernel_on(isa: Isa, m: usize, n: usize, kc: usize, a: ATile<f32>, b: *const f32, c: *mut f32, ldc: usize, accumulate: bool) {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => x86::kernel_f32_avx2(m, n, kc, a, b, c, ldc, accumulate),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => x86::kernel_f32_avx512(m, n, kc, a, b, c, ldc, accumulate),
            _ => kernel_portable::<f32, 16>(m, n, kc, a, b, c, ldc, accumulate),
        }
    }
}

impl GemmElem for f64 {
    #[inline]
    fn nr_for(isa: Isa) -> usize {
        if isa == Isa::Avx512 {
            16
        } else {
            8
        }
    }
    const KC: usize = 192;
    const MC: usize = 96;

    #[inline]
    unsafe fn kernel_on(isa: Isa, m: usize, n: usize, kc: usize, a: ATile<f64>, b: *const f64, c: *mut f64, ldc: usize, accumulate: bool) {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => x86::kernel_f64_avx2(m, n, kc, a, b, c, ldc, accumulate),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => x86::kernel_f64_avx512(m, n, kc, a, b, c, ldc, accumulate),
            _ => kernel_portable::<f64, 8>(m, n, kc, a, b, c, ldc, accumulate),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{ATile, MR};
    use crate::kernels::simd::Simd;
    use std::arch::x86_64::*;

    /// Widest tile: 2 × 16 f32 lanes (AVX-512).
    const NR_MAX: usize = 32;

    /// A tile of `M` rows of two vectors each (NR = 2·LANES columns: 16 f32
    /// with AVX2, 32 with AVX-512); for `M <= 2` the k loop keeps two sets of
    /// accumulators (even and odd k) so that there are still enough
    /// independent FMA chains.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile<V: Simd, const M: usize>(
        kc: usize,
        a: ATile<V::E>,
        b: *const V::E,
        c: *mut V::E,
        ldc: usize,
        accumulate: bool,
        n: usize,
    ) {
        let lanes = V::LANES;
        let nr = 2 * lanes;
        // Start fetching the C tile now so that a cold tile (the big
        // all-steps products write C once) does not stall the stores.
        for i in 0..M {
            _mm_prefetch::<_MM_HINT_T0>(c.add(i * ldc) as *const i8);
            _mm_prefetch::<_MM_HINT_T0>(c.add(i * ldc + nr - 1) as *const i8);
        }
        let mut c0 = [V::zero(); M];
        let mut c1 = [V::zero(); M];
        let mut k = 0;
        if M <= 2 {
            let mut d0 = [V::zero(); M];
            let mut d1 = [V::zero(); M];
            while k + 2 <= kc {
                let (b0, b1) = (V::load(b.add(k * nr)), V::load(b.add(k * nr + lanes)));
                let (e0, e1) = (V::load(b.add(k * nr + nr)), V::load(b.add(k * nr + nr + lanes)));
                for i in 0..M {
                    let av = V::splat(a.at(i, k));
                    c0[i] = av.fmadd(b0, c0[i]);
                    c1[i] = av.fmadd(b1, c1[i]);
                    let aw = V::splat(a.at(i, k + 1));
                    d0[i] = aw.fmadd(e0, d0[i]);
                    d1[i] = aw.fmadd(e1, d1[i]);
                }
                k += 2;
            }
            for i in 0..M {
                c0[i] = c0[i].add(d0[i]);
                c1[i] = c1[i].add(d1[i]);
            }
        }
        while k < kc {
            let (b0, b1) = (V::load(b.add(k * nr)), V::load(b.add(k * nr + lanes)));
            for i in 0..M {
                let av = V::splat(a.at(i, k));
                c0[i] = av.fmadd(b0, c0[i]);
                c1[i] = av.fmadd(b1, c1[i]);
            }
            k += 1;
        }
        if n == nr {
            for i in 0..M {
                let cr = c.add(i * ldc);
                if accumulate {
                    c0[i] = c0[i].add(V::load(cr));
                    c1[i] = c1[i].add(V::load(cr.add(lanes)));
                }
                c0[i].store(cr);
                c1[i].store(cr.add(lanes));
            }
        } else {
            let mut row = [V::E::default(); NR_MAX];
            for i in 0..M {
                c0[i].store(row.as_mut_ptr());
                c1[i].store(row.as_mut_ptr().add(lanes));
                let cr = c.add(i * ldc);
                for (j, &v) in row.iter().enumerate().take(n) {
                    *cr.add(j) = if accumulate { *cr.add(j) + v } else { v };
                }
            }
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn rows<V: Simd>(m: usize, n: usize, kc: usize, a: ATile<V::E>, b: *const V::E, c: *mut V::E, ldc: usize, accumulate: bool) {
        debug_assert!((1..=MR).contains(&m) && n <= 2 * V::LANES);
        match m {
            1 => tile::<V, 1>(kc, a, b, c, ldc, accumulate, n),
            2 => tile::<V, 2>(kc, a, b, c, ldc, accumulate, n),
            3 => tile::<V, 3>(kc, a, b, c, ldc, accumulate, n),
            4 => tile::<V, 4>(kc, a, b, c, ldc, accumulate, n),
            5 => tile::<V, 5>(kc, a, b, c, ldc, accumulate, n),
            _ => tile::<V, 6>(kc, a, b, c, ldc, accumulate, n),
        }
    }

    macro_rules! entry {
        ($name:ident, $t:ty, $v:ty, $features:literal) => {
            #[target_feature(enable = $features)]
            #[allow(clippy::too_many_arguments)]
            pub unsafe fn $name(m: usize, n: usize, kc: usize, a: ATile<$t>, b: *const $t, c: *mut $t, ldc: usize, accumulate: bool) {
                rows::<$v>(m, n, kc, a, b, c, ldc, accumulate)
            }
        };
    }
    entry!(kernel_f32_avx2, f32, __m256, "avx2,fma");
    entry!(kernel_f64_avx2, f64, __m256d, "avx2,fma");
    entry!(kernel_f32_avx512, f32, __m512, "avx512f,avx2,fma");
    entry!(kernel_f64_avx512, f64, __m512d, "avx512f,avx2,fma");
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
        for (isa, kc, m) in isa::supported()
            .into_iter()
            .flat_map(|i| [0usize, 1, 2, 3, 7, 64].map(|k| (i, k)))
            .flat_map(|(i, k)| (1..=MR).map(move |m| (i, k, m)))
        {
            let nr = F::nr_for(isa);
            {
                let a: Vec<F> = (0..kc * m).map(|v| to(((v * 7) % 11) as f64 * 0.1 - 0.5)).collect();
                let b: Vec<F> = (0..kc * nr).map(|v| to(((v * 5) % 13) as f64 * 0.1 - 0.6)).collect();
                for n in [1, nr / 2 + 1, nr - 1, nr] {
                    for accumulate in [false, true] {
                        for in_place in [false, true] {
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

    /// AVX-512 runs the AVX2 algorithm on wider vectors: on a CPU with both,
    /// the first 16 (f32) columns of its tile equal AVX2's bit for bit.
    #[test]
    fn avx512_tiles_equal_avx2_tiles_bit_for_bit() {
        if !Isa::Avx512.is_supported() {
            eprintln!("note: no AVX-512 here; AVX-512 GEMM kernel not tested");
            return;
        }
        let kc = 45;
        for m in 1..=MR {
            let a: Vec<f32> = (0..kc * m).map(|v| ((v * 7) % 11) as f32 * 0.1 - 0.5).collect();
            let wide: Vec<f32> = (0..kc * 32).map(|v| ((v * 5) % 13) as f32 * 0.1 - 0.6).collect();
            let narrow: Vec<f32> = (0..kc * 16).map(|v| wide[(v / 16) * 32 + v % 16]).collect();
            let tile = ATile { ptr: a.as_ptr(), rs: 1, cs: m };
            let (mut c5, mut c2) = (vec![0f32; m * 32], vec![0f32; m * 16]);
            unsafe {
                f32::kernel_on(Isa::Avx512, m, 32, kc, tile, wide.as_ptr(), c5.as_mut_ptr(), 32, false);
                f32::kernel_on(Isa::Avx2, m, 16, kc, tile, narrow.as_ptr(), c2.as_mut_ptr(), 16, false);
            }
            for i in 0..m {
                assert_eq!(&c5[i * 32..i * 32 + 16], &c2[i * 16..i * 16 + 16], "m {m} row {i}");
            }
        }
    }

    #[test]
    fn kernels_match_a_plain_product_for_every_tile_shape() {
        check::<f32>(|v| v as f32, |v| v as f64, 1e-4);
        check::<f64>(|v| v, |v| v, 1e-12);
    }
}
