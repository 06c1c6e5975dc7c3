//! One time step of each cell for one batch row and a block of hidden units:
//! the gate activations and state update (forward), and the gate gradients
//! (backward).
//!
//! The matrix products are done by the caller; these kernels take their
//! results and do everything element-wise, in place, while the row is hot in
//! cache. A row's gates are `len`-long slices lying `stride` apart (PyTorch's
//! order: LSTM i,f,g,o; GRU r,z,n), so the same kernels serve a full row
//! (`stride = H`) and a worker's block of units inside it. Each is compiled
//! for every kernel path (`multiversion!`), with the same results on each.

use super::nonlinearity::Nonlinearity;
use crate::float::Float;
use crate::kernels::multiversion::multiversion;

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

multiversion! {
    /// Plain RNN, forward. `x` holds `W_ih x + b` and becomes `h'`; `gh` is
    /// `W_hh h`; `h_out` receives `h'`.
    pub fn rnn_forward / rnn_forward_on<F: Float>(act: Nonlinearity, x: &mut [F], gh: &[F], h_out: &mut [F]) {
        add_assign(x, gh);
        match act {
            Nonlinearity::Tanh => F::tanh_inplace(x),
            Nonlinearity::Relu => x.iter_mut().for_each(|v| *v = relu(*v)),
        }
        h_out.copy_from_slice(x);
    }
}

