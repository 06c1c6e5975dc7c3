//! One direction of one LSTM layer with a projection (PyTorch's `proj_size`):
//! the cell runs on `H` units and its output is projected to `P < H` values,
//! `h = W_hr (o * tanh(c))`, which are both the layer's output and the state
//! fed back through `W_hh` (G·H, P).
//!
//! Shapes (N = seq_len · batch rows in the input's row order, see
//! [`SeqLayout`]):
//! - `input` (N, I), `out` (N, P); states `h` (B, P), `c` (B, H);
//! - cached per step: activated gates (N, 4H), `h_prev` (N, P), `c_prev`
//!   (N, H) and the unprojected output `o * tanh(c)` (N, H).
//!
//! Each step is three products over the whole batch (`W_hh h`, the cell, then
//! `W_hr`), so it parallelises inside the GEMMs rather than over unit blocks
//! as the plain cells do; backward mirrors it and the weight gradients are
//! GEMMs over all steps after the loop.

use super::direction::{DirectionGrads, DirectionSpec, FinalState};
use super::params::CellParams;
use crate::float::Float;
use crate::kernels::cells;
use crate::kernels::gemm::{gemm, gemm_prepacked, PackedB};
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};

/// What the backward pass needs from the forward pass of one direction.
#[derive(Debug)]
pub struct ProjectedCache<F> {
    /// Activated gates i, f, g, o (N, 4H); turned into the gate gradients by backward.
    gates: Array2<F>,
    /// Projected state entering each step (N, P).
    h_prev: Array2<F>,
    /// Cell state entering each step (N, H).
    c_prev: Array2<F>,
    /// `o * tanh(c)` of each step, before the projection (N, H).
    h_full: Array2<F>,
}

fn row<F>(a: &Array2<F>, r: usize) -> &[F] {
    a.row(r).to_slice().expect("rows are contiguous")
}

fn row_mut<F>(a: &mut Array2<F>, r: usize) -> &mut [F] {
    a.row_mut(r).into_slice().expect("rows are contiguous")
}

/// Runs the direction over the sequence, writing `out` (N, P); returns the
/// final states and, with `keep_cache`, what backward needs.
pub fn forward<F: Float>(
    spec: DirectionSpec<'_>,
    p: &CellParams<F>,
    input: ArrayView2<F>,
    h0: ArrayView2<F>,
    c0: Option<ArrayView2<F>>,
    mut out: ArrayViewMut2<F>,
    keep_cache: bool,
) -> (FinalState<F>, Option<ProjectedCache<F>>) {
    let DirectionSpec { layout, valid, reverse, .. } = spec;
    let w_hr = p.weight_hr.as_ref().expect("a projected LSTM has weight_hr");
    let (ps, hs) = w_hr.dim();
    let (n, batch) = (input.nrows(), layout.batch);

    // Input projection of all steps with both biases: (N, 4H).
    let mut gates = Array2::<F>::zeros((n, 4 * hs));
    gemm(input, p.weight_ih.t(), false, gates.view_mut());
    for b in [p.bias_ih.as_ref(), p.bias_hh.as_ref()].into_iter().flatten() {
        gates += b;
    }
    let w_hh_t = PackedB::new(p.weight_hh.t()); // (P, 4H)
    let w_hr_t = PackedB::new(w_hr.t()); // (H, P)

    let mut h = h0.to_owned();
    let mut c = c0.map_or_else(|| Array2::zeros((batch, hs)), |c| c.to_owned());
    let mut gh = Array2::<F>::zeros((batch, 4 * hs));
    let mut hf = Array2::<F>::zeros((batch, hs));
    let mut h_new = Array2::<F>::zeros((batch, ps));
    let mut h_prev = keep_cache.then(|| Array2::<F>::zeros((n, ps)));
    let mut c_prev = keep_cache.then(|| Array2::<F>::zeros((n, hs)));
    let mut h_full = keep_cache.then(|| Array2::<F>::zeros((n, hs)));

    for step in 0..layout.seq_len {
        let t = layout.time(step, reverse);
        gemm_prepacked(h.view(), &w_hh_t, false, gh.view_mut());
        for b in 0..batch {
            let r = layout.row(t, b);
            if !valid.is_valid(t, b) {
                continue;
            }
            if let (Some(hp), Some(cp)) = (h_prev.as_mut(), c_prev.as_mut()) {
                row_mut(hp, r).copy_from_slice(row(&h, b));
                row_mut(cp, r).copy_from_slice(row(&c, b));
            }
            let (g, hb) = (row_mut(&mut gates, r), row_mut(&mut hf, b));
            cells::lstm_forward(g, hs, row(&gh, b), hs, row_mut(&mut c, b), hb);
            if let Some(full) = h_full.as_mut() {
                row_mut(full, r).copy_from_slice(row(&hf, b));
            }
        }
        gemm_prepacked(hf.view(), &w_hr_t, false, h_new.view_mut());
        for b in 0..batch {
            let r = layout.row(t, b);
            if valid.is_valid(t, b) {
                h.row_mut(b).assign(&h_new.row(b));
                out.row_mut(r).assign(&h_new.row(b));
            } else {
                out.row_mut(r).fill(F::zero()); // the state passes through unchanged
            }
        }
    }
    let cache = keep_cache.then(|| ProjectedCache {
        gates,
        h_prev: h_prev.expect("kept"),
        c_prev: c_prev.expect("kept"),
        h_full: h_full.expect("kept"),
    });
    (FinalState { h, c: Some(c) }, cache)
}

