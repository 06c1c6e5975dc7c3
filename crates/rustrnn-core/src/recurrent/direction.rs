//! One direction of one layer over a whole sequence batch: the forward loop
//! over time and backpropagation through time.
//!
//! Shapes (N = seq_len · batch rows in the input's row order, see
//! [`SeqLayout`]; G·H = gates × hidden):
//! - `input` (N, I), `out` (N, H) — the direction's column block of the output;
//! - cached per step: activated gates (N, G·H), the state before each step
//!   `h_prev` (N, H), for LSTM `c_prev` (N, H), for GRU `gh_n` (N, H).
//!
//! The input projection of all steps is one GEMM before the loop (in
//! inference from 16 rows on, each step's inside the loop instead: see
//! `forward`). The recurrent weights are packed once, with each block of
//! hidden units' gates side by side, so that inside the loop every worker
//! owns a block of hidden units: it computes their gates for the whole batch
//! with one product and applies the cell update right away. The threads run the whole loop in
//! lockstep ([`crate::lockstep`]): a spinning barrier between steps is the
//! only synchronisation. Backward mirrors this, and the weight gradients are GEMMs
//! over all steps after the loop.

use super::config::CellKind;
use super::packed::ForwardPack;
use super::params::CellParams;
use super::sequence::{SeqLayout, Validity};
use crate::float::Float;
use crate::kernels::gemm::{gemm, gemm_packed, gemm_prepacked, PackedB, PackedGates};
use crate::kernels::{cells, cells_any_activation as any_act, CellActivations};
use crate::lockstep;
use crate::recycle;
use ndarray::parallel::prelude::*;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis, ShapeBuilder};
use std::ops::Range;

/// What the backward pass needs from the forward pass of one direction.
#[derive(Debug)]
pub struct DirectionCache<F> {
    /// Activated gates (N, G·H); turned into the gate gradients by backward.
    pub(super) gates: Array2<F>,
    /// State entering each step (N, H).
    pub(super) h_prev: Array2<F>,
    /// LSTM: cell state entering each step (N, H).
    pub(super) c_prev: Option<Array2<F>>,
    /// GRU: `W_hn h + b_hn` of each step (N, H); reset-before GRU: `r*h`.
    pub(super) gh_n: Option<Array2<F>>,
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
    /// Activations other than tanh/sigmoid (`None`: the fused default kernels).
    pub acts: Option<CellActivations>,
}

/// A row-major matrix that several workers write at the same time, each in
/// its own columns. The raw pointer is what lets the workers share it; the
/// disjointness is the callers' contract (see `rows`).
struct Shared<F> {
    ptr: *mut F,
    row_stride: usize,
    cols: usize,
}

impl<F> Clone for Shared<F> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<F> Copy for Shared<F> {}

// SAFETY: workers only touch disjoint column ranges (documented at each use).
unsafe impl<F: Send> Send for Shared<F> {}
unsafe impl<F: Sync> Sync for Shared<F> {}

impl<F> Shared<F> {
    fn new(m: &mut ArrayViewMut2<F>) -> Self {
        assert!(m.strides()[1] == 1 && m.strides()[0] >= 0, "rows must be contiguous");
        Shared { ptr: m.as_mut_ptr(), row_stride: m.strides()[0] as usize, cols: m.ncols() }
    }

    /// Columns `cols` of row `r`.
    ///
    /// # Safety
    /// No other live reference may overlap these elements while the returned
    /// slice (whose lifetime the caller picks) is in use.
    #[allow(clippy::mut_from_ref)]
    unsafe fn row<'a>(self, r: usize, cols: Range<usize>) -> &'a mut [F] {
        debug_assert!(cols.end <= self.cols);
        std::slice::from_raw_parts_mut(self.ptr.add(r * self.row_stride + cols.start), cols.len())
    }

    /// Where row `r` starts (for products that write their own columns).
    unsafe fn row_ptr(self, r: usize) -> *mut F {
        self.ptr.add(r * self.row_stride)
    }

