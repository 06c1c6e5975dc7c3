//! Matrix-vector products for the one-token-at-a-time paths (generation,
//! decoding at batch 1), where a packed GEMM would spend more time packing
//! than multiplying. Weights stay in PyTorch's row-major `(out, in)` layout,
//! so each output is one contiguous dot product.

use crate::float::Float;
use crate::kernels::isa::{self, Isa};

/// `y[j] = bias[j] + Σ_k w[j·cols + k]·x[k]` for every row `j` of `w`.
pub fn gemv<F: Float>(w: &[F], x: &[F], bias: Option<&[F]>, y: &mut [F]) {
    gemv_on(isa::active(), w, x, bias, y)
}

/// [`gemv`] on a given path (which this CPU must support).
pub fn gemv_on<F: Float>(isa: Isa, w: &[F], x: &[F], bias: Option<&[F]>, y: &mut [F]) {
    let cols = x.len();
    assert_eq!(w.len(), cols * y.len(), "gemv: matrix size");
    assert!(bias.is_none_or(|b| b.len() == y.len()), "gemv: bias size");
    assert!(isa.is_supported(), "gemv_on: this CPU does not support {isa}");
    #[cfg(target_arch = "x86_64")]
    if isa >= Isa::Avx2 {
        use std::any::TypeId;
        // SAFETY: the casts are identities (F is the type checked), and the
        // CPU has the features of the kernel (asserted above).
        unsafe {
            let cast = |s: &[F]| s.as_ptr();
            if TypeId::of::<F>() == TypeId::of::<f32>() {
                let f = |p: *const F, n: usize| std::slice::from_raw_parts(p as *const f32, n);
                let y = std::slice::from_raw_parts_mut(y.as_mut_ptr() as *mut f32, y.len());
                let (w, x, b) = (f(cast(w), w.len()), f(cast(x), x.len()), bias.map(|b| f(cast(b), b.len())));
                return if isa == Isa::Avx512 { wide::f32_avx512(w, x, b, y) } else { wide::f32_avx2(w, x, b, y) };
            }
            if TypeId::of::<F>() == TypeId::of::<f64>() {
                let f = |p: *const F, n: usize| std::slice::from_raw_parts(p as *const f64, n);
                let y = std::slice::from_raw_parts_mut(y.as_mut_ptr() as *mut f64, y.len());
                let (w, x, b) = (f(cast(w), w.len()), f(cast(x), x.len()), bias.map(|b| f(cast(b), b.len())));
                return if isa == Isa::Avx512 { wide::f64_avx512(w, x, b, y) } else { wide::f64_avx2(w, x, b, y) };
            }
        }
    }
    for (j, out) in y.iter_mut().enumerate() {
        let b = bias.map_or(F::zero(), |b| b[j]);
        *out = b + dot(&w[j * cols..(j + 1) * cols], x);
    }
}

#[cfg(target_arch = "x86_64")]
mod wide {
    use crate::kernels::simd::Simd;
    use std::arch::x86_64::*;

    /// One row at a time, four vector accumulators, fused multiply-add; the
    /// same code for 8 (AVX2) and 16 (AVX-512) f32 lanes, or 4 and 8 f64.
    #[inline(always)]
    unsafe fn gemv<V: Simd>(w: &[V::E], x: &[V::E], bias: Option<&[V::E]>, y: &mut [V::E]) {
        let cols = x.len();
        let l = V::LANES;
        let main = cols - cols % l;
        for (j, out) in y.iter_mut().enumerate() {
            let row = &w[j * cols..(j + 1) * cols];
            let (mut a0, mut a1, mut a2, mut a3) = (V::zero(), V::zero(), V::zero(), V::zero());
            let mut k = 0;
            while k + 4 * l <= main {
                let (r, v) = (row.as_ptr().add(k), x.as_ptr().add(k));
                a0 = V::load(r).fmadd(V::load(v), a0);
                a1 = V::load(r.add(l)).fmadd(V::load(v.add(l)), a1);
                a2 = V::load(r.add(2 * l)).fmadd(V::load(v.add(2 * l)), a2);
                a3 = V::load(r.add(3 * l)).fmadd(V::load(v.add(3 * l)), a3);
                k += 4 * l;
            }
            while k < main {
                a0 = V::load(row.as_ptr().add(k)).fmadd(V::load(x.as_ptr().add(k)), a0);
                k += l;
            }
            let mut total = a0.add(a1).add(a2.add(a3)).sum();
            for kk in main..cols {
                total += row[kk] * x[kk];
            }
            *out = total + bias.map_or(V::E::default(), |b| b[j]);
        }
    }

