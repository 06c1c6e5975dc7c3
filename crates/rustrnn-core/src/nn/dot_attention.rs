//! Keras 3's `Attention` (Luong's dot-product attention) for functional
//! models: `scores = query · keyᵀ`, times the trainable scalar `scale`
//! (shape (1,) as in Keras, initialised to 1) with `use_scale=True`; masks and softmax as
//! [`scored_attention`](super::scored_attention) describes.
//! `[query (B, Tq, D), value (B, Tv, Dv)(, key (B, Tv, D))] -> (B, Tq, Dv)`.

use super::config::{Flow, LayerConfig};
use super::layer::Layer;
use super::scored_attention::{self, AttentionConfig, Score, ScoredAttention};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DotAttentionConfig {
    pub use_scale: bool,
    pub trainable: bool,
}

impl AttentionConfig for DotAttentionConfig {
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

impl LayerConfig for DotAttentionConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        let use_scale = c.bool("use_scale", false)?;
        let mode = c.str("score_mode", Some("dot"))?;
        if mode != "dot" {
            return Err(RnnError::value(format!("{}.score_mode: only \"dot\" is supported, got {mode:?}", c.what())));
        }
        let dropout = c.f64("dropout", Some(0.0))?;
        if dropout != 0.0 {
            return Err(RnnError::value(format!("{}.dropout: attention dropout is not supported, got {dropout}", c.what())));
        }
        Ok(DotAttentionConfig { use_scale, trainable: c.bool("trainable", true)? })
    }

    fn class(&self) -> &'static str {
        "Attention"
    }

    fn output(&self, _input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        Err("takes a list [query, value] or [query, value, key]".into())
    }

    fn node_outputs(&self, inputs: &[Flow]) -> std::result::Result<Vec<Flow>, String> {
        scored_attention::node_outputs("Attention", inputs)
    }

    fn build<F: Float>(&self, _input: Flow, _seed: u64) -> Result<Box<dyn Layer<F>>> {
        // `scale` has shape (1,), as Keras 3 stores it.
        Ok(Box::new(DotAttention::new(*self, Dot, Array1::from_elem(1, F::one()))))
    }

    fn to_json(&self) -> Value {
        json!({"use_scale": self.use_scale, "score_mode": "dot", "trainable": self.trainable})
    }
}

/// `query · keyᵀ · scale[0]`.
#[derive(Debug)]
pub struct Dot;

impl<F: Float> Score<F> for Dot {
    fn scores(&self, scale: &Array1<F>, q: ArrayView2<F>, k: ArrayView2<F>) -> Array2<F> {
        q.dot(&k.t()) * scale[0]
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
        let raw = q.dot(&k.t());
        dscale[0] += (&raw * &ds).sum();
        let s = scale[0];
        dq += &(ds.dot(&k) * s);
        dk += &(ds.t().dot(&q) * s);
    }
}

/// The layer: [`ScoredAttention`] over [`Dot`].
pub type DotAttention<F> = ScoredAttention<F, Dot, DotAttentionConfig>;
