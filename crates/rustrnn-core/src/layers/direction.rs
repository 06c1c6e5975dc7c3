//! One direction of one layer over a whole sequence batch: the forward loop
//! over time and backpropagation through time.
//!
//! Shapes (N = seq_len · batch rows in the input's row order, see
//! [`SeqLayout`]; G·H = gates × hidden):
//! - `input` (N, I), `out` (N, H) — the direction's column block of the output;
//! - cached per step: activated gates (N, G·H), the state before each step
//!   `h_prev` (N, H), for LSTM `c_prev` (N, H), for GRU `gh_n` (N, H).
//!
//! The input projection of all steps is one GEMM before the loop; inside the
//! loop each step does one GEMM with `W_hh` for the whole batch and then the
//! fused element-wise cell kernel per row. Backward mirrors this, and the
//! weight gradients are GEMMs over all steps after the loop.

use super::config::CellKind;
use super::params::CellParams;
use super::sequence::{SeqLayout, Validity};
use crate::float::Float;
use crate::kernels::cells;
use crate::kernels::gemm::gemm;
use ndarray::{s, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};

/// What the backward pass needs from the forward pass of one direction.
#[derive(Debug)]
pub struct DirectionCache<F> {
    /// Activated gates (N, G·H); turned into the gate gradients by backward.
    gates: Array2<F>,
    /// State entering each step (N, H).
    h_prev: Array2<F>,
    /// LSTM: cell state entering each step (N, H).
    c_prev: Option<Array2<F>>,
    /// GRU: `W_hn h + b_hn` of each step (N, H).
    gh_n: Option<Array2<F>>,
}

/// Final states of one direction, each (B, H).
pub struct FinalState<F> {
    pub h: Array2<F>,
    pub c: Option<Array2<F>>,
}

/// Everything fixed for one direction's pass.
#[derive(Clone, Copy)]
pub struct DirectionSpec<'a> {
    pub cell: CellKind,
    pub layout: SeqLayout,
    pub valid: Validity<'a>,
    pub reverse: bool,
}

/// Writes `bias` into every row of `m`, or zeros without a bias; the GEMM that
/// follows then accumulates onto it (beta = 1).
fn fill_rows_with_bias<F: Float>(mut m: ArrayViewMut2<F>, bias: Option<ArrayView1<F>>) {
    match bias {
        Some(b) => m.rows_mut().into_iter().for_each(|mut r| r.assign(&b)),
        None => m.fill(F::zero()),
    }
}

/// Forward over all steps. `out` receives `h` of each valid step and zeros
/// elsewhere. Returns the final state and, when `keep_cache`, the cache.
pub fn forward<F: Float>(
    spec: DirectionSpec<'_>,
    p: &CellParams<F>,
    input: ArrayView2<F>,
    h0: ArrayView2<F>,
    c0: Option<ArrayView2<F>>,
    mut out: ArrayViewMut2<F>,
    keep_cache: bool,
) -> (FinalState<F>, Option<DirectionCache<F>>) {
    let DirectionSpec { cell, layout, valid, reverse } = spec;
    let n = layout.rows();
    let hs = h0.ncols();
    let gs = p.weight_hh.nrows();

    // Input projection of every step at once: gates = input · W_ihᵀ + b_ih.  (N, G·H)
    let mut gates = Array2::<F>::zeros((n, gs));
    fill_rows_with_bias(gates.view_mut(), p.bias_ih.as_ref().map(|b| b.view()));
    gemm(F::one(), input, p.weight_ih.t(), F::one(), gates.view_mut());

    let mut h = h0.to_owned(); // (B, H)
    let mut c = match cell {
        CellKind::Lstm => Some(c0.map_or_else(|| Array2::zeros(h.raw_dim()), |c0| c0.to_owned())),
        _ => None,
    };
    let mut gh = Array2::<F>::zeros((layout.batch, gs)); // W_hh h + b_hh for one step
    let mut h_prev = keep_cache.then(|| Array2::<F>::zeros((n, hs)));
    let mut c_prev = (keep_cache && cell == CellKind::Lstm).then(|| Array2::<F>::zeros((n, hs)));
    let mut gh_n = (cell == CellKind::Gru).then(|| Array2::<F>::zeros((if keep_cache { n } else { 1 }, hs)));

    for step in 0..layout.seq_len {
        let t = layout.time(step, reverse);
        fill_rows_with_bias(gh.view_mut(), p.bias_hh.as_ref().map(|b| b.view()));
        gemm(F::one(), h.view(), p.weight_hh.t(), F::one(), gh.view_mut());
        for b in 0..layout.batch {
            let r = layout.row(t, b);
            if !valid.is_valid(t, b) {
                out.row_mut(r).fill(F::zero());
                continue;
            }
            if let Some(hp) = h_prev.as_mut() {
                hp.row_mut(r).assign(&h.row(b));
            }
            if let (Some(cp), Some(c)) = (c_prev.as_mut(), c.as_ref()) {
                cp.row_mut(r).assign(&c.row(b));
            }
            let g = gates.row_mut(r).into_slice().expect("gates rows are contiguous");
            let ghb = gh.row(b).to_slice().expect("gh rows are contiguous");
            let hb = h.row_mut(b).into_slice().expect("state rows are contiguous");
            match cell {
                CellKind::Rnn(act) => cells::rnn_forward(act, g, ghb, hb),
                CellKind::Lstm => {
                    let cb = c.as_mut().expect("LSTM has a cell state").row_mut(b).into_slice().expect("contiguous");
                    cells::lstm_forward(g, ghb, hb, cb)
                }
                CellKind::Gru => {
                    let buf = gh_n.as_mut().expect("GRU keeps gh_n");
                    let rr = if keep_cache { r } else { 0 };
                    let ghn = buf.row_mut(rr).into_slice().expect("contiguous");
                    cells::gru_forward(g, ghb, ghn, hb)
                }
            }
            out.row_mut(r).assign(&h.row(b));
        }
    }

    let cache = keep_cache.then(|| DirectionCache {
        gates,
        h_prev: h_prev.expect("kept"),
        c_prev,
        gh_n,
    });
    (FinalState { h, c }, cache)
}

