//! An encoder-decoder (sequence to sequence) model: the encoder RNN reads the
//! source, its final state initialises the decoder RNN, which is trained with
//! teacher forcing (it reads the target shifted right behind a BOS token).
//! Decoding, greedy or by beam search, one step at a time, lives in
//! [`crate::infer::decode`]: it drives [`Seq2Seq::encode`] and [`Seq2Seq::step`].
//!
//! Layers: `encoder_embedding`, `encoder`, `decoder_embedding`, `decoder`,
//! with `attention="luong"` or `"bahdanau"` an `attention` over the
//! encoder's outputs, and `output` (a softmax `Dense` over the target
//! vocabulary). Index 0 is padding on both sides. A bidirectional encoder
//! hands the decoder the concatenated states of its two directions, so the
//! decoder has `2·units`.
//!
//! `dropout` (training only) drops a fraction of both embeddings' outputs,
//! of the features the output layer reads, and, with `num_layers > 1`, of
//! the values between stacked recurrent layers: with one layer the first two
//! are what regularizes the model. `recurrent_dropout` (Keras's: one mask per
//! gate on the state entering each step, drawn once per sequence) regularizes
//! the recurrence itself, in the encoder and the decoder.

use super::io::{Forward, Input, OutGrad};
use crate::error::{Result, RnnError};
use crate::float::{to_f64, Float};
use crate::json::Obj;
use crate::nn::activation::log_sum_exp;
use crate::nn::attention::{AttentionConfig, AttentionKind};
use crate::nn::dense::DenseConfig;
use crate::nn::dropout::Dropout;
use crate::nn::embedding::EmbeddingConfig;
use crate::nn::{
    Activation, Ctx, Flow, GradCtx, Layer, LayerConfig, LayerInput, Memory, MergeMode, Mode, NamedLayer, RecurrentConfig, States, Tensor,
};
use crate::recurrent::{CellActivations, CellKind};
use crate::rng::SplitMix64;
use ndarray::{s, Array1, Array2, Array3, ArrayView2, Axis};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Seq2SeqConfig {
    pub src_vocab: usize,
    pub tgt_vocab: usize,
    pub embedding_dim: usize,
    pub units: usize,
    pub cell: CellKind,
    pub num_layers: usize,
    pub bidirectional_encoder: bool,
    pub dropout: f64,
    /// Keras's `recurrent_dropout` inside the encoder and the decoder (training only).
    pub recurrent_dropout: f64,
    pub bos_id: usize,
    pub eos_id: usize,
    /// The decoder attends over the encoder's outputs with this score.
    pub attention: Option<AttentionKind>,
}

impl Seq2SeqConfig {
    pub fn parse(v: &Value) -> Result<Self> {
        let mut o = Obj::new("seq2seq", v)?;
        let cell = o.name("cell", Some(CellKind::Lstm))?;
        let cfg = Seq2SeqConfig {
            src_vocab: o.positive("src_vocab", None)?,
            tgt_vocab: o.positive("tgt_vocab", None)?,
            embedding_dim: o.positive("embedding_dim", Some(64))?,
            units: o.positive("units", Some(128))?,
            cell,
            num_layers: o.positive("num_layers", Some(1))?,
            bidirectional_encoder: o.bool("bidirectional_encoder", false)?,
            dropout: o.f64("dropout", Some(0.0))?,
            recurrent_dropout: o.f64("recurrent_dropout", Some(0.0))?,
            bos_id: o.usize("bos_id", Some(1))?,
            eos_id: o.usize("eos_id", Some(2))?,
            attention: match o.value("attention") {
                Some(_) => Some(o.name("attention", None)?),
                None => None,
            },
        };
        o.finish()?;
        for (name, id) in [("bos_id", cfg.bos_id), ("eos_id", cfg.eos_id)] {
            if id == 0 || id >= cfg.tgt_vocab {
                return Err(RnnError::value(format!("seq2seq.{name}: expected a token in 1..{} (0 is padding), got {id}", cfg.tgt_vocab)));
            }
        }
        for (name, rate) in [("dropout", cfg.dropout), ("recurrent_dropout", cfg.recurrent_dropout)] {
            if !(0.0..1.0).contains(&rate) {
                return Err(RnnError::value(format!("seq2seq.{name}: expected a rate in [0, 1), got {rate}")));
            }
        }
        Ok(cfg)
    }