/// Backpropagation through time for one direction; accumulates the parameter
/// gradients into `grads`. `dout` (N, P) is the gradient of this direction's
/// outputs, `dhn` (B, P) and `dcn` (B, H) those of the final states.
#[allow(clippy::too_many_arguments)]
pub fn backward<F: Float>(
    spec: DirectionSpec<'_>,
    p: &CellParams<F>,
    grads: &mut CellParams<F>,
    input: ArrayView2<F>,
    cache: ProjectedCache<F>,
    dout: Option<ArrayView2<F>>,
    dhn: Option<ArrayView2<F>>,
    dcn: Option<ArrayView2<F>>,
) -> DirectionGrads<F> {
    let DirectionSpec { layout, valid, reverse, .. } = spec;
    let ProjectedCache { mut gates, h_prev, c_prev, h_full } = cache;
    let w_hr = p.weight_hr.as_ref().expect("a projected LSTM has weight_hr");
    let (ps, hs) = w_hr.dim();
    let (n, batch) = (gates.nrows(), layout.batch);
    let w_hr_p = PackedB::new(w_hr.view()); // dh (B, P) -> d(o*tanh c) (B, H)
    let w_hh_p = PackedB::new(p.weight_hh.view()); // dG (B, 4H) -> dh_prev (B, P)

    let mut dh = dhn.map_or_else(|| Array2::zeros((batch, ps)), |d| d.to_owned());
    let mut dc = dcn.map_or_else(|| Array2::zeros((batch, hs)), |d| d.to_owned());
    let mut dhf = Array2::<F>::zeros((batch, hs));
    let mut dg = Array2::<F>::zeros((batch, 4 * hs));
    let mut dh_back = Array2::<F>::zeros((batch, ps));
    let mut d_proj = Array2::<F>::zeros((n, ps)); // gradient of each step's projected output
    let mut scratch = vec![F::zero(); hs];

    for step in (0..layout.seq_len).rev() {
        let t = layout.time(step, reverse);
        if let Some(d) = dout.as_ref() {
            for b in 0..batch {
                let r = layout.row(t, b);
                if valid.is_valid(t, b) {
                    let mut acc = dh.row_mut(b);
                    acc += &d.row(r);
                }
            }
        }
        gemm_prepacked(dh.view(), &w_hr_p, false, dhf.view_mut());
        for b in 0..batch {
            let r = layout.row(t, b);
            if !valid.is_valid(t, b) {
                gates.row_mut(r).fill(F::zero());
                dg.row_mut(b).fill(F::zero());
                continue;
            }
            d_proj.row_mut(r).assign(&dh.row(b));
            let g = row_mut(&mut gates, r);
            cells::lstm_backward(g, hs, row(&c_prev, r), row_mut(&mut dhf, b), row_mut(&mut dc, b), &mut scratch);
            row_mut(&mut dg, b).copy_from_slice(row(&gates, r));
        }
        gemm_prepacked(dg.view(), &w_hh_p, false, dh_back.view_mut());
        for b in 0..batch {
            if valid.is_valid(t, b) {
                dh.row_mut(b).assign(&dh_back.row(b));
            }
        }
    }

    // dW_ih += dGᵀ·input;  dW_hh += dGᵀ·h_prev;  dW_hr += d_projᵀ·h_full;  db += Σ_rows dG
    gemm(gates.t(), input, true, grads.weight_ih.view_mut());
    gemm(gates.t(), h_prev.view(), true, grads.weight_hh.view_mut());
    gemm(d_proj.t(), h_full.view(), true, grads.weight_hr.as_mut().expect("a projected LSTM has weight_hr").view_mut());
    let db = gates.sum_axis(Axis(0));
    for g in [grads.bias_ih.as_mut(), grads.bias_hh.as_mut()].into_iter().flatten() {
        *g += &db;
    }
    DirectionGrads { d_gates: gates, dh0: dh, dc0: Some(dc) }
}
