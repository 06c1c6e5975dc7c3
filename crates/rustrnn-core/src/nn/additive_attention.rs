//! Keras 3's `AdditiveAttention` (Bahdanau's score) for functional models:
//! `scores[i, j] = Σ_d scale_d · tanh(query[i, d] + key[j, d])`, `scale` (D,)
//! trainable with `use_scale=True` (the default; Glorot-uniform initialised as
//! in Keras), else 1; masks and softmax as [`scored_attention`](super::scored_attention)
//! describes. `[query (B, Tq, D), value (B, Tv, Dv)(, key (B, Tv, D))] -> (B, Tq, Dv)`.

use super::config::{Flow, LayerConfig};
use super::layer::Layer;
use super::scored_attention::{self, AttentionConfig, Score, ScoredAttention};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use crate::rng::SplitMix64;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdditiveAttentionConfig {
    pub use_scale: bool,
    pub trainable: bool,
}

impl AttentionConfig for AdditiveAttentionConfig {
    fn use_scale(&self) -> bool {
        self.use_scale
    }
    fn trainable(&self) -> bool {
        self.trainable
    }
    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }
}

impl LayerConfig for AdditiveAttentionConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        let use_scale = c.bool("use_scale", true)?;
        let dropout = c.f64("dropout", Some(0.0))?;
        if dropout != 0.0 {
            return Err(RnnError::value(format!("{}.dropout: attention dropout is not supported, got {dropout}", c.what())));
        }
        Ok(AdditiveAttentionConfig { use_scale, trainable: c.bool("trainable", true)? })
    }

    fn class(&self) -> &'static str {
        "AdditiveAttention"
    }

    fn output(&self, _input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        Err("takes a list [query, value] or [query, value, key]".into())
    }

    fn node_outputs(&self, inputs: &[Flow]) -> std::result::Result<Vec<Flow>, String> {
        scored_attention::node_outputs("AdditiveAttention", inputs)
    }

    /// `input` is the query's flow: its features are the key's (checked by `node_outputs`).
    fn build<F: Float>(&self, input: Flow, seed: u64) -> Result<Box<dyn Layer<F>>> {
        let dim = input.features();
        let limit = (3.0 / dim as f64).sqrt();
        let mut rng = SplitMix64::new(seed);
        let scale = if self.use_scale {
            Array1::from_shape_simple_fn(dim, || F::from_f64(rng.uniform(-limit, limit)))
        } else {
            Array1::from_elem(dim, F::one())
        };
        Ok(Box::new(AdditiveAttention::new(*self, Additive, scale)))
    }

    fn to_json(&self) -> Value {
        json!({"use_scale": self.use_scale, "trainable": self.trainable})
    }
}

/// `Σ_d scale[d] · tanh(query_d + key_d)`.
#[derive(Debug)]
pub struct Additive;

impl<F: Float> Score<F> for Additive {
    fn scores(&self, scale: &Array1<F>, q: ArrayView2<F>, k: ArrayView2<F>) -> Array2<F> {
        Array2::from_shape_fn((q.nrows(), k.nrows()), |(i, j)| {
            (0..q.ncols()).fold(F::zero(), |acc, d| acc + scale[d] * (q[[i, d]] + k[[j, d]]).tanh())
        })
    }

    fn backward(
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

/// The layer: [`ScoredAttention`] over [`Additive`].
pub type AdditiveAttention<F> = ScoredAttention<F, Additive, AdditiveAttentionConfig>;
