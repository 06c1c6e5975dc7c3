//! The cell steps of `cells` for any [`CellActivations`] (Keras's
//! `activation`/`recurrent_activation` other than tanh/sigmoid): the same
//! arguments and layout, with each activation and its derivative (from the
//! kept outputs) applied element-wise. The default pair keeps the fused
//! kernels of `cells`; these are their generic twins.

use super::cell_activation::CellActivations;
use super::cells::split_gates;
use crate::float::Float;

#[inline]
fn gate<F>(data: &[F], k: usize, stride: usize, len: usize) -> &[F] {
    &data[k * stride..k * stride + len]
}

#[inline]
fn add_assign<F: Float>(a: &mut [F], b: &[F]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += *y;
    }
}

/// Plain RNN, forward: `h' = act(x + gh)` (see `cells::rnn_forward`).
pub fn rnn_forward<F: Float>(a: CellActivations, x: &mut [F], gh: &[F], h_out: &mut [F]) {
    add_assign(x, gh);
    a.activation.apply(x);
    h_out.copy_from_slice(x);
}

/// Plain RNN, backward (see `cells::rnn_backward`).
pub fn rnn_backward<F: Float>(a: CellActivations, g: &mut [F], dh: &mut [F]) {
    for (g, d) in g.iter_mut().zip(dh.iter()) {
        *g = *d * a.activation.slope(*g);
    }
    dh.fill(F::zero());
}

/// LSTM, forward: `i, f, o = rec(·)`, `g = act(·)`, `c' = f*c + i*g`,
/// `h' = o*act(c')` (see `cells::lstm_forward`).
pub fn lstm_forward<F: Float>(a: CellActivations, x: &mut [F], stride_x: usize, gh: &[F], stride_h: usize, c: &mut [F], h_out: &mut [F]) {
    let n = c.len();
    let [i, f, g, o] = split_gates::<F, 4>(x, stride_x, n);
    for (k, block) in [&mut *i, &mut *f, &mut *g, &mut *o].into_iter().enumerate() {
        add_assign(block, gate(gh, k, stride_h, n));
    }
    a.recurrent.apply(i);
    a.recurrent.apply(f);
    a.activation.apply(g);
    a.recurrent.apply(o);
    for k in 0..n {
        c[k] = f[k] * c[k] + i[k] * g[k];
    }
    h_out.copy_from_slice(c);
    a.activation.apply(h_out);
    for k in 0..n {
        h_out[k] = o[k] * h_out[k];
    }
}

/// LSTM, backward (see `cells::lstm_backward`); `act_c` is scratch.
pub fn lstm_backward<F: Float>(
    a: CellActivations,
    gates: &mut [F],
    stride: usize,
    c_prev: &[F],
    dh: &mut [F],
    dc: &mut [F],
    act_c: &mut [F],
) {
    let n = dh.len();
    let [i, f, g, o] = split_gates::<F, 4>(gates, stride, n);
    let act_c = &mut act_c[..n];
    for k in 0..n {
        act_c[k] = f[k] * c_prev[k] + i[k] * g[k];
    }
    a.activation.apply(act_c);
    let (act, rec) = (a.activation, a.recurrent);
    for k in 0..n {
        let (iv, fv, gv, ov, ac) = (i[k], f[k], g[k], o[k], act_c[k]);
        let dct = dc[k] + dh[k] * ov * act.slope(ac);
        i[k] = dct * gv * rec.slope(iv);
        f[k] = dct * c_prev[k] * rec.slope(fv);
        g[k] = dct * iv * act.slope(gv);
        o[k] = dh[k] * ac * rec.slope(ov);
        dc[k] = dct * fv;
        dh[k] = F::zero();
    }
}

/// GRU (reset after the product), forward (see `cells::gru_forward`).
#[allow(clippy::too_many_arguments)]
pub fn gru_forward<F: Float>(
    a: CellActivations,
    x: &mut [F],
    stride_x: usize,
    gh: &[F],
    stride_h: usize,
    b_hn: Option<&[F]>,
    gh_n: &mut [F],
    h_in: &[F],
    h_out: &mut [F],
) {
    let len = h_in.len();
    let [r, z, n] = split_gates::<F, 3>(x, stride_x, len);
    add_assign(r, gate(gh, 0, stride_h, len));
    add_assign(z, gate(gh, 1, stride_h, len));
    a.recurrent.apply(r);
    a.recurrent.apply(z);
    gh_n.copy_from_slice(gate(gh, 2, stride_h, len));
    if let Some(b) = b_hn {
        add_assign(gh_n, b);
    }
    for k in 0..len {
        n[k] += r[k] * gh_n[k];
    }
    a.activation.apply(n);
    for k in 0..len {
        h_out[k] = n[k] + z[k] * (h_in[k] - n[k]);
    }
}

/// GRU (reset after the product), backward (see `cells::gru_backward`).
pub fn gru_backward<F: Float>(a: CellActivations, gates: &mut [F], stride: usize, gh_n: &mut [F], h_prev: &[F], dh: &mut [F]) {
    let len = dh.len();
    let one = F::one();
    let [r, z, n] = split_gates::<F, 3>(gates, stride, len);
    for k in 0..len {
        let (rv, zv, nv, d) = (r[k], z[k], n[k], dh[k]);
        let dn_pre = d * (one - zv) * a.activation.slope(nv);
        r[k] = dn_pre * gh_n[k] * a.recurrent.slope(rv);
        z[k] = d * (h_prev[k] - nv) * a.recurrent.slope(zv);
        n[k] = dn_pre;
        gh_n[k] = dn_pre * rv;
        dh[k] = d * zv;
    }
}