    fn directions(&self) -> usize {
        if self.bidirectional_encoder {
            2
        } else {
            1
        }
    }

    pub fn decoder_units(&self) -> usize {
        self.directions().saturating_mul(self.units) // an impossible size fails when built
    }
}

const SRC_EMB: usize = 0;
const ENCODER: usize = 1;
const TGT_EMB: usize = 2;
const DECODER: usize = 3;
/// With attention; the output layer is always last.
const ATTENTION: usize = 4;

#[derive(Debug)]
pub struct Seq2Seq<F> {
    pub cfg: Seq2SeqConfig,
    pub layers: Vec<NamedLayer<F>>,
    /// Without parameters, so outside `layers` (and saved files): on the
    /// source embedding, the target embedding and the output layer's input.
    drop_src: Dropout<F>,
    drop_tgt: Dropout<F>,
    drop_out: Dropout<F>,
    rng: SplitMix64,
}

impl<F: Float> Seq2Seq<F> {
    pub fn new(cfg: Seq2SeqConfig, seed: u64) -> Result<Self> {
        let mut rng = SplitMix64::new(seed);
        let attend = cfg.attention.is_some();
        let rnn = |units, bidirectional, return_sequences| RecurrentConfig {
            cell: cfg.cell,
            input_size: 0,
            units,
            num_layers: cfg.num_layers,
            bidirectional,
            merge_mode: MergeMode::Concat,
            return_sequences,
            return_state: !return_sequences,
            go_backwards: false,
            dropout: 0.0,
            recurrent_dropout: cfg.recurrent_dropout,
            layer_dropout: cfg.dropout,
            stateful: false,
            activations: CellActivations::DEFAULT,
            use_bias: true,
            init: None,
            trainable: true,
        };
        let e = cfg.embedding_dim;
        let hd = cfg.decoder_units();
        let embedding = |vocab| EmbeddingConfig { input_dim: vocab, output_dim: e, mask_zero: true, trainable: true };
        let rows = |features| Flow::sequence(features, None);
        let output = DenseConfig { units: cfg.tgt_vocab, activation: Activation::Softmax, use_bias: true, trainable: true };
        let mut layers = vec![
            NamedLayer::new("encoder_embedding", embedding(cfg.src_vocab).build(Flow::Indices { steps: None }, rng.next_u64())?),
            NamedLayer::new("encoder", rnn(cfg.units, cfg.bidirectional_encoder, attend).build(rows(e), rng.next_u64())?),
            NamedLayer::new("decoder_embedding", embedding(cfg.tgt_vocab).build(Flow::Indices { steps: None }, rng.next_u64())?),
            NamedLayer::new("decoder", rnn(hd, false, true).build(rows(e), rng.next_u64())?),
        ];
        if let Some(kind) = cfg.attention {
            layers.push(NamedLayer::new("attention", AttentionConfig { kind, trainable: true }.build(rows(hd), rng.next_u64())?));
        }
        layers.push(NamedLayer::new("output", output.build(rows(hd), rng.next_u64())?));
        let drop = || Dropout::new(cfg.dropout);
        let (drop_src, drop_tgt, drop_out) = (drop(), drop(), drop());
        Ok(Seq2Seq { cfg, layers, drop_src, drop_tgt, drop_out, rng: SplitMix64::new(rng.next_u64()) })
    }

    pub fn set_seed(&mut self, seed: u64) {
        self.rng = SplitMix64::new(seed);
    }

    /// Encoder states `(L·D, B, H)` to decoder states `(L, B, D·H)`.
    fn bridge(&self, a: &Array3<F>) -> Array3<F> {
        let (d, h, l) = (self.cfg.directions(), self.cfg.units, self.cfg.num_layers);
        let mut out = Array3::zeros((l, a.shape()[1], d * h));
        for layer in 0..l {
            for dir in 0..d {
                out.slice_mut(s![layer, .., dir * h..(dir + 1) * h]).assign(&a.index_axis(Axis(0), layer * d + dir));
            }
        }
        out
    }

    fn unbridge(&self, g: &Array3<F>) -> Array3<F> {
        let (d, h, l) = (self.cfg.directions(), self.cfg.units, self.cfg.num_layers);
        let mut out = Array3::zeros((l * d, g.shape()[1], h));
        for layer in 0..l {
            for dir in 0..d {
                out.index_axis_mut(Axis(0), layer * d + dir).assign(&g.slice(s![layer, .., dir * h..(dir + 1) * h]));
            }
        }
        out
    }