    macro_rules! entry {
        ($name:ident, $t:ty, $v:ty, $features:literal) => {
            #[target_feature(enable = $features)]
            pub unsafe fn $name(w: &[$t], x: &[$t], bias: Option<&[$t]>, y: &mut [$t]) {
                gemv::<$v>(w, x, bias, y)
            }
        };
    }
    entry!(f32_avx2, f32, __m256, "avx2,fma");
    entry!(f64_avx2, f64, __m256d, "avx2,fma");
    entry!(f32_avx512, f32, __m512, "avx512f,avx2,fma");
    entry!(f64_avx512, f64, __m512d, "avx512f,avx2,fma");
}

/// Like [`gemv`], with the rows split between two threads of the pool when
/// the matrix is large enough for that to pay.
pub fn gemv_par<F: Float>(w: &[F], x: &[F], bias: Option<&[F]>, y: &mut [F]) {
    let rows = y.len();
    if rows < 64 || w.len() < (1 << 16) || rayon::current_num_threads() < 2 {
        return gemv(w, x, bias, y);
    }
    let half = rows / 2;
    let (y0, y1) = y.split_at_mut(half);
    let (w0, w1) = w.split_at(half * x.len());
    let (b0, b1) = match bias {
        Some(b) => {
            let (a, c) = b.split_at(half);
            (Some(a), Some(c))
        }
        None => (None, None),
    };
    rayon::join(|| gemv(w0, x, b0, y0), || gemv(w1, x, b1, y1));
}

/// Dot product with 16 independent partial sums, so that it vectorises.
#[inline]
fn dot<F: Float>(a: &[F], b: &[F]) -> F {
    const L: usize = 16;
    let mut acc = [F::zero(); L];
    let (ac, ar) = (a.chunks_exact(L), a.len() - a.len() % L);
    for (ca, cb) in ac.zip(b.chunks_exact(L)) {
        for i in 0..L {
            acc[i] += ca[i] * cb[i];
        }
    }
    let mut s = F::zero();
    for i in ar..a.len() {
        s += a[i] * b[i];
    }
    for half in [8, 4, 2, 1] {
        for i in 0..half {
            acc[i] += acc[i + half];
        }
    }
    acc[0] + s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_gemv_matches_naive_for_odd_sizes() {
        for &(rows, cols) in &[(1, 1), (3, 17), (65, 256), (7, 100), (300, 65)] {
            let w: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0).collect();
            let x: Vec<f32> = (0..cols).map(|i| ((i * 31) % 17) as f32 / 8.0 - 1.0).collect();
            for isa in isa::supported() {
                let mut y = vec![0.0f32; rows];
                gemv_on(isa, &w, &x, None, &mut y);
                for j in 0..rows {
                    let e: f64 = (0..cols).map(|k| w[j * cols + k] as f64 * x[k] as f64).sum();
                    assert!((y[j] as f64 - e).abs() < 1e-3, "{isa} ({rows},{cols}) row {j}: {} vs {e}", y[j]);
                }
            }
        }
    }

    #[test]
    fn gemv_matches_naive_for_odd_sizes() {
        for &(rows, cols) in &[(1, 1), (3, 17), (65, 256), (200, 33), (1024, 320)] {
            let w: Vec<f64> = (0..rows * cols).map(|i| ((i * 7919) % 101) as f64 / 50.0 - 1.0).collect();
            let x: Vec<f64> = (0..cols).map(|i| ((i * 31) % 17) as f64 / 8.0 - 1.0).collect();
            let b: Vec<f64> = (0..rows).map(|i| i as f64 * 0.01).collect();
            let mut y = vec![0.0; rows];
            gemv_par(&w, &x, Some(&b), &mut y);
            for isa in isa::supported() {
                let mut y_on = vec![0.0; rows];
                gemv_on(isa, &w, &x, Some(&b), &mut y_on);
                for j in 0..rows {
                    let e: f64 = b[j] + (0..cols).map(|k| w[j * cols + k] * x[k]).sum::<f64>();
                    assert!((y[j] - e).abs() < 1e-9, "({rows},{cols}) row {j}: {} vs {e}", y[j]);
                    assert!((y_on[j] - e).abs() < 1e-9, "{isa} ({rows},{cols}) row {j}: {} vs {e}", y_on[j]);
                }
            }
        }
    }
}
