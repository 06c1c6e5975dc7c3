//! What Keras 3's `Attention` and `AdditiveAttention` share: inputs
//! `[query, value]` or `[query, value, key]` (key defaults to value), a score
//! per (query step, value step) from the layer's [`Score`], value steps the
//! value's mask drops pushed down by 1e9 (Keras subtracts `1e9 · padding`),
//! `weights = softmax(scores)` over the value steps, `out = weights · value`,
//! zeroed at query steps the query's mask drops; the output mask is the query's.
//!
//! Shapes: query (B, Tq, D), key (B, Tv, D), value (B, Tv, Dv) -> (B, Tq, Dv).

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput, ParamVisitor};
use super::tensor::{Mask, Tensor};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewD, ArrayViewMut2};
use serde_json::{Map, Value};
use std::any::Any;
use std::fmt::Debug;

/// How a layer of the family scores queries against keys, (Tq, D) x (Tv, D)
/// -> (Tq, Tv), for one batch element; with the Keras class it is and what
/// that class's config holds beyond `use_scale`, `dropout` and `trainable`.
pub trait Score: Debug + Clone + Copy + PartialEq + Send + Sync + 'static {
    /// Keras's class name.
    const CLASS: &'static str;
    /// Keras's default of `use_scale`.
    const USE_SCALE: bool;
    /// Reads (and checks) the config keys only this class has.
    fn parse(c: &mut Obj) -> Result<Self>;
    /// Writes them.
    fn write_json(&self, config: &mut Map<String, Value>);
    /// The initial `scale` for keys of `dim` features (its values when `use_scale` is off).
    fn initial_scale<F: Float>(use_scale: bool, dim: usize, seed: u64) -> Array1<F>;
    fn scores<F: Float>(&self, scale: &Array1<F>, q: ArrayView2<F>, k: ArrayView2<F>) -> Array2<F>;
    /// From `ds` (Tq, Tv), adds the gradient of `scale` to `dscale` and writes `dq`, `dk`.
    #[allow(clippy::too_many_arguments)]
    fn backward<F: Float>(
        &self,
        scale: &Array1<F>,
        dscale: &mut Array1<F>,
        q: ArrayView2<F>,
        k: ArrayView2<F>,
        ds: ArrayView2<F>,
        dq: ArrayViewMut2<F>,
        dk: ArrayViewMut2<F>,
    );
}

/// The config of `Attention` and `AdditiveAttention`: the score, whether
/// `scale` is a trainable parameter (else fixed), and `trainable`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredAttentionConfig<S> {
    pub score: S,
    pub use_scale: bool,
    pub trainable: bool,
}

impl<S: Score> LayerConfig for ScoredAttentionConfig<S> {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        let dropout = c.f64("dropout", Some(0.0))?;
        if dropout != 0.0 {
            return Err(RnnError::value(format!("{}.dropout: attention dropout is not supported, got {dropout}", c.what())));
        }
        Ok(ScoredAttentionConfig {
            score: S::parse(c)?,
            use_scale: c.bool("use_scale", S::USE_SCALE)?,
            trainable: c.bool("trainable", true)?,
        })
    }

    fn class(&self) -> &'static str {
        S::CLASS
    }

    fn output(&self, _input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        Err("takes a list [query, value] or [query, value, key]".into())
    }

    fn node_outputs(&self, inputs: &[Flow]) -> std::result::Result<Vec<Flow>, String> {
        node_outputs(S::CLASS, inputs)
    }

    /// `input` is the query's flow: its features are the key's (checked by `node_outputs`).
    fn build<F: Float>(&self, input: Flow, seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(ScoredAttention::new(*self, S::initial_scale(self.use_scale, input.features(), seed))))
    }

    fn to_json(&self) -> Value {
        let mut config = Map::new();
        config.insert("use_scale".into(), Value::Bool(self.use_scale));
        self.score.write_json(&mut config);
        config.insert("trainable".into(), Value::Bool(self.trainable));
        Value::Object(config)
    }
}

/// The output flows of `[query, value(, key)]`, or why not.
pub fn node_outputs(class: &str, inputs: &[Flow]) -> std::result::Result<Vec<Flow>, String> {
    if !(2..=3).contains(&inputs.len()) {
        return Err(format!("takes a list [query, value] or [query, value, key], got {} input(s)", inputs.len()));
    }
    let mut dims = Vec::new();
    for (i, x) in inputs.iter().enumerate() {
        let (f, seq) = x.rows().map_err(|e| format!("inputs[{i}]: {e}"))?;
        if !seq {
            return Err(format!("inputs[{i}]: expected a sequence (batch, time, features), got (batch, {f}); {class} reads sequences"));
        }
        dims.push(f);
    }
    let key = *dims.get(2).unwrap_or(&dims[1]);
    if dims[0] != key {
        return Err(format!("the query has {} features but the key has {key}; they must match", dims[0]));
    }
    Ok(vec![inputs[0].with_features(dims[1])])
}