    /// Columns from `start` to the end of row `r` (several gates of a row).
    #[allow(clippy::mut_from_ref)]
    unsafe fn row_from<'a>(self, r: usize, start: usize) -> &'a mut [F] {
        self.row(r, start..self.cols)
    }

    /// The (rows × cols) block at `r0`, every `step` rows, columns `cols`.
    unsafe fn block<'a>(self, r0: usize, rows: usize, step: usize, cols: Range<usize>) -> ArrayViewMut2<'a, F> {
        ArrayViewMut2::from_shape_ptr(
            (rows, cols.len()).strides((self.row_stride * step, 1)),
            self.ptr.add(r0 * self.row_stride + cols.start),
        )
    }
}

/// Rows per task of the row-parallel passes over (N, ·) arrays. Fixed, so
/// that sums over rows are grouped the same way for any thread count.
const ROWS_PER_TASK: usize = 1024;

/// From this batch size on, the inference forward projects the inputs step
/// by step inside the time loop; below it, and in training, once for all
/// steps before the loop (see `forward`).
const IN_LOOP_PROJECTION_MIN_BATCH: usize = 16;

/// Σ over rows of `a` (N, C): partial sums of fixed blocks of rows in
/// parallel, added in block order (bit-identical for any thread count).
fn column_sums<F: Float>(a: ArrayView2<F>) -> Array1<F> {
    let partial: Vec<Array1<F>> = a.axis_chunks_iter(Axis(0), ROWS_PER_TASK).into_par_iter().map(|b| b.sum_axis(Axis(0))).collect();
    partial.into_iter().fold(Array1::zeros(a.ncols()), |acc, p| acc + p)
}

/// Below this many flops per step a time loop runs on one thread: the
/// barrier between steps (about a microsecond when every thread has a core)
/// would cost more than the split saves.
const PARALLEL_STEP_MIN_FLOPS: usize = 1 << 18;

/// Splits the unit panels into the chunks of each step (one per thread, or
/// one when the per-step product is too small to share). Which thread takes
/// a chunk never changes what it computes: results are bit-identical for
/// any thread count.
fn plan_chunks(unit_panels: usize, step_flops: usize) -> Vec<Range<usize>> {
    let threads = rayon::current_num_threads();
    let chunks = if step_flops < PARALLEL_STEP_MIN_FLOPS { 1 } else { threads.min(unit_panels).max(1) };
    let base = unit_panels / chunks;
    let extra = unit_panels % chunks;
    let mut start = 0;
    (0..chunks)
        .map(|w| {
            let len = base + usize::from(w < extra);
            let r = start..start + len;
            start += len;
            r
        })
        .collect()
}

