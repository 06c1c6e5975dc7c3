//! One direction of a GRU whose reset gate scales the state before the
//! recurrent product (Keras `reset_after=False`, ONNX `linear_before_reset=0`):
//! `n = tanh(W_in x + b_in + W_hn (r*h) + b_hn)`.
//!
//! `W_hn` reads `r*h` of every unit, so a step cannot be split by blocks of
//! hidden units as in [`super::direction`]; each step is two batch-wide
//! products instead (`W_hr,W_hz · h`, then `W_hn · (r*h)`), each parallel
//! inside the GEMM. Shapes as in [`super::direction`]; the cache keeps `r*h`
//! of each step (N, H) in place of `gh_n`.

use super::direction::{DirectionCache, DirectionGrads, DirectionSpec, FinalState};
use super::packed::ForwardPack;
use super::params::CellParams;
use crate::float::Float;
use crate::kernels::gemm::{gemm, gemm_prepacked, PackedB};
use crate::kernels::{cells, cells_any_activation as any_act};
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2, Axis};

fn row_mut<F>(a: &mut Array2<F>, r: usize) -> &mut [F] {
    a.row_mut(r).into_slice().expect("contiguous rows")
}

fn row<F>(a: &Array2<F>, r: usize) -> &[F] {
    a.row(r).to_slice().expect("contiguous rows")
}

/// Forward over all steps, as [`super::direction::forward`].
pub fn forward<F: Float>(
    spec: DirectionSpec<'_>,
    p: &CellParams<F>,
    packed: Option<&ForwardPack<F>>,
    input: ArrayView2<F>,
    h0: ArrayView2<F>,
    mut out: ArrayViewMut2<F>,
    keep_cache: bool,
) -> (FinalState<F>, Option<DirectionCache<F>>) {
    let DirectionSpec { layout, valid, reverse, acts, .. } = spec;
    let (n, batch) = (layout.rows(), layout.batch);
    let hs = h0.ncols();
    let gs = 3 * hs;

    // Every bias adds before a nonlinearity here (b_hn is not scaled by r), so all fold into the input projection.
    let mut bias = p.bias_ih.clone().unwrap_or_else(|| Array1::zeros(gs));
    if let Some(b_hh) = p.bias_hh.as_ref() {
        bias += b_hh;
    }
    let mut gates = Array2::<F>::zeros((n, gs));
    gates.rows_mut().into_iter().for_each(|mut r| r.assign(&bias));
    match packed {
        Some(pk) => gemm_prepacked(input, &pk.w_ih_t, true, gates.view_mut()),
        None => gemm(input, p.weight_ih.t(), true, gates.view_mut()),
    }
    let w_rz_t = PackedB::new(p.weight_hh.slice(s![..2 * hs, ..]).t());
    let w_n_t = PackedB::new(p.weight_hh.slice(s![2 * hs.., ..]).t());

    let mut h = h0.to_owned(); // (B, H)
    let mut gh = Array2::<F>::zeros((batch, 2 * hs)); // W_hr h, W_hz h
    let mut rh = Array2::<F>::zeros((batch, hs)); // r*h
    let mut gh_n = Array2::<F>::zeros((batch, hs)); // W_hn (r*h)
    let mut h_prev = keep_cache.then(|| Array2::<F>::zeros((n, hs)));
    let mut rh_all = keep_cache.then(|| Array2::<F>::zeros((n, hs)));

    for step in 0..layout.seq_len {
        let t = layout.time(step, reverse);
        gemm_prepacked(h.view(), &w_rz_t, false, gh.view_mut());
        for b in 0..batch {
            if valid.is_valid(t, b) {
                let x = row_mut(&mut gates, layout.row(t, b));
                let (gh_b, h_b, rh_b) = (row(&gh, b), row(&h, b), row_mut(&mut rh, b));
                match acts {
                    None => cells::gru_reset_before_gates(x, hs, gh_b, hs, h_b, rh_b),
                    Some(a) => any_act::gru_reset_before_gates(a, x, hs, gh_b, hs, h_b, rh_b),
                }
            } else {
                row_mut(&mut rh, b).fill(F::zero());
            }
        }
        gemm_prepacked(rh.view(), &w_n_t, false, gh_n.view_mut());
        for b in 0..batch {
            let r = layout.row(t, b);
            if !valid.is_valid(t, b) {
                out.row_mut(r).fill(F::zero()); // the state passes through
                continue;
            }
            if let Some(hp) = h_prev.as_mut() {
                row_mut(hp, r).copy_from_slice(row(&h, b));
            }
            if let Some(a) = rh_all.as_mut() {
                row_mut(a, r).copy_from_slice(row(&rh, b));
            }
            let (x, gh_n_b, h_b) = (row_mut(&mut gates, r), row(&gh_n, b), row_mut(&mut h, b));
            match acts {
                None => cells::gru_reset_before_update(x, hs, gh_n_b, h_b),
                Some(a) => any_act::gru_reset_before_update(a, x, hs, gh_n_b, h_b),
            }
            out.row_mut(r).assign(&h.row(b));
        }
    }

    let cache = keep_cache.then(|| DirectionCache { gates, h_prev: h_prev.expect("kept"), c_prev: None, gh_n: rh_all });
    (FinalState { h, c: None }, cache)
}

