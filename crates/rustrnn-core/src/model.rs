//! A whole model as an application holds it: the network built from its
//! JSON spec, its compiled loss, metrics and optimizer, and (once generation
//! was asked for) its compiled step model. The same API the Python `Model`
//! uses, for Rust users: building, named weights set atomically, layer
//! info, freezing, training, prediction, generation and decoding.

use crate::error::{fmt_shape, Result, RnnError};
use crate::float::Float;
use crate::infer::{decode, Sampling, StepModel};
use crate::models::{Forward, Functional, GraphSpec, Input, LayerInfo, ModelSpec, Network, Seq2Seq, Seq2SeqConfig, Sequential};
use crate::nn::{all_param_names, find_folded, find_param, NamedLayer};
use crate::recurrent::GateMasks;
use crate::train::{BatchStats, Loss, NamedArrays, OptimizerConfig, OutputLoss, Schedule, Targets, Trainer};
use ndarray::{Array1, Array2, Array3, ArrayD, ArrayView2};
use serde_json::Value;

#[derive(Debug)]
pub struct Model<F> {
    pub trainer: Trainer<F>,
    /// Dropped whenever the weights change.
    step: Option<StepModel<F>>,
}

impl<F: Float> Model<F> {
    /// Builds a model from its JSON architecture (`{"type": "sequential", ...}`
    /// or `{"type": "seq2seq", "config": {...}}`), initialised from `seed`.
    pub fn from_spec(spec: &Value, seed: u64) -> Result<Self> {
        let net = match spec.get("type").and_then(|t| t.as_str()) {
            Some("seq2seq") => {
                let cfg = spec.get("config").ok_or_else(|| RnnError::value("model.config: missing"))?;
                Network::Seq2Seq(Seq2Seq::new(Seq2SeqConfig::parse(cfg)?, seed)?)
            }
            Some("functional") => Network::Functional(Functional::new(GraphSpec::parse(spec)?, seed)?),
            Some("sequential") | None => Network::Sequential(Sequential::new(ModelSpec::parse(spec)?, seed)?),
            Some(other) => {
                return Err(RnnError::value(format!("model.type: expected \"sequential\", \"seq2seq\" or \"functional\", got {other:?}")))
            }
        };
        Ok(Model { trainer: Trainer::new(net), step: None })
    }

    /// Like [`Model::from_spec`] from JSON text.
    pub fn from_json(spec: &str, seed: u64) -> Result<Self> {
        let v: Value = serde_json::from_str(spec).map_err(|e| RnnError::value(format!("spec: not valid JSON ({e})")))?;
        Self::from_spec(&v, seed)
    }

    pub fn net(&self) -> &Network<F> {
        &self.trainer.net
    }

    fn layers(&self) -> &[NamedLayer<F>] {
        self.trainer.net.layers()
    }

    pub fn compile(&mut self, loss: Loss, metrics: Vec<String>, optimizer: OptimizerConfig) -> Result<()> {
        self.trainer.compile(loss, metrics, optimizer)
    }

    /// `compile` with a loss (weight, metrics) per output, in output order.
    pub fn compile_outputs(&mut self, losses: Vec<OutputLoss>, optimizer: OptimizerConfig) -> Result<()> {
        self.trainer.compile_outputs(losses, optimizer)
    }

    /// One training step on `y` (and `sample_weight`) per model output.
    pub fn train_batch(&mut self, x: Input<'_, F>, targets: Targets<'_, F>) -> Result<BatchStats> {
        self.step = None;
        self.trainer.train_batch(x, targets)
    }

    pub fn test_batch(&mut self, x: Input<'_, F>, targets: Targets<'_, F>) -> Result<BatchStats> {
        self.trainer.test_batch(x, targets)
    }

    pub fn predict(&mut self, x: Input<'_, F>) -> Result<Forward<F>> {
        self.trainer.predict(x)
    }

    pub fn gradients(&mut self, x: Input<'_, F>, targets: Targets<'_, F>) -> Result<(f64, NamedArrays<F>)> {
        self.trainer.gradients(x, targets)
    }