/// What backward needs of the last training forward.
#[derive(Debug)]
pub struct Cache<F> {
    q: Tensor<F>,
    v: Tensor<F>,
    k: Option<Tensor<F>>,
    /// softmax weights, one (Tq, Tv) block per batch element, stacked (B·Tq, Tv).
    weights: Array2<F>,
    q_mask: Option<Mask>,
}

/// The forward of the shared part; `ctx.mask` becomes the query's mask.
fn forward<F: Float, S: Score>(
    score: &S,
    scale: &Array1<F>,
    class: &str,
    xs: Vec<Tensor<F>>,
    masks: &[Option<Mask>],
    ctx: &mut Ctx<'_, F>,
) -> Result<(Tensor<F>, Option<Cache<F>>)> {
    let (batch, tq, tv) = check_generic(&xs, class)?;
    let (q, v) = (&xs[0], &xs[1]);
    let k = xs.get(2).unwrap_or(v);
    let dv = v.features();
    let v_mask = masks.get(1).cloned().flatten();
    let q_mask = masks.first().cloned().flatten();
    let mut out = Array2::<F>::zeros((batch * tq, dv));
    let mut weights = Array2::<F>::zeros((batch * tq, tv));
    let big = F::from_f64(1.0e9);
    for b in 0..batch {
        let qb = q.data.slice(s![b * tq..(b + 1) * tq, ..]);
        let kb = k.data.slice(s![b * tv..(b + 1) * tv, ..]);
        let vb = v.data.slice(s![b * tv..(b + 1) * tv, ..]);
        let mut sc = score.scores(scale, qb, kb);
        if let Some(m) = &v_mask {
            for j in (0..tv).filter(|&j| !m.is_valid(b, j)) {
                sc.column_mut(j).mapv_inplace(|x| x - big);
            }
        }
        for mut row in sc.rows_mut() {
            let max = row.iter().fold(F::neg_infinity(), |a, &x| if x > a { x } else { a });
            row.mapv_inplace(|x| (x - max).exp());
            let sum = row.iter().fold(F::zero(), |a, &x| a + x);
            row.mapv_inplace(|x| x / sum);
        }
        let mut ob = sc.dot(&vb);
        if let Some(m) = &q_mask {
            for i in (0..tq).filter(|&i| !m.is_valid(b, i)) {
                ob.row_mut(i).fill(F::zero());
            }
        }
        out.slice_mut(s![b * tq..(b + 1) * tq, ..]).assign(&ob);
        weights.slice_mut(s![b * tq..(b + 1) * tq, ..]).assign(&sc);
    }
    ctx.mask = q_mask.clone();
    let keep = ctx.keep();
    let mut it = xs.into_iter();
    let cache = keep.then(|| {
        let q = it.next().expect("query");
        let v = it.next().expect("value");
        Cache { q, v, k: it.next(), weights, q_mask }
    });
    Ok((Tensor::new(out, Some(tq)), cache))
}

fn check_generic<F: Float>(xs: &[Tensor<F>], class: &str) -> Result<(usize, usize, usize)> {
    let (q, v) = (&xs[0], &xs[1]);
    let k = xs.get(2).unwrap_or(v);
    let (Some(tq), Some(tv), Some(tk)) = (q.steps, v.steps, k.steps) else {
        return Err(RnnError::shape(format!("{class}: expected sequences (batch, time, features)")));
    };
    if q.batch() != v.batch() || v.batch() != k.batch() || tv != tk || q.features() != k.features() {
        return Err(RnnError::shape(format!(
            "{class}: query {:?}, value {:?} and key {:?} do not fit: the same batch, value and key with the same steps, \
             query and key with the same features",
            q.shape(),
            v.shape(),
            k.shape()
        )));
    }
    Ok((q.batch(), tq, tv))
}

