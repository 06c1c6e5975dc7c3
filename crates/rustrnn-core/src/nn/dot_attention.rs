//! Keras 3's `Attention` (Luong's dot-product attention) for functional
//! models: `scores = query · keyᵀ`, times the trainable scalar `scale`
//! (shape (1,) as in Keras, initialised to 1) with `use_scale=True`; masks and softmax as
//! [`scored_attention`](super::scored_attention) describes.
//! `[query (B, Tq, D), value (B, Tv, Dv)(, key (B, Tv, D))] -> (B, Tq, Dv)`.

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput, ParamVisitor};
use super::scored_attention::{self, Cache, Score};
use super::tensor::{Mask, Tensor};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewD, ArrayViewMut2};
use serde_json::{json, Value};
use std::any::Any;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DotAttentionConfig {
    pub use_scale: bool,
    pub trainable: bool,
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
        Ok(Box::new(DotAttention {
            cfg: *self,
            score: Dot { scale: Array1::from_elem(1, F::one()), dscale: Array1::zeros(1) },
            cache: None,
        }))
    }

    fn to_json(&self) -> Value {
        json!({"use_scale": self.use_scale, "score_mode": "dot", "trainable": self.trainable})
    }
}

#[derive(Debug)]
struct Dot<F> {
    /// Shape (1,), as Keras 3 stores it.
    scale: Array1<F>,
    dscale: Array1<F>,
}

impl<F: Float> Score<F> for Dot<F> {
    fn scores(&self, q: ArrayView2<F>, k: ArrayView2<F>) -> Array2<F> {
        q.dot(&k.t()) * self.scale[0]
    }

    fn backward(&mut self, q: ArrayView2<F>, k: ArrayView2<F>, ds: ArrayView2<F>, mut dq: ArrayViewMut2<F>, mut dk: ArrayViewMut2<F>) {
        let raw = q.dot(&k.t());
        self.dscale[0] += (&raw * &ds).sum();
        let s = self.scale[0];
        dq += &(ds.dot(&k) * s);
        dk += &(ds.t().dot(&q) * s);
    }
}

#[derive(Debug)]
pub struct DotAttention<F> {
    cfg: DotAttentionConfig,
    score: Dot<F>,
    cache: Option<Cache<F>>,
}

impl<F: Float> Layer<F> for DotAttention<F> {
    fn class(&self) -> &'static str {
        "Attention"
    }

    fn config(&self) -> Value {
        self.cfg.to_json()
    }

    fn forward(&mut self, _x: LayerInput<'_, F>, _ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        Err(RnnError::value("Attention: takes a list [query, value] or [query, value, key]"))
    }

    fn backward(&mut self, _dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        Err(RnnError::state("Attention: takes a list of inputs; use backward_many"))
    }

    fn forward_many(&mut self, xs: Vec<Tensor<F>>, masks: &[Option<Mask>], ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let (y, cache) = scored_attention::forward(&self.score, "Attention", xs, masks, ctx)?;
        self.cache = cache;
        Ok(y)
    }

    fn backward_many(&mut self, dy: Array2<F>, ctx: &mut GradCtx<F>) -> Result<Vec<Array2<F>>> {
        scored_attention::backward(&mut self.score, "Attention", self.cache.take(), dy, ctx)
    }

    fn param_names(&self) -> Vec<String> {
        if self.cfg.use_scale {
            vec!["scale".into()]
        } else {
            Vec::new()
        }
    }

    fn param(&self, _i: usize) -> ArrayViewD<'_, F> {
        self.score.scale.view().into_dyn()
    }

    fn grad(&self, _i: usize) -> ArrayViewD<'_, F> {
        self.score.dscale.view().into_dyn()
    }

    fn assign_param(&mut self, _i: usize, value: ArrayViewD<F>) -> Result<()> {
        self.score.scale[0] = *value.iter().next().expect("one value");
        Ok(())
    }

    fn visit_params(&mut self, f: &mut ParamVisitor<'_, F>) {
        if self.cfg.use_scale {
            f(0, self.score.scale.view_mut().into_dyn(), self.score.dscale.view().into_dyn());
        }
    }

    fn zero_grad(&mut self) {
        self.score.dscale[0] = F::zero();
    }

    fn trainable(&self) -> bool {
        self.cfg.trainable
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.cfg.trainable = trainable;
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