    fn output(&self) -> usize {
        self.layers.len() - 1
    }

    /// Runs the encoder; returns the decoder's initial states and, with
    /// attention, the encoder's outputs to attend over.
    pub fn encode(&mut self, src: ArrayView2<i64>, mode: Mode) -> Result<(States<F>, Option<Memory<F>>)> {
        let mut rng = self.rng.clone();
        let mut ctx = Ctx::new(mode, &mut rng);
        let x = self.layers[SRC_EMB].layer.forward(LayerInput::Indices(src), &mut ctx)?;
        let x = self.drop_src.forward(LayerInput::Rows(x), &mut ctx)?;
        let y = self.layers[ENCODER].layer.forward(LayerInput::Rows(x), &mut ctx)?;
        let st = ctx.states.take().expect("a recurrent layer reports its states");
        let memory = self.cfg.attention.map(|_| {
            let spans = ctx.mask.take().map_or_else(|| vec![(0, src.ncols()); src.nrows()], |m| m.spans);
            Memory { values: y.data, steps: src.ncols(), spans }
        });
        self.rng = rng;
        Ok((States { h: self.bridge(&st.h), c: st.c.as_ref().map(|c| self.bridge(c)) }, memory))
    }

    pub fn forward(&mut self, input: Input<'_, F>, mode: Mode) -> Result<Forward<F>> {
        let Input::Pair(src, dec_in) = input else {
            return Err(RnnError::value("x: a Seq2Seq model takes a pair (source indices, decoder-input indices)"));
        };
        if src.nrows() != dec_in.nrows() {
            return Err(RnnError::shape(format!(
                "x: source and decoder input must have the same batch size, got {} and {}",
                src.nrows(),
                dec_in.nrows()
            )));
        }
        let (init, memory) = self.encode(src, mode)?;
        let mut rng = self.rng.clone();
        let mut ctx = Ctx::new(mode, &mut rng);
        let x = self.layers[TGT_EMB].layer.forward(LayerInput::Indices(dec_in), &mut ctx)?;
        let x = self.drop_tgt.forward(LayerInput::Rows(x), &mut ctx)?;
        ctx.init = Some(init);
        let mut y = self.layers[DECODER].layer.forward(LayerInput::Rows(x), &mut ctx)?;
        if memory.is_some() {
            ctx.memory = memory;
            y = self.layers[ATTENTION].layer.forward(LayerInput::Rows(y), &mut ctx)?;
        }
        let y = self.drop_out.forward(LayerInput::Rows(y), &mut ctx)?;
        ctx.last = true;
        let out = self.output();
        let y = self.layers[out].layer.forward(LayerInput::Rows(y), &mut ctx)?;
        let (logits, activation, mask) = (ctx.logits, ctx.activation, ctx.mask);
        self.rng = rng;
        Ok(Forward { y, logits, activation, mask, states: Vec::new(), outputs: Vec::new(), heads: Vec::new() })
    }

    pub fn backward(&mut self, grad: OutGrad<F>) -> Result<()> {
        let (d, is_logits) = grad.single()?;
        let rows = "a layer reading rows returns their gradient";
        let mut g = GradCtx::new(is_logits);
        let out = self.output();
        let mut d = self.layers[out].layer.backward(d, &mut g)?.expect(rows);
        d = self.drop_out.backward(d, &mut g)?.expect(rows);
        if self.cfg.attention.is_some() {
            d = self.layers[ATTENTION].layer.backward(d, &mut g)?.expect(rows);
        }
        let dx = self.layers[DECODER].layer.backward(d, &mut g)?.expect(rows);
        let dinit = g.dinit.take().expect("a recurrent layer reports its initial-state gradient");
        let dx = self.drop_tgt.backward(dx, &mut g)?.expect(rows);
        self.layers[TGT_EMB].layer.backward(dx, &mut g)?;
        let batch = dinit.h.shape()[1];
        g.dstates = Some(States { h: self.unbridge(&dinit.h), c: dinit.c.as_ref().map(|c| self.unbridge(c)) });
        // Without attention the encoder's output is its final state only: its gradient comes through the states.
        let dy = g.dmemory.take().unwrap_or_else(|| Array2::zeros((batch, self.cfg.decoder_units())));
        let dx = self.layers[ENCODER].layer.backward(dy, &mut g)?.expect(rows);
        let dx = self.drop_src.backward(dx, &mut g)?.expect(rows);
        self.layers[SRC_EMB].layer.backward(dx, &mut g)?;
        Ok(())
    }

