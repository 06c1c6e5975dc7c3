//! One time step of each cell for one batch row: the gate activations and the
//! state update (forward), and the gate gradients (backward).
//!
//! The matrix products are done by the caller for all rows of a step at once;
//! these kernels take their results and do everything element-wise, in place,
//! while the row is hot in cache. Slices are `H` or `G·H` long, gates in
//! PyTorch's order (LSTM i,f,g,o; GRU r,z,n).

use crate::float::Float;
use crate::layers::config::Nonlinearity;

/// Plain RNN, forward. `gates` holds `W_ih x + b_ih` and becomes `h'`;
/// `gh` is `W_hh h + b_hh`; `h` becomes `h'`.
#[inline]
pub fn rnn_forward<F: Float>(act: Nonlinearity, gates: &mut [F], gh: &[F], h: &mut [F]) {
    add_assign(gates, gh);
    match act {
        Nonlinearity::Tanh => F::tanh_inplace(gates),
        Nonlinearity::Relu => gates.iter_mut().for_each(|v| *v = relu(*v)),
    }
    h.copy_from_slice(gates);
}

/// Plain RNN, backward. `gates` holds `h'` and becomes the gradient of the
/// pre-activation; `dh` holds the total gradient of `h'` and becomes the part
/// of the gradient of `h` that does not flow through `W_hh` (zero here).
#[inline]
pub fn rnn_backward<F: Float>(act: Nonlinearity, gates: &mut [F], dh: &mut [F]) {
    match act {
        Nonlinearity::Tanh => {
            for (g, d) in gates.iter_mut().zip(dh.iter()) {
                *g = *d * (F::one() - *g * *g);
            }
        }
        Nonlinearity::Relu => {
            for (g, d) in gates.iter_mut().zip(dh.iter()) {
                *g = if *g > F::zero() { *d } else { F::zero() };
            }
        }
    }
    dh.fill(F::zero());
}

/// LSTM, forward. `gates` (4H) holds `W_ih x + b_ih` and becomes the activated
/// gates i,f,g,o (kept for backward); `gh` is `W_hh h + b_hh`;
/// `h`, `c` become `h'`, `c'`.
#[inline]
pub fn lstm_forward<F: Float>(gates: &mut [F], gh: &[F], h: &mut [F], c: &mut [F]) {
    let hs = h.len();
    add_assign(gates, gh);
    let (ifg, o) = gates.split_at_mut(3 * hs);
    let (if_, g) = ifg.split_at_mut(2 * hs);
    F::sigmoid_inplace(if_);
    F::tanh_inplace(g);
    F::sigmoid_inplace(o);
    let (i, f) = if_.split_at(hs);
    for k in 0..hs {
        c[k] = f[k] * c[k] + i[k] * g[k];
    }
    h.copy_from_slice(c);
    F::tanh_inplace(h);
    for k in 0..hs {
        h[k] = o[k] * h[k];
    }
}

/// LSTM, backward. `gates` (4H) holds i,f,g,o and becomes the gradient of
/// their pre-activations; `c_prev` is the cell state before the step;
/// `dh`, `dc` hold the gradients of `h'`, `c'` and become those of `h`
/// (only the part not through `W_hh`: zero) and `c`. `tanh_c` is scratch (H).
#[inline]
pub fn lstm_backward<F: Float>(gates: &mut [F], c_prev: &[F], dh: &mut [F], dc: &mut [F], tanh_c: &mut [F]) {
    let hs = dh.len();
    let one = F::one();
    // Recompute c' exactly as the forward did, then tanh(c').
    for k in 0..hs {
        tanh_c[k] = gates[hs + k] * c_prev[k] + gates[k] * gates[2 * hs + k];
    }
    F::tanh_inplace(tanh_c);
    for k in 0..hs {
        let (i, f, g, o) = (gates[k], gates[hs + k], gates[2 * hs + k], gates[3 * hs + k]);
        let tc = tanh_c[k];
        let dct = dc[k] + dh[k] * o * (one - tc * tc);
        gates[k] = dct * g * i * (one - i);
        gates[hs + k] = dct * c_prev[k] * f * (one - f);
        gates[2 * hs + k] = dct * i * (one - g * g);
        gates[3 * hs + k] = dh[k] * tc * o * (one - o);
        dc[k] = dct * f;
        dh[k] = F::zero();
    }
}

/// GRU, forward. `gates` (3H) holds `W_ih x + b_ih` and becomes r,z,n;
/// `gh` (3H) is `W_hh h + b_hh`, of which the n block (`W_hn h + b_hn`, which
/// the reset gate scales) is copied to `gh_n` for backward; `h` becomes `h'`.
#[inline]
pub fn gru_forward<F: Float>(gates: &mut [F], gh: &[F], gh_n: &mut [F], h: &mut [F]) {
    let hs = h.len();
    let (rz, n) = gates.split_at_mut(2 * hs);
    add_assign(rz, &gh[..2 * hs]);
    F::sigmoid_inplace(rz);
    gh_n.copy_from_slice(&gh[2 * hs..]);
    for k in 0..hs {
        n[k] = n[k] + rz[k] * gh_n[k];
    }
    F::tanh_inplace(n);
    let z = &rz[hs..];
    for k in 0..hs {
        h[k] = n[k] + z[k] * (h[k] - n[k]);
    }
}

/// GRU, backward. `gates` (3H) holds r,z,n and becomes the gradient of the
/// input-side pre-activations; `gh_n` holds `W_hn h + b_hn` and becomes its
/// gradient (so the hidden-side gradient is `[gates[..2H], gh_n]`);
/// `dh` holds the gradient of `h'` and becomes the part of the gradient of
/// `h` not through `W_hh` (`dh'·z`).
#[inline]
pub fn gru_backward<F: Float>(gates: &mut [F], gh_n: &mut [F], h_prev: &[F], dh: &mut [F]) {
    let hs = dh.len();
    let one = F::one();
    for k in 0..hs {
        let (r, z, n) = (gates[k], gates[hs + k], gates[2 * hs + k]);
        let d = dh[k];
        let dn_pre = d * (one - z) * (one - n * n);
        let dz_pre = d * (h_prev[k] - n) * z * (one - z);
        let dr_pre = dn_pre * gh_n[k] * r * (one - r);
        gates[k] = dr_pre;
        gates[hs + k] = dz_pre;
        gates[2 * hs + k] = dn_pre;
        gh_n[k] = dn_pre * r;
        dh[k] = d * z;
    }
}

#[inline]
fn add_assign<F: Float>(a: &mut [F], b: &[F]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x = *x + *y;
    }
}

#[inline]
fn relu<F: Float>(v: F) -> F {
    // NaN stays NaN, as in PyTorch.
    if v < F::zero() {
        F::zero()
    } else {
        v
    }
}
