//! One direction with Keras's recurrent dropout (its `implementation=1`):
//! one mask per gate on the state entering each step and, with `dropout`,
//! one per gate on the input; drawn once per call, the same at every step.
//!
//! Each gate reads its own masked copy of `h`, so a step cannot be one
//! `W_hh·h`: every gate block is its own batch-wide product
//! `(h*m_g)·W_hh,gᵀ` (parallel inside the GEMM above its threshold), then
//! the cell kernels of [`super::direction`] apply. Only a training forward
//! with recurrent dropout runs here; every other pass keeps the fused loops.
//!
//! Masks are in the weights' gate order, PyTorch's: LSTM i,f,g,o (Keras's
//! too), GRU r,z,n (Keras's masks are z,r,h). Shapes as in [`super::direction`];
//! the cache keeps `h_prev` unmasked (each gate's masked copy is rebuilt
//! for the weight gradients) and, for the reset-before GRU, `r*(h*m_n)`.

use super::config::CellKind;
use super::direction::{DirectionCache, DirectionGrads, DirectionSpec, FinalState};
use super::params::CellParams;
use super::sequence::SeqLayout;
use crate::float::Float;
use crate::kernels::gemm::{gemm, gemm_prepacked, PackedB};
use crate::kernels::{cells, cells_any_activation as any_act};
use ndarray::{s, Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, Axis, Zip};

/// The dropout masks of one direction of one layer: 0 or 1/(1-rate) each.
#[derive(Debug, Clone, PartialEq)]
pub struct GateMasks<F> {
    /// On `h_{t-1}`, one per gate: (G, B, H).
    pub recurrent: Array3<F>,
    /// On the input, one per gate: (G, B, I); `None`: the input unmasked.
    pub input: Option<Array3<F>>,
}

fn row_mut<F>(a: &mut Array2<F>, r: usize) -> &mut [F] {
    a.row_mut(r).into_slice().expect("contiguous rows")
}

fn row<F>(a: &Array2<F>, r: usize) -> &[F] {
    a.row(r).to_slice().expect("contiguous rows")
}

/// `a` (N, C) with row (t, b) multiplied by `mask` row b (B, C).
pub(super) fn masked_rows<F: Float>(a: ArrayView2<F>, mask: ArrayView2<F>, layout: SeqLayout) -> Array2<F> {
    let mut out = Array2::<F>::zeros(a.raw_dim());
    for t in 0..layout.seq_len {
        for b in 0..layout.batch {
            let r = layout.row(t, b);
            Zip::from(out.row_mut(r)).and(a.row(r)).and(mask.row(b)).for_each(|o, &v, &m| *o = v * m);
        }
    }
    out
}

/// `acc += a * m`, element-wise, all (B, H).
fn add_masked<F: Float>(acc: &mut Array2<F>, a: &Array2<F>, m: ArrayView2<F>) {
    Zip::from(acc).and(a).and(m).for_each(|o, &v, &k| *o += v * k);
}