    /// The log-probability of each target sequence given its source,
    /// `log p(tgt | src)` (B,): the sum over its tokens up to the first 0
    /// (padding) of the teacher-forced decoder's log-softmax. Targets end with
    /// EOS as in training; with `length_penalty` 0 a beam search scores its
    /// hypotheses the same way.
    pub fn log_likelihood(&mut self, src: ArrayView2<i64>, tgt: ArrayView2<i64>) -> Result<Array1<f64>> {
        if src.nrows() != tgt.nrows() {
            return Err(RnnError::shape(format!("y: expected {} target sequences (one per source), got {}", src.nrows(), tgt.nrows())));
        }
        let vocab = self.cfg.tgt_vocab;
        if let Some(bad) = tgt.iter().find(|&&v| v < 0 || v as usize >= vocab) {
            return Err(RnnError::value(format!("y: expected token ids in 0..{}, got {bad}", vocab - 1)));
        }
        let dec_in = decoder_inputs(tgt, self.cfg.bos_id as i64);
        let f = self.forward(Input::Pair(src, dec_in.view()), Mode::Infer)?;
        let logits = f.logits.expect("a last softmax Dense reports its logits");
        let steps = tgt.ncols();
        let mut out = Array1::<f64>::zeros(tgt.nrows());
        for (b, row) in tgt.outer_iter().enumerate() {
            for (t, &v) in row.iter().enumerate().take_while(|(_, &v)| v != 0) {
                let z = logits.row(b * steps + t);
                let z = z.as_slice().expect("contiguous");
                out[b] += to_f64(z[v as usize]) - to_f64(log_sum_exp(z));
            }
        }
        Ok(out)
    }

    /// One decoder step for `tokens` (n,) from states `(L, n, H')`; returns
    /// the log-probabilities (n, V) and the new states.
    #[allow(clippy::type_complexity)]
    pub fn step(
        &mut self,
        tokens: &[i64],
        h: &Array3<F>,
        c: Option<&Array3<F>>,
        memory: Option<Memory<F>>,
    ) -> Result<(Array2<F>, Array3<F>, Option<Array3<F>>)> {
        let idx = Array2::from_shape_vec((tokens.len(), 1), tokens.to_vec()).expect("n x 1");
        let mut rng = self.rng.clone();
        let mut ctx = Ctx::new(Mode::Infer, &mut rng);
        let x = self.layers[TGT_EMB].layer.forward(LayerInput::Indices(idx.view()), &mut ctx)?;
        // One step per sequence, each real: no mask.
        ctx.mask = None;
        ctx.init = Some(States { h: h.clone(), c: c.cloned() });
        let mut y = self.layers[DECODER].layer.forward(LayerInput::Rows(x), &mut ctx)?;
        let states = ctx.states.take().expect("a recurrent layer reports its states");
        if memory.is_some() {
            ctx.memory = memory;
            y = self.layers[ATTENTION].layer.forward(LayerInput::Rows(y), &mut ctx)?;
        }
        ctx.last = true;
        let out = self.output();
        self.layers[out].layer.forward(LayerInput::Rows(Tensor::new(y.data, None)), &mut ctx)?;
        let mut z = ctx.logits.take().expect("a last softmax Dense reports its logits");
        for mut row in z.rows_mut() {
            let lse = log_sum_exp(row.as_slice().expect("contiguous"));
            row.mapv_inplace(|v| v - lse);
        }
        Ok((z, states.h, states.c))
    }
}

/// Teacher forcing's decoder input for targets `(B, T)`: BOS, then the
/// targets shifted right by one step; where a target is padding (0) the input
/// is too, so the masks of both sides agree. Training and
/// [`Seq2Seq::log_likelihood`] both read it.
pub fn decoder_inputs(tgt: ArrayView2<i64>, bos_id: i64) -> Array2<i64> {
    let mut dec_in = Array2::<i64>::zeros(tgt.raw_dim());
    for ((b, t), &v) in tgt.indexed_iter() {
        if v != 0 {
            dec_in[[b, t]] = if t == 0 { bos_id } else { tgt[[b, t - 1]] };
        }
    }
    dec_in
}
