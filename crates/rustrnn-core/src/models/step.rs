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
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { gemv_avx2(w, x, bias, y) };
            return;
        }
    }
    gemv_generic(w, x, bias, y, cols);
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemv_avx2<F: Float>(w: &[F], x: &[F], bias: Option<&[F]>, y: &mut [F]) {
    gemv_generic(w, x, bias, y, x.len())
}

#[inline(always)]
fn gemv_generic<F: Float>(w: &[F], x: &[F], bias: Option<&[F]>, y: &mut [F], cols: usize) {
    for (j, out) in y.iter_mut().enumerate() {
        let b = bias.map_or(F::zero(), |b| b[j]);
        *out = b + dot(&w[j * cols..(j + 1) * cols], x);
    }
}

/// Dot product with 16 independent partial sums, so that it vectorises.
#[inline(always)]
fn dot<F: Float>(a: &[F], b: &[F]) -> F {
    const L: usize = 16;
    let mut acc = [F::zero(); L];
    let (ac, ar) = (a.chunks_exact(L), a.len() - a.len() % L);
    for (ca, cb) in ac.zip(b.chunks_exact(L)) {
        for i in 0..L {
            acc[i] = acc[i] + ca[i] * cb[i];
        }
    }
    let mut s = F::zero();
    for i in ar..a.len() {
        s = s + a[i] * b[i];
    }
    for half in [8, 4, 2, 1] {
        for i in 0..half {
            acc[i] = acc[i] + acc[i + half];
        }
    }
    acc[0] + s
}

#[cfg(test)]
mod tests {
    use super::*;

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