/// Forward over all steps of a training pass (always keeps the cache).
#[allow(clippy::too_many_arguments)]
pub fn forward<F: Float>(
    spec: DirectionSpec<'_>,
    p: &CellParams<F>,
    masks: &GateMasks<F>,
    input: ArrayView2<F>,
    h0: ArrayView2<F>,
    c0: Option<ArrayView2<F>>,
    mut out: ArrayViewMut2<F>,
) -> (FinalState<F>, DirectionCache<F>) {
    let DirectionSpec { cell, layout, valid, reverse, acts } = spec;
    let (n, batch) = (layout.rows(), layout.batch);
    let hs = h0.ncols();
    let g_count = cell.gates();
    let gs = g_count * hs;
    let block = |g: usize| g * hs..(g + 1) * hs;

    // Biases folded as the fused loops fold them; GRU's b_hn stays out (r scales it).
    let mut bias = p.bias_ih.clone().unwrap_or_else(|| Array1::zeros(gs));
    if let Some(b_hh) = p.bias_hh.as_ref() {
        let folded = if cell == CellKind::Gru { 2 * hs } else { gs };
        let mut head = bias.slice_mut(s![..folded]);
        head += &b_hh.slice(s![..folded]);
    }
    let b_hn = match (cell, p.bias_hh.as_ref()) {
        (CellKind::Gru, Some(b)) => Some(b.slice(s![2 * hs..]).to_owned()),
        _ => None,
    };
    // Input projection of every step (N, G·H); each gate its own masked input when there are input masks.
    let mut gates = Array2::<F>::zeros((n, gs));
    gates.rows_mut().into_iter().for_each(|mut r| r.assign(&bias));
    match masks.input.as_ref() {
        None => gemm(input, p.weight_ih.t(), true, gates.view_mut()),
        Some(m) => {
            for g in 0..g_count {
                let xg = masked_rows(input, m.index_axis(Axis(0), g), layout);
                gemm(xg.view(), p.weight_ih.slice(s![block(g), ..]).t(), true, gates.slice_mut(s![.., block(g)]));
            }
        }
    }
    let w_t: Vec<PackedB<F>> = (0..g_count).map(|g| PackedB::new(p.weight_hh.slice(s![block(g), ..]).t())).collect();
    let rec = &masks.recurrent;
    let reset_before = cell == CellKind::GruResetBefore;
    // The reset-before GRU's n block multiplies r*(h*m_n), known only after r.
    let direct = if reset_before { 2 } else { g_count };

    let mut h = h0.to_owned(); // (B, H)
    let mut c = (cell == CellKind::Lstm).then(|| c0.map_or_else(|| Array2::zeros((batch, hs)), |c0| c0.to_owned()));
    let mut h_prev = Array2::<F>::zeros((n, hs));
    let mut c_prev = (cell == CellKind::Lstm).then(|| Array2::<F>::zeros((n, hs)));
    let mut gh_n = matches!(cell, CellKind::Gru | CellKind::GruResetBefore).then(|| Array2::<F>::zeros((n, hs)));
    let mut gh = Array2::<F>::zeros((batch, gs)); // (h*m_g)·W_hh,gᵀ per gate
    let mut hm = Array2::<F>::zeros((batch, hs));
    let mut rh = Array2::<F>::zeros((batch, hs));
    let mut gh_rb = Array2::<F>::zeros((batch, hs));

    for step in 0..layout.seq_len {
        let t = layout.time(step, reverse);
        for (g, w) in w_t.iter().enumerate().take(direct) {
            Zip::from(&mut hm).and(&h).and(rec.index_axis(Axis(0), g)).for_each(|o, &v, &m| *o = v * m);
            gemm_prepacked(hm.view(), w, false, gh.slice_mut(s![.., block(g)]));
        }
        if reset_before {
            Zip::from(&mut hm).and(&h).and(rec.index_axis(Axis(0), 2)).for_each(|o, &v, &m| *o = v * m);
            for b in 0..batch {
                let r = layout.row(t, b);
                if !valid.is_valid(t, b) {
                    row_mut(&mut rh, b).fill(F::zero());
                    continue;
                }
                let (x, gh_b, hm_b, rh_b) = (row_mut(&mut gates, r), row(&gh, b), row(&hm, b), row_mut(&mut rh, b));
                match acts {
                    None => cells::gru_reset_before_gates(x, hs, gh_b, hs, hm_b, rh_b),
                    Some(a) => any_act::gru_reset_before_gates(a, x, hs, gh_b, hs, hm_b, rh_b),
                }
            }
            gemm_prepacked(rh.view(), &w_t[2], false, gh_rb.view_mut());
        }
        for b in 0..batch {
            let r = layout.row(t, b);
            if !valid.is_valid(t, b) {
                out.row_mut(r).fill(F::zero()); // the state passes through
                continue;
            }
            row_mut(&mut h_prev, r).copy_from_slice(row(&h, b));
            let x = row_mut(&mut gates, r);
            let h_b = row_mut(&mut h, b);
            let gh_b = row(&gh, b);
            match (cell, acts) {
                (CellKind::Rnn(act), None) => cells::rnn_forward(act, x, gh_b, h_b),
                (CellKind::Rnn(_), Some(a)) => any_act::rnn_forward(a, x, gh_b, h_b),
                (CellKind::Lstm, _) => {
                    let cb = row_mut(c.as_mut().expect("LSTM"), b);
                    row_mut(c_prev.as_mut().expect("LSTM"), r).copy_from_slice(cb);
                    match acts {
                        None => cells::lstm_forward(x, hs, gh_b, hs, cb, h_b),
                        Some(a) => any_act::lstm_forward(a, x, hs, gh_b, hs, cb, h_b),
                    }
                }
                (CellKind::Gru, _) => {
                    let ghn = row_mut(gh_n.as_mut().expect("GRU"), r);
                    let bn = b_hn.as_ref().map(|v| v.as_slice().expect("contiguous"));
                    let h_in = row(&h_prev, r);
                    match acts {
                        None => cells::gru_forward(x, hs, gh_b, hs, bn, ghn, h_in, h_b),
                        Some(a) => any_act::gru_forward(a, x, hs, gh_b, hs, bn, ghn, h_in, h_b),
                    }
                }
                (CellKind::GruResetBefore, _) => {
                    row_mut(gh_n.as_mut().expect("GRU"), r).copy_from_slice(row(&rh, b));
                    match acts {
                        None => cells::gru_reset_before_update(x, hs, row(&gh_rb, b), h_b),
                        Some(a) => any_act::gru_reset_before_update(a, x, hs, row(&gh_rb, b), h_b),
                    }
                }
            }
            out.row_mut(r).assign(&h.row(b));
        }
    }
    (FinalState { h, c }, DirectionCache { gates, h_prev, c_prev, gh_n })
}

