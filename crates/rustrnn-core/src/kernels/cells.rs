//! One time step of each cell for one batch row and a block of hidden units:
//! the gate activations and state update (forward), and the gate gradients
//! (backward).
//!
//! The matrix products are done by the caller; these kernels take their
//! results and do everything element-wise, in place, while the row is hot in
//! cache. A row's gates are `len`-long slices lying `stride` apart (PyTorch's
//! order: LSTM i,f,g,o; GRU r,z,n), so the same kernels serve a full row
//! (`stride = H`) and a worker's block of units inside it.

use super::nonlinearity::Nonlinearity;
use crate::float::Float;

/// The `G` gate slices `data[k·stride .. k·stride + len]`.
#[inline]
pub fn split_gates<F, const G: usize>(data: &mut [F], stride: usize, len: usize) -> [&mut [F]; G] {
    debug_assert!(len <= stride || G == 1);
    let mut rest = data;
    std::array::from_fn(|k| {
        let taken = std::mem::take(&mut rest);
        if k + 1 < G {
            let (head, tail) = taken.split_at_mut(stride);
            rest = tail;
            &mut head[..len]
        } else {
            &mut taken[..len]
        }
    })
}

#[inline]
fn gate<F>(data: &[F], k: usize, stride: usize, len: usize) -> &[F] {
    &data[k * stride..k * stride + len]
}

/// Plain RNN, forward. `x` holds `W_ih x + b` and becomes `h'`; `gh` is
/// `W_hh h`; `h_out` receives `h'`.
#[inline]
pub fn rnn_forward<F: Float>(act: Nonlinearity, x: &mut [F], gh: &[F], h_out: &mut [F]) {
    add_assign(x, gh);
    match act {
        Nonlinearity::Tanh => F::tanh_inplace(x),
        Nonlinearity::Relu => x.iter_mut().for_each(|v| *v = relu(*v)),
    }
    h_out.copy_from_slice(x);
}

/// Plain RNN, backward. `g` holds `h'` and becomes the gradient of the
/// pre-activation; `dh` holds the gradient of `h'` and becomes the part of the
/// gradient of `h` that does not flow through `W_hh` (zero).
#[inline]
pub fn rnn_backward<F: Float>(act: Nonlinearity, g: &mut [F], dh: &mut [F]) {
    match act {
        Nonlinearity::Tanh => {
            for (g, d) in g.iter_mut().zip(dh.iter()) {
                *g = *d * (F::one() - *g * *g);
            }
        }
        Nonlinearity::Relu => {
            for (g, d) in g.iter_mut().zip(dh.iter()) {
                *g = if *g > F::zero() { *d } else { F::zero() };
            }
        }
    }
    dh.fill(F::zero());
}

/// LSTM, forward. `x` (gates `stride_x` apart) holds `W_ih x + b_ih + b_hh`
/// and becomes the activated gates i,f,g,o (kept for backward); `gh` (gates
/// `stride_h` apart) is `W_hh h`; `c` becomes `c'` and `h_out` receives `h'`.
#[inline]
pub fn lstm_forward<F: Float>(x: &mut [F], stride_x: usize, gh: &[F], stride_h: usize, c: &mut [F], h_out: &mut [F]) {
    let n = c.len();
    let [i, f, g, o] = split_gates::<F, 4>(x, stride_x, n);
    add_assign(i, gate(gh, 0, stride_h, n));
    add_assign(f, gate(gh, 1, stride_h, n));
    add_assign(g, gate(gh, 2, stride_h, n));
    add_assign(o, gate(gh, 3, stride_h, n));
    F::sigmoid_inplace(i);
    F::sigmoid_inplace(f);
    F::tanh_inplace(g);
    F::sigmoid_inplace(o);
    for k in 0..n {
        c[k] = f[k] * c[k] + i[k] * g[k];
    }
    h_out.copy_from_slice(c);
    F::tanh_inplace(h_out);
    for k in 0..n {
        h_out[k] = o[k] * h_out[k];
    }
}

