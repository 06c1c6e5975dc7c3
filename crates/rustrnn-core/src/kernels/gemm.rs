//! General matrix product `C = alpha·A·B + beta·C` on strided 2-D views.
//!
//! The packed, cache-blocked micro-kernels come from `matrixmultiply` (the crate
//! behind ndarray's `dot`); this module adds what the layers need on top: row
//! blocking of `C` over the rayon pool for the big all-time-steps products, and
//! a single entry point so the kernels can later be swapped without touching
//! callers. Splitting rows of `C` never changes the summation order of any
//! element, so results are bit-identical for every thread count.

use crate::float::Float;
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Below this many multiply-adds a product runs on the calling thread: the
/// hand-off to the pool costs more than it saves.
const PARALLEL_MIN_FLOPS: usize = 1 << 18;

/// `C = alpha·A·B + beta·C`, where `A` is (m×k), `B` is (k×n), `C` is (m×n).
/// With `beta == 0` the old contents of `C` are ignored (NaN included).
pub fn gemm<F: Float>(alpha: F, a: ArrayView2<F>, b: ArrayView2<F>, beta: F, mut c: ArrayViewMut2<F>) {
    let (m, k) = a.dim();
    let n = b.ncols();
    debug_assert_eq!(b.nrows(), k);
    debug_assert_eq!(c.dim(), (m, n));
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        scale(beta, c);
        return;
    }
    let threads = rayon::current_num_threads();
    if threads <= 1 || m * n * k < PARALLEL_MIN_FLOPS || m < 2 {
        gemm_serial(alpha, a, b, beta, c);
        return;
    }
    // A few row blocks per thread so uneven blocks still balance; each block
    // at least a handful of rows so the packed B panel is reused.
    let rows_per_block = (m / (threads * 2)).max(16).min(m);
    c.axis_chunks_iter_mut(Axis(0), rows_per_block)
        .into_par_iter()
        .zip(a.axis_chunks_iter(Axis(0), rows_per_block).into_par_iter())
        .for_each(|(c_block, a_block)| gemm_serial(alpha, a_block, b, beta, c_block));
}

/// The same product on the calling thread only.
pub fn gemm_serial<F: Float>(alpha: F, a: ArrayView2<F>, b: ArrayView2<F>, beta: F, mut c: ArrayViewMut2<F>) {
    if a.ncols() == 0 {
        scale(beta, c);
        return;
    }
    if beta == F::zero() {
        // matrixmultiply already ignores C when beta is zero; ndarray's
        // fallback path for odd strides does not, so clear it first.
        c.fill(F::zero());
    }
    general_mat_mul(alpha, &a, &b, beta, &mut c);
}

fn scale<F: Float>(beta: F, mut c: ArrayViewMut2<F>) {
    if beta == F::zero() {
        c.fill(F::zero());
    } else if beta != F::one() {
        c.mapv_inplace(|v| v * beta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, ShapeBuilder};

    fn naive(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        let (m, k) = a.dim();
        let n = b.ncols();
        let mut c = Array2::zeros((m, n));
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    s += a[[i, p]] * b[[p, j]];
                }
                c[[i, j]] = s;
            }
        }
        c
    }

    fn filled(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        Array2::from_shape_fn((rows, cols), |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
    }

    #[test]
    fn matches_naive_product_for_odd_sizes_and_strides() {
        for &(m, k, n) in &[(1, 1, 1), (3, 7, 5), (17, 33, 9), (64, 31, 130), (200, 65, 97)] {
            let a = filled(m, k, 1);
            let b = filled(k, n, 2);
            let c0 = filled(m, n, 3);
            let expect = naive(&a, &b) * 0.5 + &c0 * 2.0;
            let mut c = c0.clone();
            gemm(0.5, a.view(), b.view(), 2.0, c.view_mut());
            let err = (&c - &expect).iter().fold(0.0f64, |e, v| e.max(v.abs()));
            assert!(err < 1e-12, "({m},{k},{n}) err {err}");

            // Transposed operands through strides, C column-major.
            let at = a.t().to_owned();
            let bt = b.t().to_owned();
            let mut cf = Array2::<f64>::zeros((m, n).f());
            gemm(1.0, at.t(), bt.t(), 0.0, cf.view_mut());
            let err = (&cf - &naive(&a, &b)).iter().fold(0.0f64, |e, v| e.max(v.abs()));
            assert!(err < 1e-12, "transposed ({m},{k},{n}) err {err}");
        }
    }

    #[test]
    fn f32_matches_naive_product() {
        let a = filled(37, 129, 4);
        let b = filled(129, 70, 5);
        let expect = naive(&a, &b);
        let mut c = Array2::<f32>::from_elem((37, 70), f32::NAN);
        gemm(1.0f32, a.mapv(|v| v as f32).view(), b.mapv(|v| v as f32).view(), 0.0, c.view_mut());
        for (g, e) in c.iter().zip(expect.iter()) {
            assert!((*g as f64 - e).abs() < 1e-4, "{g} vs {e}");
        }
    }

    #[test]
    fn beta_zero_ignores_nan_and_empty_k_scales() {
        let a = Array2::<f64>::zeros((4, 0));
        let b = Array2::<f64>::zeros((0, 3));
        let mut c = Array2::<f64>::from_elem((4, 3), 2.0);
        gemm(1.0, a.view(), b.view(), 0.5, c.view_mut());
        assert!(c.iter().all(|&v| v == 1.0));
        let mut c = Array2::<f64>::from_elem((4, 3), f64::NAN);
        gemm(1.0, a.view(), b.view(), 0.0, c.view_mut());
        assert!(c.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn result_is_identical_across_thread_counts() {
        let a = filled(300, 64, 6);
        let b = filled(64, 96, 7);
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut c = Array2::<f64>::zeros((300, 96));
            pool.install(|| gemm(1.0, a.view(), b.view(), 0.0, c.view_mut()));
            c
        };
        assert_eq!(run(1), run(3));
    }
}
