//! An encoder-decoder (sequence to sequence) model: the encoder RNN reads the
//! source, its final state initialises the decoder RNN, which is trained with
//! teacher forcing (it reads the target shifted right behind a BOS token)
//! and decodes greedily or with beam search, step by step in Rust.
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
//! are what regularizes the model.

use super::io::{Forward, Input, OutGrad};
use crate::error::{Result, RnnError};
use crate::float::{argmax, to_f64, Float};
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
use ndarray::{s, Array2, Array3, ArrayView2, Axis};
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
        if !(0.0..1.0).contains(&cfg.dropout) {
            return Err(RnnError::value(format!("seq2seq.dropout: expected a rate in [0, 1), got {}", cfg.dropout)));
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
            recurrent_dropout: 0.0,
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
    fn encode(&mut self, src: ArrayView2<i64>, mode: Mode) -> Result<(States<F>, Option<Memory<F>>)> {
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

    /// One decoder step for `tokens` (n,) from states `(L, n, H')`; returns
    /// the log-probabilities (n, V) and the new states.
    #[allow(clippy::type_complexity)]
    fn step(
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

    fn check_src(&self, src: ArrayView2<i64>, max_length: usize) -> Result<()> {
        if max_length == 0 {
            return Err(RnnError::value("max_length: expected a positive number of tokens, got 0"));
        }
        if src.nrows() == 0 || src.ncols() == 0 {
            return Err(RnnError::shape("x: expected a non-empty (batch, time) array of source indices"));
        }
        crate::memory::ensure::<i64>("max_length (batch x max_length tokens)", &[src.nrows(), max_length])
    }

    /// Greedy decoding: `(B, max_length)` token ids, each sequence ending
    /// with EOS (when produced) and padded with 0 after it.
    pub fn greedy(&mut self, src: ArrayView2<i64>, max_length: usize) -> Result<Array2<i64>> {
        self.check_src(src, max_length)?;
        crate::threads::install(|| {
            let (States { mut h, mut c }, memory) = self.encode(src, Mode::Infer)?;
            let b = src.nrows();
            let eos = self.cfg.eos_id as i64;
            let mut out = Array2::<i64>::zeros((b, max_length));
            let mut tokens = vec![self.cfg.bos_id as i64; b];
            let mut done = vec![false; b];
            for t in 0..max_length {
                let (lp, h2, c2) = self.step(&tokens, &h, c.as_ref(), memory.clone())?;
                (h, c) = (h2, c2);
                for i in 0..b {
                    if done[i] {
                        continue;
                    }
                    let best = argmax(lp.row(i).iter().copied()) as i64;
                    out[[i, t]] = best;
                    tokens[i] = best;
                    done[i] = best == eos;
                }
                if done.iter().all(|d| *d) {
                    break;
                }
            }
            Ok(out)
        })
    }

    /// Beam search with `beam_width` hypotheses per source; the score is the
    /// sum of log-probabilities divided by `((5 + len) / 6)^length_penalty`.
    pub fn beam_search(&mut self, src: ArrayView2<i64>, max_length: usize, beam_width: usize, length_penalty: f64) -> Result<Array2<i64>> {
        self.check_src(src, max_length)?;
        if beam_width == 0 {
            return Err(RnnError::value("beam_width: expected a positive integer, got 0"));
        }
        let per_beam = self.cfg.tgt_vocab.saturating_add(self.cfg.decoder_units().saturating_mul(8)).saturating_add(max_length);
        crate::memory::ensure::<F>("beam_width (its candidates and states)", &[beam_width, per_beam])?;
        crate::threads::install(|| {
            let (States { h: h_all, c: c_all }, memory) = self.encode(src, Mode::Infer)?;
            let mut out = Array2::<i64>::zeros((src.nrows(), max_length));
            for i in 0..src.nrows() {
                let pick = |a: &Array3<F>| a.slice(s![.., i..i + 1, ..]).to_owned();
                let mem = memory.as_ref().map(|m| m.select(&[i]));
                let best = self.beam_one(pick(&h_all), c_all.as_ref().map(pick), mem, max_length, beam_width, length_penalty)?;
                for (t, v) in best.into_iter().enumerate() {
                    out[[i, t]] = v;
                }
            }
            Ok(out)
        })
    }

    /// `memory`: the one source's encoder outputs, with attention.
    fn beam_one(
        &mut self,
        h0: Array3<F>,
        c0: Option<Array3<F>>,
        memory: Option<Memory<F>>,
        max_length: usize,
        k: usize,
        alpha: f64,
    ) -> Result<Vec<i64>> {
        let eos = self.cfg.eos_id as i64;
        let norm = |score: f64, len: usize| score / ((5.0 + len as f64) / 6.0).powf(alpha);
        // Live hypotheses: (tokens, score); their states are rows of h, c.
        let mut beams: Vec<(Vec<i64>, f64)> = vec![(Vec::new(), 0.0)];
        let (mut h, mut c) = (h0, c0);
        let mut finished: Vec<(Vec<i64>, f64)> = Vec::new();
        for _ in 0..max_length {
            let tokens: Vec<i64> = beams.iter().map(|(t, _)| *t.last().unwrap_or(&(self.cfg.bos_id as i64))).collect();
            let mem = memory.as_ref().map(|m| m.select(&vec![0; tokens.len()]));
            let (lp, h2, c2) = self.step(&tokens, &h, c.as_ref(), mem)?;
            let mut cand: Vec<(f64, usize, i64)> = Vec::with_capacity(beams.len() * lp.ncols());
            for (bi, (_, score)) in beams.iter().enumerate() {
                for (v, &l) in lp.row(bi).iter().enumerate() {
                    cand.push((score + to_f64(l), bi, v as i64));
                }
            }
            cand.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut next = Vec::with_capacity(k);
            let mut parents = Vec::with_capacity(k);
            for (score, bi, v) in cand.into_iter().take(2 * k) {
                let mut seq = beams[bi].0.clone();
                seq.push(v);
                if v == eos {
                    let len = seq.len();
                    finished.push((seq, norm(score, len)));
                } else if next.len() < k {
                    next.push((seq, score));
                    parents.push(bi);
                }
                if next.len() == k {
                    break;
                }
            }
            // Stop once the best finished hypothesis beats every live one.
            let best_done = finished.iter().map(|f| f.1).fold(f64::NEG_INFINITY, f64::max);
            let best_live = next.iter().map(|(s, sc)| norm(*sc, s.len())).fold(f64::NEG_INFINITY, f64::max);
            if next.is_empty() || (finished.len() >= k && best_done >= best_live) {
                beams.clear();
                break;
            }
            h = h2.select(Axis(1), &parents);
            c = c2.map(|c| c.select(Axis(1), &parents));
            beams = next;
        }
        for (seq, score) in beams {
            let len = seq.len();
            finished.push((seq, norm(score, len)));
        }
        let best = finished.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|b| b.0).unwrap_or_default();
        Ok(best)
    }
}
