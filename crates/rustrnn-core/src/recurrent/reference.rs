//! A deliberately plain forward pass — scalar loops, one (t, b) at a time,
//! straight from the cell equations — that the fast path is tested against.

use super::config::{CellKind, Nonlinearity, RnnConfig};
use super::params::RnnParams;
use ndarray::{Array2, Array3, ArrayView3};

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// `W·v + b` for a block of rows of `w`.
fn affine(w: &Array2<f64>, b: Option<&ndarray::Array1<f64>>, v: &[f64], rows: std::ops::Range<usize>) -> Vec<f64> {
    rows.map(|r| w.row(r).iter().zip(v).map(|(a, x)| a * x).sum::<f64>() + b.map_or(0.0, |b| b[r])).collect()
}

/// Output (B, T, D·H), h_n, c_n for batch-first `x` (B, T, I).
pub fn forward(
    cfg: &RnnConfig,
    p: &RnnParams<f64>,
    x: ArrayView3<f64>,
    h0: ArrayView3<f64>,
    c0: ArrayView3<f64>,
    spans: &[(usize, usize)],
) -> (Array3<f64>, Array3<f64>, Array3<f64>) {
    let (batch, seq, _) = x.dim();
    let (hs, nd) = (cfg.hidden_size, cfg.num_directions());
    let mut input = x.to_owned();
    let mut h_n = Array3::zeros((cfg.num_states(), batch, hs));
    let mut c_n = h_n.clone();
    for layer in 0..cfg.num_layers {
        let mut out = Array3::zeros((batch, seq, nd * hs));
        for dir in 0..nd {
            let idx = layer * nd + dir;
            let cp = &p.cells[idx];
            for b in 0..batch {
                let mut h: Vec<f64> = h0.slice(ndarray::s![idx, b, ..]).to_vec();
                let mut c: Vec<f64> = c0.slice(ndarray::s![idx, b, ..]).to_vec();
                let (start, end) = spans[b];
                let times: Vec<usize> = if dir == 0 { (start..end).collect() } else { (start..end).rev().collect() };
                for t in times {
                    let xt: Vec<f64> = input.slice(ndarray::s![b, t, ..]).to_vec();
                    let g = cfg.cell.gates() * hs;
                    let gx = affine(&cp.weight_ih, cp.bias_ih.as_ref(), &xt, 0..g);
                    let gh = affine(&cp.weight_hh, cp.bias_hh.as_ref(), &h, 0..g);
                    for k in 0..hs {
                        match cfg.cell {
                            CellKind::Rnn(act) => {
                                let v = gx[k] + gh[k];
                                h[k] = match act {
                                    Nonlinearity::Tanh => v.tanh(),
                                    Nonlinearity::Relu => v.max(0.0),
                                };
                            }
                            CellKind::Lstm => {
                                let i = sigmoid(gx[k] + gh[k]);
                                let f = sigmoid(gx[hs + k] + gh[hs + k]);
                                let gg = (gx[2 * hs + k] + gh[2 * hs + k]).tanh();
                                let o = sigmoid(gx[3 * hs + k] + gh[3 * hs + k]);
                                c[k] = f * c[k] + i * gg;
                                h[k] = o * c[k].tanh();
                            }
                            CellKind::Gru => {
                                let r = sigmoid(gx[k] + gh[k]);
                                let z = sigmoid(gx[hs + k] + gh[hs + k]);
                                let n = (gx[2 * hs + k] + r * gh[2 * hs + k]).tanh();
                                h[k] = (1.0 - z) * n + z * h[k];
                            }
                        }
                    }
                    for k in 0..hs {
                        out[[b, t, dir * hs + k]] = h[k];
                    }
                }
                for k in 0..hs {
                    h_n[[idx, b, k]] = h[k];
                    c_n[[idx, b, k]] = c[k];
                }
            }
        }
        input = out;
    }
    (input, h_n, c_n)
}
