//! A plain stack of layers, each feeding the next; masks from an
//! `Embedding(mask_zero=True)` flow through to recurrent layers and, for a
//! sequence output, to the loss.

use super::activation::Activation;
use super::layer::{Layer, LayerKind};
use super::network::{Forward, Input, Mode, OutGrad};
use super::spec::{InputSpec, ModelSpec};
use super::tensor::{Mask, Tensor};
use crate::error::{fmt_shape, Result, RnnError};
use crate::float::Float;
use crate::rng::SplitMix64;
use ndarray::{s, Array2, Ix2, Ix3};

#[derive(Debug)]
pub struct Sequential<F> {
    pub spec: ModelSpec,
    pub layers: Vec<Layer<F>>,
    /// Draws the dropout masks.
    rng: SplitMix64,
}

impl<F: Float> Sequential<F> {
    /// Builds the layers from `spec`, initialised from `seed`.
    pub fn new(spec: ModelSpec, seed: u64) -> Result<Self> {
        let mut seeds = SplitMix64::new(seed);
        let layers = spec.build(seeds.next_u64())?;
        Ok(Sequential { spec, layers, rng: SplitMix64::new(seeds.next_u64()) })
    }

    pub fn set_seed(&mut self, seed: u64) {
        self.rng = SplitMix64::new(seed);
    }

    fn first_tensor(&mut self, input: Input<'_, F>, keep: bool) -> Result<(Tensor<F>, Option<Mask>)> {
        match (self.spec.input, input) {
            (InputSpec::Indices, Input::Indices(x)) => match &mut self.layers[0].kind {
                LayerKind::Embedding(e) => e.forward(x, keep),
                _ => unreachable!("validated by the spec"),
            },
            (InputSpec::Features { features, sequence }, Input::Features(x)) => {
                let want = if sequence { "(batch, time, features)" } else { "(batch, features)" };
                let got = fmt_shape(x.shape());
                let bad = || RnnError::shape(format!("x: expected shape {want} with {features} features, got {got}"));
                let last = *x.shape().last().ok_or_else(bad)?;
                if last != features || x.ndim() != if sequence { 3 } else { 2 } || x.is_empty() {
                    return Err(bad());
                }
                let t = if sequence {
                    let x3 = x.into_dimensionality::<Ix3>().map_err(|_| bad())?;
                    let (b, t, f) = x3.dim();
                    let rows = x3.as_standard_layout().into_owned().into_shape_with_order((b * t, f)).expect("standard");
                    Tensor::new(rows, Some(t))
                } else {
                    Tensor::new(x.into_dimensionality::<Ix2>().map_err(|_| bad())?.to_owned(), None)
                };
                Ok((t, None))
            }
            (InputSpec::Indices, _) => {
                Err(RnnError::value("x: this model starts with an Embedding and expects integer indices (batch, time)"))
            }
            (InputSpec::Features { .. }, _) => Err(RnnError::value("x: this model expects float features, got integer indices")),
        }
    }

    pub fn forward(&mut self, input: Input<'_, F>, mode: Mode) -> Result<Forward<F>> {
        let keep = mode.keep();
        let (mut t, mut mask) = self.first_tensor(input, keep)?;
        let start = usize::from(matches!(self.spec.input, InputSpec::Indices));
        let n = self.layers.len();
        let mut logits = None;
        let mut activation = Activation::Linear;
        let mut states = Vec::new();
        for i in start..n {
            let last = i + 1 == n;
            match &mut self.layers[i].kind {
                LayerKind::Dense(d) => {
                    // The loss reads the pre-activation of a final sigmoid or softmax.
                    let want_logits = last && matches!(d.activation, Activation::Sigmoid | Activation::Softmax);
                    let (y, z) = d.forward(t, keep, want_logits)?;
                    t = y;
                    if last {
                        logits = z;
                        activation = d.activation;
                    }
                }
                LayerKind::Recurrent(r) => {
                    let out = r.forward(t, mask.as_ref(), None, mode, &mut self.rng)?;
                    if last && r.cfg.return_state {
                        states = final_states(r.cfg.directions(), r.cfg.num_layers, &out.h_n, out.c_n.as_ref());
                    }
                    if !r.cfg.return_sequences {
                        mask = None;
                    }
                    t = out.y;
                }
                LayerKind::Dropout(d) => d.forward(&mut t.data, mode == Mode::Train, &mut self.rng),
                LayerKind::Masking(m) => mask = Some(m.forward(&mut t, keep)?),
                LayerKind::Embedding(_) => unreachable!("validated by the spec"),
            }
        }
        Ok(Forward { y: t, logits, activation, mask, states })
    }

    pub fn backward(&mut self, grad: OutGrad<F>) -> Result<()> {
        let (mut d, mut is_logits) = match grad {
            OutGrad::Output(d) => (d, false),
            OutGrad::Logits(d) => (d, true),
        };
        for layer in self.layers.iter_mut().rev() {
            match &mut layer.kind {
                LayerKind::Dense(l) => d = l.backward(d, is_logits)?,
                LayerKind::Recurrent(l) => d = l.backward(Some(d), None)?.0,
                LayerKind::Dropout(l) => l.backward(&mut d),
                LayerKind::Masking(l) => l.backward(&mut d),
                LayerKind::Embedding(l) => l.backward(d.view())?,
            }
            is_logits = false;
        }
        Ok(())
    }
}

/// The top layer's `[h, c]` per direction, (B, H) each (`return_state`).
pub fn final_states<F: Float>(d: usize, layers: usize, h_n: &ndarray::Array3<F>, c_n: Option<&ndarray::Array3<F>>) -> Vec<Array2<F>> {
    let top = (layers - 1) * d;
    let mut v = Vec::new();
    for dir in 0..d {
        v.push(h_n.slice(s![top + dir, .., ..]).to_owned());
        if let Some(c) = c_n {
            v.push(c.slice(s![top + dir, .., ..]).to_owned());
        }
    }
    v
}