/// Backpropagation through time, as [`super::direction::backward`]: the
/// gradient reaches `h_{t-1}` through each gate's mask, and `W_hh,g` sees
/// the masked state of its gate.
#[allow(clippy::too_many_arguments)]
pub fn backward<F: Float>(
    spec: DirectionSpec<'_>,
    p: &CellParams<F>,
    grads: &mut CellParams<F>,
    masks: &GateMasks<F>,
    input: ArrayView2<F>,
    cache: DirectionCache<F>,
    dout: Option<ArrayView2<F>>,
    dhn: Option<ArrayView2<F>>,
    dcn: Option<ArrayView2<F>>,
) -> DirectionGrads<F> {
    let DirectionSpec { cell, layout, valid, reverse, acts } = spec;
    let DirectionCache { mut gates, h_prev, c_prev, mut gh_n } = cache;
    let hs = h_prev.ncols();
    let g_count = cell.gates();
    let batch = layout.batch;
    let block = |g: usize| g * hs..(g + 1) * hs;
    let rec = &masks.recurrent;
    let reset_before = cell == CellKind::GruResetBefore;

    let mut dh = dhn.map_or_else(|| Array2::zeros((batch, hs)), |d| d.to_owned());
    let mut dc = (cell == CellKind::Lstm).then(|| dcn.map_or_else(|| Array2::zeros((batch, hs)), |d| d.to_owned()));
    let w: Vec<PackedB<F>> = (0..g_count).map(|g| PackedB::new(p.weight_hh.slice(s![block(g), ..]))).collect();
    let mut tanh_c = vec![F::zero(); hs];
    let mut d_block = Array2::<F>::zeros((batch, hs));
    let mut d_hm = Array2::<F>::zeros((batch, hs));
    let mut hm_b = vec![F::zero(); hs];

    for step in (0..layout.seq_len).rev() {
        let t = layout.time(step, reverse);
        for b in 0..batch {
            let r = layout.row(t, b);
            let x = row_mut(&mut gates, r);
            if !valid.is_valid(t, b) {
                // The state passed through unchanged; so does its gradient.
                x.fill(F::zero());
                if let Some(g) = gh_n.as_mut() {
                    row_mut(g, r).fill(F::zero());
                }
                continue;
            }
            let dhb = row_mut(&mut dh, b);
            if let Some(d) = dout.as_ref() {
                for (acc, v) in dhb.iter_mut().zip(d.row(r)) {
                    *acc += *v;
                }
            }
            let hp = row(&h_prev, r);
            match (cell, acts) {
                (CellKind::Rnn(act), None) => cells::rnn_backward(act, x, dhb),
                (CellKind::Rnn(_), Some(a)) => any_act::rnn_backward(a, x, dhb),
                (CellKind::Lstm, _) => {
                    let cp = row(c_prev.as_ref().expect("LSTM caches c_prev"), r);
                    let dcb = row_mut(dc.as_mut().expect("LSTM"), b);
                    match acts {
                        None => cells::lstm_backward(x, hs, cp, dhb, dcb, &mut tanh_c),
                        Some(a) => any_act::lstm_backward(a, x, hs, cp, dhb, dcb, &mut tanh_c),
                    }
                }
                (CellKind::Gru, _) => {
                    let ghn = row_mut(gh_n.as_mut().expect("GRU"), r);
                    match acts {
                        None => cells::gru_backward(x, hs, ghn, hp, dhb),
                        Some(a) => any_act::gru_backward(a, x, hs, ghn, hp, dhb),
                    }
                }
                (CellKind::GruResetBefore, _) => match acts {
                    None => cells::gru_reset_before_backward_zn(x, hs, hp, dhb),
                    Some(a) => any_act::gru_reset_before_backward_zn(a, x, hs, hp, dhb),
                },
            }
        }
        if reset_before {
            // d(r*(h*m_n)) = dn·W_hn; then r's gradient and the share of dh through h*m_n.
            let dn = layout.step_rows(&gates, t, block(2));
            gemm_prepacked(dn, &w[2], false, d_block.view_mut());
            d_hm.fill(F::zero());
            let m_n = rec.index_axis(Axis(0), 2);
            for b in 0..batch {
                let r = layout.row(t, b);
                if !valid.is_valid(t, b) {
                    continue;
                }
                Zip::from(&mut hm_b[..]).and(h_prev.row(r)).and(m_n.row(b)).for_each(|o, &v, &m| *o = v * m);
                let x = row_mut(&mut gates, r);
                let (drh, dhm) = (row(&d_block, b), row_mut(&mut d_hm, b));
                match acts {
                    None => cells::gru_reset_before_backward_r(&mut x[..hs], &hm_b, drh, dhm),
                    Some(a) => any_act::gru_reset_before_backward_r(a, &mut x[..hs], &hm_b, drh, dhm),
                }
            }
            add_masked(&mut dh, &d_hm, m_n);
        }
        // Into h_{t-1} through each gate's product of its masked state.
        for (g, w_g) in w.iter().enumerate().take(if reset_before { 2 } else { g_count }) {
            let d = match (cell, gh_n.as_ref()) {
                (CellKind::Gru, Some(ghn)) if g == 2 => layout.step_rows(ghn, t, 0..hs),
                _ => layout.step_rows(&gates, t, block(g)),
            };
            gemm_prepacked(d, w_g, false, d_block.view_mut());
            add_masked(&mut dh, &d_block, rec.index_axis(Axis(0), g));
        }
    }

    // Parameter gradients over all steps at once.
    match masks.input.as_ref() {
        None => gemm(gates.t(), input, true, grads.weight_ih.view_mut()),
        Some(m) => {
            for g in 0..g_count {
                let xg = masked_rows(input, m.index_axis(Axis(0), g), layout);
                gemm(gates.slice(s![.., block(g)]).t(), xg.view(), true, grads.weight_ih.slice_mut(s![block(g), ..]));
            }
        }
    }
    for g in 0..g_count {
        let dw = grads.weight_hh.slice_mut(s![block(g), ..]);
        match (cell, gh_n.as_ref()) {
            // The cached r*(h*m_n) already holds its mask.
            (CellKind::GruResetBefore, Some(rh)) if g == 2 => gemm(gates.slice(s![.., block(2)]).t(), rh.view(), true, dw),
            (CellKind::Gru, Some(ghn)) if g == 2 => {
                let state = masked_rows(h_prev.view(), rec.index_axis(Axis(0), 2), layout);
                gemm(ghn.t(), state.view(), true, dw)
            }
            _ => {
                let state = masked_rows(h_prev.view(), rec.index_axis(Axis(0), g), layout);
                gemm(gates.slice(s![.., block(g)]).t(), state.view(), true, dw)
            }
        }
    }
    let sums = gates.sum_axis(Axis(0));
    if let Some(db) = grads.bias_ih.as_mut() {
        *db += &sums;
    }
    if let Some(db) = grads.bias_hh.as_mut() {
        match (cell, gh_n.as_ref()) {
            (CellKind::Gru, Some(ghn)) => {
                let mut head = db.slice_mut(s![..2 * hs]);
                head += &sums.slice(s![..2 * hs]);
                let mut tail = db.slice_mut(s![2 * hs..]);
                tail += &ghn.sum_axis(Axis(0));
            }
            _ => *db += &sums,
        }
    }
    DirectionGrads { d_gates: gates, dh0: dh, dc0: dc }
}

/// `d_input += Σ_g (dG_g·W_ih,g) * m_g`: each gate read its own masked copy of the input.
pub fn add_input_grad<F: Float>(
    d_gates: ArrayView2<F>,
    w_ih: ArrayView2<F>,
    input_masks: ArrayView3<F>,
    layout: SeqLayout,
    d_input: &mut Array2<F>,
) {
    let hs = d_gates.ncols() / input_masks.shape()[0];
    let mut part = Array2::<F>::zeros(d_input.raw_dim());
    for (g, m) in input_masks.outer_iter().enumerate() {
        let cols = g * hs..(g + 1) * hs;
        gemm(d_gates.slice(s![.., cols.clone()]), w_ih.slice(s![cols, ..]), false, part.view_mut());
        for t in 0..layout.seq_len {
            for b in 0..layout.batch {
                let r = layout.row(t, b);
                Zip::from(d_input.row_mut(r)).and(part.row(r)).and(m.row(b)).for_each(|o, &v, &k| *o += v * k);
            }
        }
    }
}