/// LSTM, backward. `gates` (`stride` apart) hold i,f,g,o and become the
/// gradient of their pre-activations; `c_prev` is the cell state before the
/// step; `dh`, `dc` hold the gradients of `h'`, `c'` and become those of `h`
/// (the part not through `W_hh`: zero) and `c`. `tanh_c` is scratch.
#[inline]
pub fn lstm_backward<F: Float>(gates: &mut [F], stride: usize, c_prev: &[F], dh: &mut [F], dc: &mut [F], tanh_c: &mut [F]) {
    let n = dh.len();
    let one = F::one();
    let [i, f, g, o] = split_gates::<F, 4>(gates, stride, n);
    let tanh_c = &mut tanh_c[..n];
    // Recompute c' exactly as the forward did, then tanh(c').
    for k in 0..n {
        tanh_c[k] = f[k] * c_prev[k] + i[k] * g[k];
    }
    F::tanh_inplace(tanh_c);
    for k in 0..n {
        let (iv, fv, gv, ov, tc) = (i[k], f[k], g[k], o[k], tanh_c[k]);
        let dct = dc[k] + dh[k] * ov * (one - tc * tc);
        i[k] = dct * gv * iv * (one - iv);
        f[k] = dct * c_prev[k] * fv * (one - fv);
        g[k] = dct * iv * (one - gv * gv);
        o[k] = dh[k] * tc * ov * (one - ov);
        dc[k] = dct * fv;
        dh[k] = F::zero();
    }
}

/// GRU, forward. `x` (gates `stride_x` apart) holds `W_ih x + b_ih` plus
/// `b_hr`, `b_hz` in the r and z blocks, and becomes r,z,n; `gh` (gates
/// `stride_h` apart) is `W_hh h`; `gh_n` receives `W_hn h + b_hn` (which the
/// reset gate scales; kept for backward); `h_out` receives `h'`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn gru_forward<F: Float>(
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
    F::sigmoid_inplace(r);
    F::sigmoid_inplace(z);
    gh_n.copy_from_slice(gate(gh, 2, stride_h, len));
    if let Some(b) = b_hn {
        add_assign(gh_n, b);
    }
    for k in 0..len {
        n[k] += r[k] * gh_n[k];
    }
    F::tanh_inplace(n);
    for k in 0..len {
        h_out[k] = n[k] + z[k] * (h_in[k] - n[k]);
    }
}

/// GRU, backward. `gates` (`stride` apart) hold r,z,n and become the gradient
/// of the input-side pre-activations; `gh_n` holds `W_hn h + b_hn` and becomes
/// its gradient (so the hidden-side gradient is `[dr, dz, gh_n]`); `dh` holds
/// the gradient of `h'` and becomes the part of the gradient of `h` not
/// through `W_hh` (`dh'·z`).
#[inline]
pub fn gru_backward<F: Float>(gates: &mut [F], stride: usize, gh_n: &mut [F], h_prev: &[F], dh: &mut [F]) {
    let len = dh.len();
    let one = F::one();
    let [r, z, n] = split_gates::<F, 3>(gates, stride, len);
    for k in 0..len {
        let (rv, zv, nv) = (r[k], z[k], n[k]);
        let d = dh[k];
        let dn_pre = d * (one - zv) * (one - nv * nv);
        let dz_pre = d * (h_prev[k] - nv) * zv * (one - zv);
        let dr_pre = dn_pre * gh_n[k] * rv * (one - rv);
        r[k] = dr_pre;
        z[k] = dz_pre;
        n[k] = dn_pre;
        gh_n[k] = dn_pre * rv;
        dh[k] = d * zv;
    }
}

#[inline]
fn add_assign<F: Float>(a: &mut [F], b: &[F]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += *y;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_gates_yields_strided_blocks() {
        let mut v: Vec<i32> = (0..12).collect();
        let [a, b, c] = split_gates::<i32, 3>(&mut v, 4, 2);
        assert_eq!((a.to_vec(), b.to_vec(), c.to_vec()), (vec![0, 1], vec![4, 5], vec![8, 9]));
    }
}