    /// Values in the flat gradient layout: every parameter of every layer, in model order.
    pub fn flat_size(&self) -> usize {
        crate::train::optim::flat_len(self.layers())
    }

    /// A training step's forward and backward without the update, its
    /// gradients written into `out` (the flat layout) times `scale`. With
    /// `scale` = the returned count they are the gradients of the summed loss,
    /// which data-parallel training adds up across processes.
    pub fn gradients_into(&mut self, x: Input<'_, F>, targets: Targets<'_, F>, out: &mut [F], summed: bool) -> Result<BatchStats> {
        let want = self.flat_size();
        if out.len() != want {
            return Err(RnnError::shape(format!("out: expected a flat array of {want} values, got {}", out.len())));
        }
        let stats = self.trainer.accumulate(x, targets)?;
        self.trainer.gradients_into(out, if summed { stats.count } else { 1.0 })?;
        Ok(stats)
    }

    /// One optimizer step from flat gradients `grads · scale`.
    pub fn apply_flat(&mut self, grads: &[F], scale: f64) -> Result<()> {
        self.step = None;
        self.trainer.apply_flat(grads, scale)
    }

    /// Every parameter as `(layer/param, copy)`, in model order.
    pub fn weights(&self) -> NamedArrays<F> {
        let mut out = Vec::new();
        for l in self.layers() {
            for (i, p) in l.param_names().iter().enumerate() {
                out.push((format!("{}/{p}", l.name), l.param(i).to_owned()));
            }
        }
        out
    }

    /// Parameter names as `layer/param`, in model order.
    pub fn weight_names(&self) -> Vec<String> {
        all_param_names(self.layers())
    }

    /// Copies the given `(name, array)` pairs in; every name and shape is
    /// checked first, so a failure changes nothing.
    pub fn set_weights(&mut self, weights: Vec<(String, ArrayD<F>)>) -> Result<()> {
        let layers = self.layers();
        let mut staged = Vec::with_capacity(weights.len());
        // Older files' parameters that a layer folds into another one, added after the sets.
        let mut folded = Vec::new();
        for (name, a) in weights {
            let (l, p, fold) = match find_param(layers, &name) {
                Ok((l, p)) => (l, p, false),
                Err(e) => find_folded(layers, &name).map(|(l, p)| (l, p, true)).ok_or(e)?,
            };
            let want = layers[l].param(p).shape().to_vec();
            if a.shape() != want.as_slice() {
                return Err(RnnError::shape(format!("{name}: expected shape {}, got {}", fmt_shape(&want), fmt_shape(a.shape()))));
            }
            if fold {
                folded.push((l, p, a));
            } else {
                staged.push((l, p, a));
            }
        }
        self.step = None;
        let layers = self.trainer.net.layers_mut();
        for (l, p, a) in staged {
            layers[l].set_param(p, a.view())?;
        }
        for (l, p, a) in folded {
            let sum = &layers[l].param(p) + &a;
            layers[l].set_param(p, sum.view())?;
        }
        Ok(())
    }

    /// Per-layer name, class, output shape (empty when not known) and parameter count.
    pub fn layer_info(&self) -> Vec<LayerInfo> {
        match &self.trainer.net {
            Network::Sequential(s) => s.spec.info(&s.layers),
            Network::Functional(f) => f.spec.info(&f.layers),
            Network::Seq2Seq(s) => s
                .layers
                .iter()
                .map(|l| LayerInfo {
                    name: l.name.clone(),
                    class: l.layer.class().into(),
                    output_shape: Vec::new(),
                    params: l.num_params(),
                    trainable: l.trainable(),
                })
                .collect(),
        }
    }

    /// Freezes (`false`) or unfreezes a layer by name.
    pub fn set_trainable(&mut self, layer: &str, trainable: bool) -> Result<()> {
        let layers = self.trainer.net.layers_mut();
        let names: Vec<String> = layers.iter().map(|l| l.name.clone()).collect();
        let l = layers.iter_mut().find(|l| l.name == layer).ok_or_else(|| {
            RnnError::value(format!("layer: {layer:?} is not a layer of this model; expected one of {}", names.join(", ")))
        })?;
        l.set_trainable(trainable);
        Ok(())
    }