/// Backpropagation through time, as [`super::direction::backward`].
pub fn backward<F: Float>(
    spec: DirectionSpec<'_>,
    p: &CellParams<F>,
    grads: &mut CellParams<F>,
    input: ArrayView2<F>,
    cache: DirectionCache<F>,
    dout: Option<ArrayView2<F>>,
    dhn: Option<ArrayView2<F>>,
) -> DirectionGrads<F> {
    let DirectionSpec { layout, valid, reverse, acts, .. } = spec;
    let DirectionCache { mut gates, h_prev, gh_n: rh, .. } = cache;
    let rh = rh.expect("the reset-before GRU caches r*h");
    let hs = h_prev.ncols();
    let batch = layout.batch;

    let mut dh = dhn.map_or_else(|| Array2::zeros((batch, hs)), |d| d.to_owned());
    let w_n = PackedB::new(p.weight_hh.slice(s![2 * hs.., ..])); // d(r*h) = dn · W_hn
    let w_rz = PackedB::new(p.weight_hh.slice(s![..2 * hs, ..])); // dh += [dr, dz] · [W_hr; W_hz]
    let mut dn = Array2::<F>::zeros((batch, hs));
    let mut d_rh = Array2::<F>::zeros((batch, hs));
    let mut drz = Array2::<F>::zeros((batch, 2 * hs));

    for step in (0..layout.seq_len).rev() {
        let t = layout.time(step, reverse);
        for b in 0..batch {
            let r = layout.row(t, b);
            let x = row_mut(&mut gates, r);
            if !valid.is_valid(t, b) {
                // The state passed through unchanged; so does its gradient.
                x.fill(F::zero());
                row_mut(&mut dn, b).fill(F::zero());
                continue;
            }
            let dhb = row_mut(&mut dh, b);
            if let Some(d) = dout.as_ref() {
                for (acc, v) in dhb.iter_mut().zip(d.row(r)) {
                    *acc += *v;
                }
            }
            match acts {
                None => cells::gru_reset_before_backward_zn(x, hs, row(&h_prev, r), dhb),
                Some(a) => any_act::gru_reset_before_backward_zn(a, x, hs, row(&h_prev, r), dhb),
            }
            row_mut(&mut dn, b).copy_from_slice(&x[2 * hs..]);
        }
        gemm_prepacked(dn.view(), &w_n, false, d_rh.view_mut());
        for b in 0..batch {
            let r = layout.row(t, b);
            if !valid.is_valid(t, b) {
                row_mut(&mut drz, b).fill(F::zero());
                continue;
            }
            let x = row_mut(&mut gates, r);
            let (hp, drh, dhb) = (row(&h_prev, r), row(&d_rh, b), row_mut(&mut dh, b));
            match acts {
                None => cells::gru_reset_before_backward_r(&mut x[..hs], hp, drh, dhb),
                Some(a) => any_act::gru_reset_before_backward_r(a, &mut x[..hs], hp, drh, dhb),
            }
            row_mut(&mut drz, b).copy_from_slice(&x[..2 * hs]);
        }
        gemm_prepacked(drz.view(), &w_rz, true, dh.view_mut());
    }

    // Parameter gradients over all steps at once; every bias sums the gate gradients.
    gemm(gates.t(), input, true, grads.weight_ih.view_mut());
    gemm(gates.slice(s![.., ..2 * hs]).t(), h_prev.view(), true, grads.weight_hh.slice_mut(s![..2 * hs, ..]));
    gemm(gates.slice(s![.., 2 * hs..]).t(), rh.view(), true, grads.weight_hh.slice_mut(s![2 * hs.., ..]));
    let db = gates.sum_axis(Axis(0));
    for g in [grads.bias_ih.as_mut(), grads.bias_hh.as_mut()].into_iter().flatten() {
        *g += &db;
    }
    DirectionGrads { d_gates: gates, dh0: dh, dc0: None }
}
