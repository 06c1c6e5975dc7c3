//! Keras 3's `AdditiveAttention` (Bahdanau's score) for functional models:
//! `scores[i, j] = Σ_d scale_d · tanh(query[i, d] + key[j, d])`, `scale` (D,)
//! trainable with `use_scale=True` (the default; Glorot-uniform initialised as
//! in Keras), else 1; masks and softmax as [`scored_attention`](super::scored_attention)
//! describes. `[query (B, Tq, D), value (B, Tv, Dv)(, key (B, Tv, D))] -> (B, Tq, Dv)`.

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput, ParamVisitor};
use super::scored_attention::{self, Cache, Score};
use super::tensor::{Mask, Tensor};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use crate::rng::SplitMix64;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewD, ArrayViewMut2};
use serde_json::{json, Value};
use std::any::Any;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdditiveAttentionConfig {
    pub use_scale: bool,
    pub trainable: bool,
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
        Ok(Box::new(AdditiveAttention { cfg: *self, score: Additive { dscale: Array1::zeros(dim), scale }, cache: None }))
    }

    fn to_json(&self) -> Value {
        json!({"use_scale": self.use_scale, "trainable": self.trainable})
    }
}

#[derive(Debug)]
struct Additive<F> {
    scale: Array1<F>,
    dscale: Array1<F>,
}

impl<F: Float> Score<F> for Additive<F> {
    fn scores(&self, q: ArrayView2<F>, k: ArrayView2<F>) -> Array2<F> {
        Array2::from_shape_fn((q.nrows(), k.nrows()), |(i, j)| {
            (0..q.ncols()).fold(F::zero(), |acc, d| acc + self.scale[d] * (q[[i, d]] + k[[j, d]]).tanh())
        })
    }

    fn backward(&mut self, q: ArrayView2<F>, k: ArrayView2<F>, ds: ArrayView2<F>, mut dq: ArrayViewMut2<F>, mut dk: ArrayViewMut2<F>) {
        for i in 0..q.nrows() {
            for j in 0..k.nrows() {
                let g = ds[[i, j]];
                for d in 0..q.ncols() {
                    let t = (q[[i, d]] + k[[j, d]]).tanh();
                    self.dscale[d] += g * t;
                    let dt = g * self.scale[d] * (F::one() - t * t);
                    dq[[i, d]] += dt;
                    dk[[j, d]] += dt;
                }
            }
        }
    }
}

#[derive(Debug)]
pub struct AdditiveAttention<F> {
    cfg: AdditiveAttentionConfig,
    score: Additive<F>,
    cache: Option<Cache<F>>,
}

impl<F: Float> Layer<F> for AdditiveAttention<F> {
    fn class(&self) -> &'static str {
        "AdditiveAttention"
    }

    fn config(&self) -> Value {
        self.cfg.to_json()
    }

    fn forward(&mut self, _x: LayerInput<'_, F>, _ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        Err(RnnError::value("AdditiveAttention: takes a list [query, value] or [query, value, key]"))
    }

    fn backward(&mut self, _dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        Err(RnnError::state("AdditiveAttention: takes a list of inputs; use backward_many"))
    }

    fn forward_many(&mut self, xs: Vec<Tensor<F>>, masks: &[Option<Mask>], ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let (y, cache) = scored_attention::forward(&self.score, "AdditiveAttention", xs, masks, ctx)?;
        self.cache = cache;
        Ok(y)
    }

    fn backward_many(&mut self, dy: Array2<F>, ctx: &mut GradCtx<F>) -> Result<Vec<Array2<F>>> {
        scored_attention::backward(&mut self.score, "AdditiveAttention", self.cache.take(), dy, ctx)
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
        self.score.scale.iter_mut().zip(value.iter()).for_each(|(a, &b)| *a = b);
        Ok(())
    }

    fn visit_params(&mut self, f: &mut ParamVisitor<'_, F>) {
        if self.cfg.use_scale {
            f(0, self.score.scale.view_mut().into_dyn(), self.score.dscale.view().into_dyn());
        }
    }

    fn zero_grad(&mut self) {
        self.score.dscale.fill(F::zero());
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
