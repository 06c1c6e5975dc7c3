//! Keras 3's `AdditiveAttention` (Bahdanau's score) for functional models:
//! `scores[i, j] = Σ_d scale_d · tanh(query[i, d] + key[j, d])`, `scale` (D,)
//! trainable with `use_scale=True` (the default; Glorot-uniform initialised as
//! in Keras), else 1; masks and softmax as [`scored_attention`](super::scored_attention)
//! describes. `[query (B, Tq, D), value (B, Tv, Dv)(, key (B, Tv, D))] -> (B, Tq, Dv)`.

use super::scored_attention::{Score, ScoredAttention, ScoredAttentionConfig};
use crate::error::Result;
use crate::float::Float;
use crate::json::Obj;
use crate::rng::SplitMix64;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};
use serde_json::{Map, Value};

/// `Σ_d scale[d] · tanh(query_d + key_d)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Additive;

impl Score for Additive {
    const CLASS: &'static str = "AdditiveAttention";
    const USE_SCALE: bool = true;

    fn parse(_c: &mut Obj) -> Result<Self> {
        Ok(Additive)
    }

    fn write_json(&self, _config: &mut Map<String, Value>) {}

    fn initial_scale<F: Float>(use_scale: bool, dim: usize, seed: u64) -> Array1<F> {
        if !use_scale {
            return Array1::from_elem(dim, F::one());
        }
        let limit = (3.0 / dim as f64).sqrt();
        let mut rng = SplitMix64::new(seed);
        Array1::from_shape_simple_fn(dim, || F::from_f64(rng.uniform(-limit, limit)))
    }

    fn scores<F: Float>(&self, scale: &Array1<F>, q: ArrayView2<F>, k: ArrayView2<F>) -> Array2<F> {
        Array2::from_shape_fn((q.nrows(), k.nrows()), |(i, j)| {
            (0..q.ncols()).fold(F::zero(), |acc, d| acc + scale[d] * (q[[i, d]] + k[[j, d]]).tanh())
        })
    }

    fn backward<F: Float>(
        &self,
        scale: &Array1<F>,
        dscale: &mut Array1<F>,
        q: ArrayView2<F>,
        k: ArrayView2<F>,
        ds: ArrayView2<F>,
        mut dq: ArrayViewMut2<F>,
        mut dk: ArrayViewMut2<F>,
    ) {
        for i in 0..q.nrows() {
            for j in 0..k.nrows() {
                let g = ds[[i, j]];
                for d in 0..q.ncols() {
                    let t = (q[[i, d]] + k[[j, d]]).tanh();
                    dscale[d] += g * t;
                    let dt = g * scale[d] * (F::one() - t * t);
                    dq[[i, d]] += dt;
                    dk[[j, d]] += dt;
                }
            }
        }
    }
}

pub type AdditiveAttentionConfig = ScoredAttentionConfig<Additive>;

/// The layer: [`ScoredAttention`] over [`Additive`].
pub type AdditiveAttention<F> = ScoredAttention<F, Additive>;