/// GRU with the reset gate before the product, first half (see `cells::gru_reset_before_gates`).
pub fn gru_reset_before_gates<F: Float>(
    a: CellActivations,
    x: &mut [F],
    stride_x: usize,
    gh: &[F],
    stride_h: usize,
    h_in: &[F],
    rh: &mut [F],
) {
    let len = h_in.len();
    let [r, z, _] = split_gates::<F, 3>(x, stride_x, len);
    add_assign(r, gate(gh, 0, stride_h, len));
    add_assign(z, gate(gh, 1, stride_h, len));
    a.recurrent.apply(r);
    a.recurrent.apply(z);
    for k in 0..len {
        rh[k] = r[k] * h_in[k];
    }
}

/// Second half (see `cells::gru_reset_before_update`).
pub fn gru_reset_before_update<F: Float>(a: CellActivations, x: &mut [F], stride_x: usize, gh_n: &[F], h: &mut [F]) {
    let len = h.len();
    let [_, z, n] = split_gates::<F, 3>(x, stride_x, len);
    add_assign(n, gh_n);
    a.activation.apply(n);
    for k in 0..len {
        h[k] = n[k] + z[k] * (h[k] - n[k]);
    }
}

/// Backward of z and n (see `cells::gru_reset_before_backward_zn`).
pub fn gru_reset_before_backward_zn<F: Float>(a: CellActivations, gates: &mut [F], stride: usize, h_prev: &[F], dh: &mut [F]) {
    let len = dh.len();
    let one = F::one();
    let [_, z, n] = split_gates::<F, 3>(gates, stride, len);
    for k in 0..len {
        let (zv, nv, d) = (z[k], n[k], dh[k]);
        n[k] = d * (one - zv) * a.activation.slope(nv);
        z[k] = d * (h_prev[k] - nv) * a.recurrent.slope(zv);
        dh[k] = d * zv;
    }
}

/// Backward of r (see `cells::gru_reset_before_backward_r`).
pub fn gru_reset_before_backward_r<F: Float>(a: CellActivations, gates: &mut [F], h_prev: &[F], d_rh: &[F], dh: &mut [F]) {
    for k in 0..dh.len() {
        let rv = gates[k];
        gates[k] = d_rh[k] * h_prev[k] * a.recurrent.slope(rv);
        dh[k] += d_rh[k] * rv;
    }
}

#[cfg(test)]
mod tests {
    use super::super::cells;
    use super::*;

    fn values(n: usize, salt: usize) -> Vec<f64> {
        (0..n).map(|i| ((i * 7919 + salt * 104_729) % 211) as f64 / 70.0 - 1.5).collect()
    }

    /// With tanh/sigmoid the generic steps compute what the fused kernels do.
    #[test]
    fn the_default_pair_gives_the_fused_kernels_results() {
        let a = CellActivations::DEFAULT;
        let (n, stride) = (13, 16);
        let close = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-14);
        let (mut x1, mut c1, mut h1) = (values(4 * stride, 1), values(n, 2), vec![0.0; n]);
        let (mut x2, mut c2, mut h2) = (x1.clone(), c1.clone(), h1.clone());
        let (gh, c_prev) = (values(4 * stride, 3), c1.clone());
        cells::lstm_forward(&mut x1, stride, &gh, stride, &mut c1, &mut h1);
        lstm_forward(a, &mut x2, stride, &gh, stride, &mut c2, &mut h2);
        assert!(close(&x1, &x2) && close(&c1, &c2) && close(&h1, &h2));
        let (mut dh1, mut dc1, mut s) = (values(n, 4), values(n, 5), vec![0.0; n]);
        let (mut dh2, mut dc2) = (dh1.clone(), dc1.clone());
        cells::lstm_backward(&mut x1, stride, &c_prev, &mut dh1, &mut dc1, &mut s);
        lstm_backward(a, &mut x2, stride, &c_prev, &mut dh2, &mut dc2, &mut s);
        assert!(close(&x1, &x2) && close(&dc1, &dc2) && close(&dh1, &dh2));
        let (mut x1, h_in, mut g1, mut o1) = (values(3 * stride, 6), values(n, 7), vec![0.0; n], vec![0.0; n]);
        let (mut x2, mut g2, mut o2) = (x1.clone(), g1.clone(), o1.clone());
        let (gh, b) = (values(3 * stride, 8), values(n, 9));
        cells::gru_forward(&mut x1, stride, &gh, stride, Some(&b[..]), &mut g1, &h_in, &mut o1);
        gru_forward(a, &mut x2, stride, &gh, stride, Some(&b[..]), &mut g2, &h_in, &mut o2);
        assert!(close(&x1, &x2) && close(&g1, &g2) && close(&o1, &o2));
        let (mut d1, mut d2) = (values(n, 10), values(n, 10));
        cells::gru_backward(&mut x1, stride, &mut g1, &h_in, &mut d1);
        gru_backward(a, &mut x2, stride, &mut g2, &h_in, &mut d2);
        assert!(close(&x1, &x2) && close(&g1, &g2) && close(&d1, &d2));
    }
}