/// Gradients of `[query, value(, key)]` from the output's; the score adds its parameters'.
fn backward<F: Float, S: Score>(
    score: &S,
    scale: &Array1<F>,
    dscale: &mut Array1<F>,
    class: &str,
    cache: Option<Cache<F>>,
    mut dy: Array2<F>,
    _ctx: &mut GradCtx<F>,
) -> Result<Vec<Array2<F>>> {
    let Cache { q, v, k, weights, q_mask } =
        cache.ok_or_else(|| RnnError::state(format!("{class}.backward: no training forward to differentiate")))?;
    let tq = q.steps.expect("checked");
    let tv = v.steps.expect("checked");
    let batch = q.batch();
    let key = k.as_ref().unwrap_or(&v);
    let mut dq = Array2::<F>::zeros(q.data.raw_dim());
    let mut dv = Array2::<F>::zeros(v.data.raw_dim());
    let mut dk = Array2::<F>::zeros(key.data.raw_dim());
    for b in 0..batch {
        if let Some(m) = &q_mask {
            for i in (0..tq).filter(|&i| !m.is_valid(b, i)) {
                dy.row_mut(b * tq + i).fill(F::zero());
            }
        }
        let dyb = dy.slice(s![b * tq..(b + 1) * tq, ..]);
        let wb = weights.slice(s![b * tq..(b + 1) * tq, ..]);
        let vb = v.data.slice(s![b * tv..(b + 1) * tv, ..]);
        dv.slice_mut(s![b * tv..(b + 1) * tv, ..]).assign(&wb.t().dot(&dyb));
        let dw = dyb.dot(&vb.t());
        // Softmax backward: ds = w ⊙ (dw - Σ_j dw·w).
        let mut ds = &dw * &wb;
        for (mut row, w) in ds.rows_mut().into_iter().zip(wb.rows()) {
            let dot = row.iter().fold(F::zero(), |a, &x| a + x);
            row.zip_mut_with(&w, |x, &wv| *x = *x - wv * dot);
        }
        let qb = q.data.slice(s![b * tq..(b + 1) * tq, ..]);
        let kb = key.data.slice(s![b * tv..(b + 1) * tv, ..]);
        score.backward(
            scale,
            dscale,
            qb,
            kb,
            ds.view(),
            dq.slice_mut(s![b * tq..(b + 1) * tq, ..]),
            dk.slice_mut(s![b * tv..(b + 1) * tv, ..]),
        );
    }
    Ok(if k.is_some() {
        vec![dq, dv, dk]
    } else {
        dv += &dk;
        vec![dq, dv]
    })
}

/// `Attention` and `AdditiveAttention`: the score `S`, its learned `scale` (a parameter named
/// `scale` with `use_scale`), and the shared forward and backward above.
#[derive(Debug)]
pub struct ScoredAttention<F, S> {
    cfg: ScoredAttentionConfig<S>,
    scale: Array1<F>,
    dscale: Array1<F>,
    cache: Option<Cache<F>>,
}

impl<F: Float, S> ScoredAttention<F, S> {
    pub fn new(cfg: ScoredAttentionConfig<S>, scale: Array1<F>) -> Self {
        let dscale = Array1::zeros(scale.len());
        ScoredAttention { cfg, scale, dscale, cache: None }
    }
}

impl<F: Float, S: Score> Layer<F> for ScoredAttention<F, S> {
    fn class(&self) -> &'static str {
        S::CLASS
    }

    fn config(&self) -> Value {
        self.cfg.to_json()
    }

    fn forward(&mut self, _x: LayerInput<'_, F>, _ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        Err(RnnError::value(format!("{}: takes a list [query, value] or [query, value, key]", S::CLASS)))
    }

    fn backward(&mut self, _dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        Err(RnnError::state(format!("{}: takes a list of inputs; use backward_many", S::CLASS)))
    }

    fn forward_many(&mut self, xs: Vec<Tensor<F>>, masks: &[Option<Mask>], ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let (y, cache) = forward(&self.cfg.score, &self.scale, S::CLASS, xs, masks, ctx)?;
        self.cache = cache;
        Ok(y)
    }

    fn backward_many(&mut self, dy: Array2<F>, ctx: &mut GradCtx<F>) -> Result<Vec<Array2<F>>> {
        backward(&self.cfg.score, &self.scale, &mut self.dscale, S::CLASS, self.cache.take(), dy, ctx)
    }

    fn param_names(&self) -> Vec<String> {
        if self.cfg.use_scale {
            vec!["scale".into()]
        } else {
            Vec::new()
        }
    }

    fn param(&self, _i: usize) -> ArrayViewD<'_, F> {
        self.scale.view().into_dyn()
    }

    fn grad(&self, _i: usize) -> ArrayViewD<'_, F> {
        self.dscale.view().into_dyn()
    }

    fn assign_param(&mut self, _i: usize, value: ArrayViewD<F>) -> Result<()> {
        self.scale.iter_mut().zip(value.iter()).for_each(|(a, &b)| *a = b);
        Ok(())
    }

    fn visit_params(&mut self, f: &mut ParamVisitor<'_, F>) {
        if self.cfg.use_scale {
            f(0, self.scale.view_mut().into_dyn(), self.dscale.view().into_dyn());
        }
    }

    fn zero_grad(&mut self) {
        self.dscale.fill(F::zero());
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