    /// Whether a layer carries states from one call to the next (Keras's `stateful`).
    pub fn is_stateful(&self) -> bool {
        self.layers().iter().any(|l| l.layer.stateful())
    }

    /// The batch size of every stateful layer, as the model's input declares it.
    pub fn fix_batch_size(&mut self, batch: usize) -> Result<()> {
        if batch == 0 {
            return Err(RnnError::value("batch_size: expected a positive integer, got 0"));
        }
        self.trainer.net.layers_mut().iter_mut().for_each(|l| l.layer.fix_batch_size(batch));
        Ok(())
    }

    /// Keras's `reset_states`: of the layer named `layer` (an error unless it
    /// is a stateful layer of this model), or of every stateful layer.
    pub fn reset_states(&mut self, layer: Option<&str>) -> Result<()> {
        let layers = self.trainer.net.layers_mut();
        match layer {
            None => {
                layers.iter_mut().for_each(|l| l.layer.reset_states());
                Ok(())
            }
            Some(name) => {
                let names: Vec<String> = layers.iter().map(|l| l.name.clone()).collect();
                let l = layers.iter_mut().find(|l| l.name == name).ok_or_else(|| {
                    RnnError::value(format!("layer: {name:?} is not a layer of this model; expected one of {}", names.join(", ")))
                })?;
                if !l.layer.stateful() {
                    return Err(RnnError::value(format!("reset_states: layer {name:?} is not stateful (create it with stateful=True)")));
                }
                l.layer.reset_states();
                Ok(())
            }
        }
    }

    /// Test hook: fixed recurrent-dropout masks for the recurrent layer
    /// named `layer` (see [`crate::nn::Layer::set_gate_masks`]).
    pub fn set_gate_masks(&mut self, layer: &str, masks: Option<Vec<GateMasks<F>>>) -> Result<()> {
        let layers = self.trainer.net.layers_mut();
        let names: Vec<String> = layers.iter().map(|l| l.name.clone()).collect();
        let l = layers.iter_mut().find(|l| l.name == layer).ok_or_else(|| {
            RnnError::value(format!("layer: {layer:?} is not a layer of this model; expected one of {}", names.join(", ")))
        })?;
        l.layer.set_gate_masks(masks)
    }

    /// `(all, trainable)` parameter counts.
    pub fn num_params(&self) -> (usize, usize) {
        let layers = self.layers();
        (layers.iter().map(|l| l.num_params()).sum(), layers.iter().filter(|l| l.trainable()).map(|l| l.num_params()).sum())
    }

    /// Reseeds the dropout masks.
    pub fn set_seed(&mut self, seed: u64) {
        self.trainer.net.set_seed(seed)
    }

    /// The rate of the optimizer's next step (`None` before `compile`).
    pub fn learning_rate(&self) -> Option<f64> {
        self.trainer.compiled.as_ref().map(|c| c.optimizer.config.rate_at(c.optimizer.iterations))
    }

