//! Keras 3's `Attention` (Luong's dot-product attention) for functional
//! models: `scores = query · keyᵀ`, times the trainable scalar `scale`
//! (shape (1,) as in Keras, initialised to 1) with `use_scale=True`; masks and softmax as
//! [`scored_attention`](super::scored_attention) describes.
//! `[query (B, Tq, D), value (B, Tv, Dv)(, key (B, Tv, D))] -> (B, Tq, Dv)`.

use super::scored_attention::{Score, ScoredAttention, ScoredAttentionConfig};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};
use serde_json::{Map, Value};

/// `query · keyᵀ · scale[0]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dot;

impl Score for Dot {
    const CLASS: &'static str = "Attention";
    const USE_SCALE: bool = false;

    fn parse(c: &mut Obj) -> Result<Self> {
        let mode = c.str("score_mode", Some("dot"))?;
        if mode != "dot" {
            return Err(RnnError::value(format!("{}.score_mode: only \"dot\" is supported, got {mode:?}", c.what())));
        }
        Ok(Dot)
    }

    fn write_json(&self, config: &mut Map<String, Value>) {
        config.insert("score_mode".into(), Value::from("dot"));
    }

    /// `scale` has shape (1,), as Keras 3 stores it.
    fn initial_scale<F: Float>(_use_scale: bool, _dim: usize, _seed: u64) -> Array1<F> {
        Array1::from_elem(1, F::one())
    }

    fn scores<F: Float>(&self, scale: &Array1<F>, q: ArrayView2<F>, k: ArrayView2<F>) -> Array2<F> {
        q.dot(&k.t()) * scale[0]
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
        let raw = q.dot(&k.t());
        dscale[0] += (&raw * &ds).sum();
        let s = scale[0];
        dq += &(ds.dot(&k) * s);
        dk += &(ds.t().dot(&q) * s);
    }
}

pub type DotAttentionConfig = ScoredAttentionConfig<Dot>;

/// The layer: [`ScoredAttention`] over [`Dot`].
pub type DotAttention<F> = ScoredAttention<F, Dot>;