multiversion! {
    /// Plain RNN, backward. `g` holds `h'` and becomes the gradient of the
    /// pre-activation; `dh` holds the gradient of `h'` and becomes the part of the
    /// gradient of `h` that does not flow through `W_hh` (zero).
    pub fn rnn_backward / rnn_backward_on<F: Float>(act: Nonlinearity, g: &mut [F], dh: &mut [F]) {
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
}

multiversion! {
    /// LSTM, forward. `x` (gates `stride_x` apart) holds `W_ih x + b_ih + b_hh`
    /// and becomes the activated gates i,f,g,o (kept for backward); `gh` (gates
    /// `stride_h` apart) is `W_hh h`; `c` becomes `c'` and `h_out` receives `h'`.
    pub fn lstm_forward / lstm_forward_on<F: Float>(x: &mut [F], stride_x: usize, gh: &[F], stride_h: usize, c: &mut [F], h_out: &mut [F]) {
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
}

multiversion! {
    /// LSTM, backward. `gates` (`stride` apart) hold i,f,g,o and become the
    /// gradient of their pre-activations; `c_prev` is the cell state before the
    /// step; `dh`, `dc` hold the gradients of `h'`, `c'` and become those of `h`
    /// (the part not through `W_hh`: zero) and `c`. `tanh_c` is scratch.
    pub fn lstm_backward / lstm_backward_on<F: Float>(gates: &mut [F], stride: usize, c_prev: &[F], dh: &mut [F], dc: &mut [F], tanh_c: &mut [F]) {
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
}

multiversion! {
    /// GRU, forward. `x` (gates `stride_x` apart) holds `W_ih x + b_ih` plus
    /// `b_hr`, `b_hz` in the r and z blocks, and becomes r,z,n; `gh` (gates
    /// `stride_h` apart) is `W_hh h`; `gh_n` receives `W_hn h + b_hn` (which the
    /// reset gate scales; kept for backward); `h_out` receives `h'`.
    #[allow(clippy::too_many_arguments)]
    pub fn gru_forward / gru_forward_on<F: Float>(
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
}

multiversion! {
    /// GRU, backward. `gates` (`stride` apart) hold r,z,n and become the gradient
    /// of the input-side pre-activations; `gh_n` holds `W_hn h + b_hn` and becomes
    /// its gradient (so the hidden-side gradient is `[dr, dz, gh_n]`); `dh` holds
    /// the gradient of `h'` and becomes the part of the gradient of `h` not
    /// through `W_hh` (`dh'·z`).
    pub fn gru_backward / gru_backward_on<F: Float>(gates: &mut [F], stride: usize, gh_n: &mut [F], h_prev: &[F], dh: &mut [F]) {
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
}

/// GRU with the reset gate applied before the recurrent product (Keras
/// `reset_after=False`, ONNX `linear_before_reset=0`), first half of a step.
/// `x` (gates `stride_x` apart) holds `W_ih x + b_ih + b_hh`; its r and z
/// blocks become the activated gates. `gh` (gates `stride_h` apart) holds
/// `W_hr h`, `W_hz h` in its first two blocks; `rh` receives `r*h`, which the
/// caller multiplies by `W_hn` for the second half.
#[inline]
pub fn gru_reset_before_gates<F: Float>(x: &mut [F], stride_x: usize, gh: &[F], stride_h: usize, h_in: &[F], rh: &mut [F]) {
    let len = h_in.len();
    let [r, z, _] = split_gates::<F, 3>(x, stride_x, len);
    add_assign(r, gate(gh, 0, stride_h, len));
    add_assign(z, gate(gh, 1, stride_h, len));
    F::sigmoid_inplace(r);
    F::sigmoid_inplace(z);
    for k in 0..len {
        rh[k] = r[k] * h_in[k];
    }
}

/// Second half: `gh_n` is `W_hn (r*h)`; the n block of `x` becomes n and `h`
/// becomes `h' = (1-z)*n + z*h`, in place.
#[inline]
pub fn gru_reset_before_update<F: Float>(x: &mut [F], stride_x: usize, gh_n: &[F], h: &mut [F]) {
    let len = h.len();
    let [_, z, n] = split_gates::<F, 3>(x, stride_x, len);
    add_assign(n, gh_n);
    F::tanh_inplace(n);
    for k in 0..len {
        h[k] = n[k] + z[k] * (h[k] - n[k]);
    }
}

/// Backward of [`gru_reset_before_update`] and of z: the z and n blocks of
/// `gates` (`stride` apart, holding r,z,n) become the gradients of their
/// pre-activations; `dh` holds the gradient of `h'` and becomes `dh'·z`.
/// The caller then forms `d_rh = dn·W_hn` for [`gru_reset_before_backward_r`].
#[inline]
pub fn gru_reset_before_backward_zn<F: Float>(gates: &mut [F], stride: usize, h_prev: &[F], dh: &mut [F]) {
    let len = dh.len();
    let one = F::one();
    let [_, z, n] = split_gates::<F, 3>(gates, stride, len);
    for k in 0..len {
        let (zv, nv, d) = (z[k], n[k], dh[k]);
        n[k] = d * (one - zv) * (one - nv * nv);
        z[k] = d * (h_prev[k] - nv) * zv * (one - zv);
        dh[k] = d * zv;
    }
}

/// Backward of r: `d_rh` is the gradient of `r*h`; the r block of `gates`
/// becomes the gradient of r's pre-activation and `dh` gains `d_rh·r`
/// (the part of the gradient of `h` through the reset gate's product).
#[inline]
pub fn gru_reset_before_backward_r<F: Float>(gates: &mut [F], h_prev: &[F], d_rh: &[F], dh: &mut [F]) {
    let one = F::one();
    for k in 0..dh.len() {
        let rv = gates[k];
        gates[k] = d_rh[k] * h_prev[k] * rv * (one - rv);
        dh[k] += d_rh[k] * rv;
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

    use crate::kernels::isa::{self, Isa};

    fn values<F: Float>(n: usize, salt: usize) -> Vec<F> {
        (0..n).map(|i| F::from(((i * 7919 + salt * 104_729) % 211) as f64 / 70.0 - 1.5).unwrap()).collect()
    }

    /// Every cell kernel, forward and backward, on one path: all outputs.
    fn run_cells<F: Float>(isa: Isa) -> Vec<Vec<F>> {
        let (n, stride) = (37, 41); // odd sizes: vector bodies and tails
        let mut out = Vec::new();
        for act in [Nonlinearity::Tanh, Nonlinearity::Relu] {
            let (mut x, mut h) = (values::<F>(n, 1), vec![F::zero(); n]);
            rnn_forward_on(isa, act, &mut x, &values(n, 2), &mut h);
            let mut dh = values(n, 3);
            rnn_backward_on(isa, act, &mut x, &mut dh);
            out.extend([x, h, dh]);
        }
        let (mut x, mut c, mut h) = (values::<F>(4 * stride, 4), values::<F>(n, 5), vec![F::zero(); n]);
        let c_prev = c.clone();
        lstm_forward_on(isa, &mut x, stride, &values(4 * stride, 6), stride, &mut c, &mut h);
        let (mut dh, mut dc, mut scratch) = (values::<F>(n, 7), values::<F>(n, 8), vec![F::zero(); n]);
        lstm_backward_on(isa, &mut x, stride, &c_prev, &mut dh, &mut dc, &mut scratch);
        out.extend([x, c, h, dh, dc]);
        let (mut x, mut gh_n, h_in, mut h) = (values::<F>(3 * stride, 9), vec![F::zero(); n], values::<F>(n, 10), vec![F::zero(); n]);
        gru_forward_on(isa, &mut x, stride, &values(3 * stride, 11), stride, Some(&values(n, 12)), &mut gh_n, &h_in, &mut h);
        let mut dh = values::<F>(n, 13);
        gru_backward_on(isa, &mut x, stride, &mut gh_n, &h_in, &mut dh);
        out.extend([x, gh_n, h, dh]);
        out
    }

    /// f64 activations are the same libm calls on every path, so the cells
    /// must agree bit for bit; f32 activations differ by at most 2 ulp.
    #[test]
    fn every_path_gives_the_portable_results() {
        let (base64, base32) = (run_cells::<f64>(Isa::Portable), run_cells::<f32>(Isa::Portable));
        for isa in isa::supported() {
            assert_eq!(run_cells::<f64>(isa), base64, "{isa}");
            for (got, want) in run_cells::<f32>(isa).iter().zip(&base32) {
                for (g, w) in got.iter().zip(want) {
                    assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{isa}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn split_gates_yields_strided_blocks() {
        let mut v: Vec<i32> = (0..12).collect();
        let [a, b, c] = split_gates::<i32, 3>(&mut v, 4, 2);
        assert_eq!((a.to_vec(), b.to_vec(), c.to_vec()), (vec![0, 1], vec![4, 5], vec![8, 9]));
    }
}
