//! Matrix-vector products for the one-token-at-a-time paths (generation,
//! decoding at batch 1), where a packed GEMM would spend more time packing
//! than multiplying. Weights stay in PyTorch's row-major `(out, in)` layout,
//! so each output is one contiguous dot product.

use crate::float::Float;

/// `y[j] = bias[j] + Σ_k w[j·cols + k]·x[k]` for every row `j` of `w`.
pub fn gemv<F: Float>(w: &[F], x: &[F], bias: Option<&[F]>, y: &mut [F]) {
    let cols = x.len();
    debug_assert_eq!(w.len(), cols * y.len());
    #[cfg(target_arch = "x86_64")]
    {
        use std::any::TypeId;
        if TypeId::of::<F>() == TypeId::of::<f32>() && std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: F is f32 (same type, so the casts are identities) and the
            // CPU has the features the kernel is compiled for.
            unsafe {
                let cast = |s: &[F]| std::slice::from_raw_parts(s.as_ptr() as *const f32, s.len());
                let y32 = std::slice::from_raw_parts_mut(y.as_mut_ptr() as *mut f32, y.len());
                avx2::gemv_f32(cast(w), cast(x), bias.map(cast), y32);
            }
            return;
        }
    }
    for (j, out) in y.iter_mut().enumerate() {
        let b = bias.map_or(F::zero(), |b| b[j]);
        *out = b + dot(&w[j * cols..(j + 1) * cols], x);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Four rows at a time, four 8-lane accumulators per row, fused multiply-add.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn gemv_f32(w: &[f32], x: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
        let cols = x.len();
        let main = cols - cols % 8;
        for (j, out) in y.iter_mut().enumerate() {
            let row = &w[j * cols..(j + 1) * cols];
            let (mut a0, mut a1, mut a2, mut a3) = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
            let mut k = 0;
            while k + 32 <= main {
                let (r, v) = (row.as_ptr().add(k), x.as_ptr().add(k));
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r), _mm256_loadu_ps(v), a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r.add(8)), _mm256_loadu_ps(v.add(8)), a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r.add(16)), _mm256_loadu_ps(v.add(16)), a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r.add(24)), _mm256_loadu_ps(v.add(24)), a3);
                k += 32;
            }
            while k < main {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row.as_ptr().add(k)), _mm256_loadu_ps(x.as_ptr().add(k)), a0);
                k += 8;
            }
            let s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
            let h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
            let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
            let h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
            let mut total = _mm_cvtss_f32(h);
            for kk in main..cols {
                total += row[kk] * x[kk];
            }
            *out = total + bias.map_or(0.0, |b| b[j]);
        }
    }
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
            let mut y = vec![0.0f32; rows];
            gemv(&w, &x, None, &mut y);
            for j in 0..rows {
                let e: f64 = (0..cols).map(|k| w[j * cols + k] as f64 * x[k] as f64).sum();
                assert!((y[j] as f64 - e).abs() < 1e-3, "({rows},{cols}) row {j}: {} vs {e}", y[j]);
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
            for j in 0..rows {
                let e: f64 = b[j] + (0..cols).map(|k| w[j * cols + k] * x[k]).sum::<f64>();
                assert!((y[j] - e).abs() < 1e-9, "({rows},{cols}) row {j}: {} vs {e}", y[j]);
            }
        }
    }
}