    /// A constant rate from now on (replacing any schedule).
    pub fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        if !(lr >= 0.0 && lr.is_finite()) {
            return Err(RnnError::value(format!("learning_rate: expected a finite value >= 0, got {lr}")));
        }
        let c = self.trainer.compiled.as_mut().ok_or_else(|| RnnError::state("learning_rate: compile the model first"))?;
        c.optimizer.config.learning_rate = lr;
        c.optimizer.config.schedule = None;
        Ok(())
    }

    /// A schedule of the rate from now on, evaluated at the step count.
    pub fn set_schedule(&mut self, schedule: Schedule) -> Result<()> {
        let c = self.trainer.compiled.as_mut().ok_or_else(|| RnnError::state("learning_rate: compile the model first"))?;
        c.optimizer.config.schedule = Some(schedule);
        Ok(())
    }

    /// Optimizer steps taken.
    pub fn iterations(&self) -> u64 {
        self.trainer.compiled.as_ref().map_or(0, |c| c.optimizer.iterations)
    }

    /// `(iterations, [(param/slot, array)])`.
    pub fn optimizer_state(&self) -> (u64, NamedArrays<F>) {
        match self.trainer.compiled.as_ref() {
            Some(c) => (c.optimizer.iterations, c.optimizer.state().into_iter().map(|(n, a)| (n, a.to_owned())).collect()),
            None => (0, Vec::new()),
        }
    }

    pub fn set_optimizer_state(&mut self, iterations: u64, state: NamedArrays<F>) -> Result<()> {
        let t = &mut self.trainer;
        let c = t.compiled.as_mut().ok_or_else(|| RnnError::state("set_optimizer_state: compile the model first"))?;
        c.optimizer.set_state(iterations, state, t.net.layers())
    }

    /// Samples `length` tokens after each row of `seed_ids` (B, S), step by step.
    pub fn generate(&mut self, seed_ids: ArrayView2<i64>, length: usize, sampling: Sampling) -> Result<Array2<i64>> {
        let step = match &mut self.step {
            Some(s) => s,
            slot => {
                let Network::Sequential(seq) = &self.trainer.net else {
                    return Err(RnnError::value("generate: use decode() for a Seq2Seq model"));
                };
                slot.insert(StepModel::new(seq)?)
            }
        };
        step.generate(seed_ids, length, sampling)
    }

    /// Seq2Seq decoding: greedy when `beam_width == 1`, else beam search.
    pub fn decode(&mut self, src: ArrayView2<i64>, max_length: usize, beam_width: usize, length_penalty: f64) -> Result<Array2<i64>> {
        Model::decode_ensemble(&mut [self], src, max_length, beam_width, length_penalty)
    }

    /// Seq2Seq decoding by an ensemble: every step chooses from the mean of
    /// the models' next-token probabilities (see [`crate::infer::decode`]).
    pub fn decode_ensemble(
        models: &mut [&mut Model<F>],
        src: ArrayView2<i64>,
        max_length: usize,
        beam_width: usize,
        length_penalty: f64,
    ) -> Result<Array2<i64>> {
        let mut members = seq2seq_members(models)?;
        if beam_width == 1 {
            decode::greedy(&mut members, src, max_length)
        } else {
            decode::beam_search(&mut members, src, max_length, beam_width, length_penalty)
        }
    }

    /// A Seq2Seq model's `log p(tgt | src)` per sequence (see
    /// [`Seq2Seq::log_likelihood`]).
    pub fn log_likelihood(&mut self, src: ArrayView2<i64>, tgt: ArrayView2<i64>) -> Result<Array1<f64>> {
        let Network::Seq2Seq(s) = &mut self.trainer.net else {
            return Err(RnnError::value("log_likelihood: only a Seq2Seq model scores target sequences"));
        };
        crate::threads::install(|| s.log_likelihood(src, tgt))
    }

    /// The `n` best hypotheses of an ensemble's beam search per source and
    /// their scores (see [`decode::n_best`]).
    pub fn decode_n_best(
        models: &mut [&mut Model<F>],
        src: ArrayView2<i64>,
        max_length: usize,
        beam_width: usize,
        length_penalty: f64,
        n: usize,
    ) -> Result<(Array3<i64>, Array2<f64>)> {
        decode::n_best(&mut seq2seq_members(models)?, src, max_length, beam_width, length_penalty, n)
    }
}

/// The Seq2Seq networks of `models`, or an error naming the first that is not one.
fn seq2seq_members<'a, F: Float>(models: &'a mut [&mut Model<F>]) -> Result<Vec<&'a mut Seq2Seq<F>>> {
    let mut members = Vec::with_capacity(models.len());
    for (i, m) in models.iter_mut().enumerate() {
        let Network::Seq2Seq(s) = &mut m.trainer.net else {
            let what = if i == 0 { "decode".to_string() } else { format!("models[{i}]") };
            return Err(RnnError::value(format!("{what}: only a Seq2Seq model decodes; use generate() for a Sequential")));
        };
        members.push(s);
    }
    Ok(members)
}