/// Gradients of one direction that the layer still needs after BPTT.
pub struct DirectionGrads<F> {
    /// Gradient of the input-side pre-activations (N, G·H); the layer turns it
    /// into the input gradient with `W_ih`.
    pub d_gates: Array2<F>,
    /// Gradients of the initial states, (B, H).
    pub dh0: Array2<F>,
    pub dc0: Option<Array2<F>>,
}

/// Backpropagation through time for one direction. Accumulates the parameter
/// gradients into `grads` and returns what the layer needs for the input and
/// initial-state gradients.
///
/// `dout` (N, H) is the gradient of this direction's outputs (ignored at
/// invalid steps, whose outputs are constant zeros); `dhn`, `dcn` (B, H) those
/// of the final states.
#[allow(clippy::too_many_arguments)]
pub fn backward<F: Float>(
    spec: DirectionSpec<'_>,
    p: &CellParams<F>,
    grads: &mut CellParams<F>,
    input: ArrayView2<F>,
    cache: DirectionCache<F>,
    dout: Option<ArrayView2<F>>,
    dhn: Option<ArrayView2<F>>,
    dcn: Option<ArrayView2<F>>,
) -> DirectionGrads<F> {
    let DirectionSpec { cell, layout, valid, reverse } = spec;
    let DirectionCache { mut gates, h_prev, c_prev, mut gh_n } = cache;
    let hs = h_prev.ncols();
    let gs = gates.ncols();
    let batch = layout.batch;

    let mut dh = dhn.map_or_else(|| Array2::zeros((batch, hs)), |d| d.to_owned());
    let mut dc = (cell == CellKind::Lstm).then(|| dcn.map_or_else(|| Array2::zeros((batch, hs)), |d| d.to_owned()));
    let mut tanh_c = vec![F::zero(); hs];
    // Columns of the gate gradient that multiply W_hh directly; for GRU the
    // n block goes through gh_n instead.
    let direct_cols = if cell == CellKind::Gru { 2 * hs } else { gs };
    let w_hh_direct = p.weight_hh.slice(s![..direct_cols, ..]);

    for step in (0..layout.seq_len).rev() {
        let t = layout.time(step, reverse);
        for b in 0..batch {
            let r = layout.row(t, b);
            if !valid.is_valid(t, b) {
                // The state passed through unchanged; so does its gradient.
                gates.row_mut(r).fill(F::zero());
                if let Some(g) = gh_n.as_mut() {
                    g.row_mut(r).fill(F::zero());
                }
                continue;
            }
            let mut dhb = dh.row_mut(b);
            if let Some(d) = dout.as_ref() {
                dhb += &d.row(r);
            }
            let dhb = dhb.into_slice().expect("contiguous");
            let g = gates.row_mut(r).into_slice().expect("contiguous");
            match cell {
                CellKind::Rnn(act) => cells::rnn_backward(act, g, dhb),
                CellKind::Lstm => {
                    let dcb = dc.as_mut().expect("LSTM").row_mut(b).into_slice().expect("contiguous");
                    let cp = c_prev.as_ref().expect("LSTM caches c_prev");
                    cells::lstm_backward(g, cp.row(r).to_slice().expect("contiguous"), dhb, dcb, &mut tanh_c)
                }
                CellKind::Gru => {
                    let ghn = gh_n.as_mut().expect("GRU").row_mut(r).into_slice().expect("contiguous");
                    cells::gru_backward(g, ghn, h_prev.row(r).to_slice().expect("contiguous"), dhb)
                }
            }
        }
        // dh (B, H) += dG_hidden (B, G·H) · W_hh (G·H, H)
        gemm(F::one(), layout.step_rows(&gates, t, 0..direct_cols), w_hh_direct, F::one(), dh.view_mut());
        if let Some(g) = gh_n.as_ref() {
            gemm(F::one(), layout.step_rows(g, t, 0..hs), p.weight_hh.slice(s![2 * hs.., ..]), F::one(), dh.view_mut());
        }
    }

    // Parameter gradients over all steps at once.
    // dW_ih (G·H, I) += dGᵀ · input;  db_ih += Σ_rows dG
    gemm(F::one(), gates.t(), input, F::one(), grads.weight_ih.view_mut());
    gemm(F::one(), gates.slice(s![.., ..direct_cols]).t(), h_prev.view(), F::one(), grads.weight_hh.slice_mut(s![..direct_cols, ..]));
    if let Some(g) = gh_n.as_ref() {
        gemm(F::one(), g.t(), h_prev.view(), F::one(), grads.weight_hh.slice_mut(s![direct_cols.., ..]));
    }
    if let Some(db) = grads.bias_ih.as_mut() {
        *db += &gates.sum_axis(Axis(0));
    }
    if let Some(db) = grads.bias_hh.as_mut() {
        let mut head = db.slice_mut(s![..direct_cols]);
        head += &gates.slice(s![.., ..direct_cols]).sum_axis(Axis(0));
        if let Some(g) = gh_n.as_ref() {
            let mut tail = db.slice_mut(s![direct_cols..]);
            tail += &g.sum_axis(Axis(0));
        }
    }

    DirectionGrads { d_gates: gates, dh0: dh, dc0: dc }
}