/// Forward over all steps. `out` receives `h` of each valid step and zeros
/// elsewhere. Returns the final state and, when `keep_cache`, the cache.
/// Every cell but [`CellKind::GruResetBefore`] (its own loop, `super::gru_reset_before`).
#[allow(clippy::too_many_arguments)]
pub fn forward<F: Float>(
    spec: DirectionSpec<'_>,
    p: &CellParams<F>,
    packed: Option<&ForwardPack<F>>,
    input: ArrayView2<F>,
    h0: ArrayView2<F>,
    c0: Option<ArrayView2<F>>,
    mut out: ArrayViewMut2<F>,
    keep_cache: bool,
) -> (FinalState<F>, Option<DirectionCache<F>>) {
    debug_assert!(spec.cell != CellKind::GruResetBefore, "the stack runs it with gru_reset_before");
    let DirectionSpec { cell, layout, valid, reverse, acts } = spec;
    let (n, batch) = (layout.rows(), layout.batch);
    let hs = h0.ncols();
    let g_count = cell.gates();
    let gs = g_count * hs;

    // The input projection, gates = input · W_ihᵀ + bias. Without a cache
    // (inference), from IN_LOOP_PROJECTION_MIN_BATCH rows on, it is computed step by step inside
    // the time loop, each worker for its own units right before their cell
    // update: the gates are then still in cache when the update reads them,
    // where one GEMM over all steps up front would leave them in memory
    // (26 MB at N = 12800, H = 128), and the projection shares the loop's
    // threads. Below that, a step's projection is a matrix-vector product
    // that would stream all of W_ih from memory at every step (1 MiB at
    // I = H = 256: batch 1 was 25-40% slower so), so one GEMM over all steps
    // runs first, as it reads W_ih once. In training, whose gates are kept
    // for backward anyway, the in-loop projection measured 6% slower on the
    // whole step (LSTM T=200 B=64 H=128), so the GEMM up front stays there.
    // Hidden-side biases are folded in here, except GRU's b_hn, which the
    // reset gate scales.
    let in_loop = !keep_cache && batch >= IN_LOOP_PROJECTION_MIN_BATCH;
    let mut bias = p.bias_ih.clone().unwrap_or_else(|| Array1::zeros(gs));
    if let Some(b_hh) = p.bias_hh.as_ref() {
        let folded = if cell == CellKind::Gru { 2 * hs } else { gs };
        let mut head = bias.slice_mut(s![..folded]);
        head += &b_hh.slice(s![..folded]);
    }
    let bias = bias.as_slice().expect("contiguous");
    // Activated gates (kept for backward, or projected up front: a row per
    // (t, b)), or else one step's rows, reused. Every element is written
    // (bias, then the projection) before it is read.
    let mut gates = recycle::for_overwrite::<F>(if in_loop { batch } else { n }, gs);
    // Without kept packs (training: the weights change every step) pack here.
    let (local_ih, local_hh);
    let ih_gates = if in_loop {
        Some(match packed {
            Some(ForwardPack { ih_gates: Some(ih), .. }) => ih,
            _ => {
                local_ih = PackedGates::new(p.weight_ih.view(), g_count);
                &local_ih
            }
        })
    } else {
        // Filled in parallel: a serial pass over (N, G·H) would be a large
        // part of the forward's serial time at 2 threads.
        gates.axis_chunks_iter_mut(Axis(0), ROWS_PER_TASK).into_par_iter().for_each(|mut rows| {
            rows.rows_mut().into_iter().for_each(|mut r| r.assign(&ArrayView1::from(bias)));
        });
        match packed {
            Some(pk) => gemm_prepacked(input, &pk.w_ih_t, true, gates.view_mut()),
            None => gemm(input, p.weight_ih.t(), true, gates.view_mut()),
        }
        None
    };
    let hh_gates = match packed {
        Some(pk) => &pk.hh_gates,
        None => {
            local_hh = PackedGates::new(p.weight_hh.view(), g_count);
            &local_hh
        }
    };
    let b_hn = match (cell, p.bias_hh.as_ref()) {
        (CellKind::Gru, Some(b)) => Some(b.slice(s![2 * hs..]).to_owned()),
        _ => None,
    };

    let nr = F::nr();
    let per_step_depth = if in_loop { hs + input.ncols() } else { hs };
    let chunks = plan_chunks(hh_gates.unit_panels(), 2 * batch * gs * per_step_depth);
    let mut scratch: Vec<Array2<F>> = chunks.iter().map(|w| Array2::zeros((batch, g_count * w.len() * nr))).collect();

    // The state before and after each step, alternating: step s reads
    // h_bufs[s % 2] and writes h_bufs[(s + 1) % 2], so no step needs a copy.
    let mut h_bufs = [h0.to_owned(), Array2::<F>::zeros((batch, hs))]; // (B, H) each
    let mut c = (cell == CellKind::Lstm).then(|| c0.map_or_else(|| Array2::zeros((batch, hs)), |c0| c0.to_owned()));
    // The loop writes the cached states of every valid row; with padding the
    // other rows must hold zeros (finite: the weight gradients read them).
    let cached_states = || if valid.all() { recycle::for_overwrite::<F>(n, hs) } else { recycle::zeros::<F>(n, hs) };
    let mut h_prev = keep_cache.then(cached_states);
    let mut c_prev = (keep_cache && cell == CellKind::Lstm).then(cached_states);
    let mut gh_n = (cell == CellKind::Gru).then(|| recycle::zeros::<F>(if keep_cache { n } else { batch }, hs));

    let s_gates = Shared::new(&mut gates.view_mut());
    let s_out = Shared::new(&mut out);
    let s_h = [Shared::new(&mut h_bufs[0].view_mut()), Shared::new(&mut h_bufs[1].view_mut())];
    let s_c = c.as_mut().map(|c| Shared::new(&mut c.view_mut()));
    let s_h_prev = h_prev.as_mut().map(|a| Shared::new(&mut a.view_mut()));
    let s_c_prev = c_prev.as_mut().map(|a| Shared::new(&mut a.view_mut()));
    let s_gh_n = gh_n.as_mut().map(|a| Shared::new(&mut a.view_mut()));

    lockstep::run(layout.seq_len, &mut scratch, |step, w, gh| {
        let t = layout.time(step, reverse);
        let panels = chunks[w].clone();
        let units = panels.start * nr..hs.min(panels.end * nr);
        let len = units.len();
        let stride_h = panels.len() * nr;
        // SAFETY: lockstep runs step s + 1 only after every chunk of step s,
        // so during step s nobody writes h_bufs[s % 2] (read here as h_in);
        // this chunk writes only columns `units` (of each gate block, for
        // `gates`) of h_bufs[(s + 1) % 2], c and the rows of time t.
        unsafe {
            let h_in = s_h[step % 2].block(0, batch, 1, 0..hs);
            let h_in = h_in.view();
            let s_h_next = s_h[(step + 1) % 2];
            // This step's rows of `gates` (its rows of all steps', or the one
            // step's buffer); in the loop: bias, then + x_t · W_ihᵀ, for this
            // chunk's units.
            let (g_first, g_step) = if in_loop { (0, 1) } else { (layout.row(t, 0), layout.row(t, 1) - layout.row(t, 0)) };
            if let Some(ih_gates) = ih_gates {
                for b in 0..batch {
                    for g in 0..g_count {
                        let cols = g * hs + units.start..g * hs + units.end;
                        s_gates.row(g_first + b * g_step, cols.clone()).copy_from_slice(&bias[cols]);
                    }
                }
                let x_t = layout.step_rows(&input, t, 0..input.ncols());
                ih_gates.product_at(x_t, panels.clone(), true, s_gates.row_ptr(g_first), s_gates.row_stride * g_step);
            }
            // gh (B, G·U): this chunk's units' gates of W_hh·h for the whole batch.
            hh_gates.product(h_in, panels, gh.view_mut());
            for b in 0..batch {
                let r = layout.row(t, b);
                let h_old = &h_in.row(b).to_slice().expect("contiguous")[units.clone()];
                let h_new = s_h_next.row(b, units.clone());
                if !valid.is_valid(t, b) {
                    h_new.copy_from_slice(h_old); // the state passes through
                    s_out.row(r, units.clone()).fill(F::zero());
                    continue;
                }
                if let Some(hp) = s_h_prev {
                    hp.row(r, units.clone()).copy_from_slice(h_old);
                }
                let x = s_gates.row_from(g_first + b * g_step, units.start);
                let ghb = gh.row(b).to_slice().expect("contiguous");
                match (cell, acts) {
                    (CellKind::Rnn(act), None) => cells::rnn_forward(act, &mut x[..len], &ghb[..len], h_new),
                    (CellKind::Rnn(_), Some(a)) => any_act::rnn_forward(a, &mut x[..len], &ghb[..len], h_new),
                    (CellKind::Lstm, _) => {
                        let cb = s_c.expect("LSTM").row(b, units.clone());
                        if let Some(cp) = s_c_prev {
                            cp.row(r, units.clone()).copy_from_slice(cb);
                        }
                        match acts {
                            None => cells::lstm_forward(x, hs, ghb, stride_h, cb, h_new),
                            Some(a) => any_act::lstm_forward(a, x, hs, ghb, stride_h, cb, h_new),
                        }
                    }
                    (CellKind::GruResetBefore, _) => unreachable!("handled by gru_reset_before"),
                    (CellKind::Gru, _) => {
                        let rr = if keep_cache { r } else { b };
                        let ghn = s_gh_n.expect("GRU").row(rr, units.clone());
                        let bn = b_hn.as_ref().map(|v| &v.as_slice().expect("contiguous")[units.clone()]);
                        match acts {
                            None => cells::gru_forward(x, hs, ghb, stride_h, bn, ghn, h_old, h_new),
                            Some(a) => any_act::gru_forward(a, x, hs, ghb, stride_h, bn, ghn, h_old, h_new),
                        }
                    }
                }
                s_out.row(r, units.clone()).copy_from_slice(h_new);
            }
        }
    });
    let [h_even, h_odd] = h_bufs;
    let h_cur = if layout.seq_len % 2 == 0 { h_even } else { h_odd };

    let cache = if keep_cache {
        Some(DirectionCache { gates, h_prev: h_prev.expect("kept"), c_prev, gh_n })
    } else {
        recycle::give(gates);
        if let Some(g) = gh_n {
            recycle::give(g);
        }
        None
    };
    (FinalState { h: h_cur, c }, cache)
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
    debug_assert!(spec.cell != CellKind::GruResetBefore, "the stack runs it with gru_reset_before");
    let DirectionSpec { cell, layout, valid, reverse, acts } = spec;
    let DirectionCache { mut gates, h_prev, c_prev, mut gh_n } = cache;
    let hs = h_prev.ncols();
    let gs = gates.ncols();
    let batch = layout.batch;
    let nr = F::nr();

    let mut dh = dhn.map_or_else(|| Array2::zeros((batch, hs)), |d| d.to_owned());
    let mut dc = (cell == CellKind::Lstm).then(|| dcn.map_or_else(|| Array2::zeros((batch, hs)), |d| d.to_owned()));
    // Columns of the gate gradient that multiply W_hh directly; for GRU the
    // n block goes through gh_n instead.
    let direct_cols = if cell == CellKind::Gru { 2 * hs } else { gs };
    // W_hh packed for dh += dG·W_hh: the rows the gate gradient multiplies
    // directly, and GRU's n block (scaled by the reset gate) on its own.
    let w_direct = PackedB::new(p.weight_hh.slice(s![..direct_cols, ..]));
    let w_n = (cell == CellKind::Gru).then(|| PackedB::new(p.weight_hh.slice(s![direct_cols.., ..])));
    let (w_direct, w_n) = (&w_direct, w_n.as_ref());
    let chunks = plan_chunks(hs.div_ceil(nr), 2 * batch * gs * hs);
    let mut scratch: Vec<Vec<F>> = chunks.iter().map(|_| vec![F::zero(); hs]).collect();

    let s_gates = Shared::new(&mut gates.view_mut());
    let s_gh_n = gh_n.as_mut().map(|a| Shared::new(&mut a.view_mut()));
    let s_dh = Shared::new(&mut dh.view_mut());
    let s_dc = dc.as_mut().map(|a| Shared::new(&mut a.view_mut()));

    // dh[:, units] += dG_hidden(t) (B, ·) · W_hh[·, units]: the gradient that
    // flows from step t into the state before it.
    // SAFETY (for callers): writes only columns `units` of dh; reads rows of
    // time t of gates/gh_n, which nobody writes meanwhile.
    let through_w_hh = |t: usize, panels: Range<usize>, units: Range<usize>| unsafe {
        let first = layout.row(t, 0);
        let step = if batch > 1 { layout.row(t, 1) - first } else { 1 };
        let dst = s_dh.block(0, batch, 1, units.clone());
        let dg = s_gates.block(first, batch, step, 0..direct_cols);
        gemm_packed(dg.view(), w_direct, panels.clone(), true, dst);
        if let (Some(g), Some(w)) = (s_gh_n, w_n) {
            let dst = s_dh.block(0, batch, 1, units);
            gemm_packed(g.block(first, batch, step, 0..hs).view(), w, panels, true, dst);
        }
    };

    // Steps in reverse time order, then one more: the gradient from the
    // first processed step into the initial state.
    let steps = layout.seq_len;
    lockstep::run(steps + 1, &mut scratch, |i, w, tanh_c| {
        let panels = chunks[w].clone();
        let units = panels.start * nr..hs.min(panels.end * nr);
        if i == steps {
            through_w_hh(layout.time(0, reverse), panels, units);
            return;
        }
        let step = steps - 1 - i;
        let t = layout.time(step, reverse);
        if step + 1 < steps {
            through_w_hh(layout.time(step + 1, reverse), panels, units.clone());
        }
        // SAFETY: this chunk writes only columns `units` (of each gate
        // block) of rows of time t, and columns `units` of dh and dc; the
        // rows of later times that others read were finished last step.
        unsafe {
            for b in 0..batch {
                let r = layout.row(t, b);
                if !valid.is_valid(t, b) {
                    // The state passed through unchanged; so does its gradient.
                    let x = s_gates.row_from(r, units.start);
                    for k in 0..gs / hs {
                        x[k * hs..k * hs + units.len()].fill(F::zero());
                    }
                    if let Some(g) = s_gh_n {
                        g.row(r, units.clone()).fill(F::zero());
                    }
                    continue;
                }
                let dhb = s_dh.row(b, units.clone());
                if let Some(d) = dout.as_ref() {
                    for (acc, v) in dhb.iter_mut().zip(d.slice(s![r, units.clone()])) {
                        *acc += *v;
                    }
                }
                let x = s_gates.row_from(r, units.start);
                match (cell, acts) {
                    (CellKind::Rnn(act), None) => cells::rnn_backward(act, &mut x[..units.len()], dhb),
                    (CellKind::Rnn(_), Some(a)) => any_act::rnn_backward(a, &mut x[..units.len()], dhb),
                    (CellKind::Lstm, _) => {
                        let cp = &c_prev.as_ref().expect("LSTM caches c_prev").row(r).to_slice().expect("contiguous")[units.clone()];
                        let dcb = s_dc.expect("LSTM").row(b, units.clone());
                        match acts {
                            None => cells::lstm_backward(x, hs, cp, dhb, dcb, tanh_c),
                            Some(a) => any_act::lstm_backward(a, x, hs, cp, dhb, dcb, tanh_c),
                        }
                    }
                    (CellKind::GruResetBefore, _) => unreachable!("handled by gru_reset_before"),
                    (CellKind::Gru, _) => {
                        let hp = &h_prev.row(r).to_slice().expect("contiguous")[units.clone()];
                        let ghn = s_gh_n.expect("GRU").row(r, units.clone());
                        match acts {
                            None => cells::gru_backward(x, hs, ghn, hp, dhb),
                            Some(a) => any_act::gru_backward(a, x, hs, ghn, hp, dhb),
                        }
                    }
                }
            }
        }
    });

    // Parameter gradients over all steps at once.
    // dW_ih (G·H, I) += dGᵀ · input;  dW_hh += dG_hiddenᵀ · h_prev;  db += Σ_rows dG
    gemm(gates.t(), input, true, grads.weight_ih.view_mut());
    gemm(gates.slice(s![.., ..direct_cols]).t(), h_prev.view(), true, grads.weight_hh.slice_mut(s![..direct_cols, ..]));
    if let Some(g) = gh_n.as_ref() {
        gemm(g.t(), h_prev.view(), true, grads.weight_hh.slice_mut(s![direct_cols.., ..]));
    }
    if grads.bias_ih.is_some() || grads.bias_hh.is_some() {
        // One pass over the gate gradients serves both biases.
        let sums = column_sums(gates.view());
        if let Some(db) = grads.bias_ih.as_mut() {
            *db += &sums;
        }
        if let Some(db) = grads.bias_hh.as_mut() {
            let mut head = db.slice_mut(s![..direct_cols]);
            head += &sums.slice(s![..direct_cols]);
            if let Some(g) = gh_n.as_ref() {
                let mut tail = db.slice_mut(s![direct_cols..]);
                tail += &column_sums(g.view());
            }
        }
    }

    recycle::give(h_prev);
    for a in [c_prev, gh_n].into_iter().flatten() {
        recycle::give(a);
    }
    DirectionGrads { d_gates: gates, dh0: dh, dc0: dc }
}
