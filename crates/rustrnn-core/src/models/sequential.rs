//! A plain stack of layers, each feeding the next through the layer
//! protocol; masks from an `Embedding(mask_zero=True)` or `Masking` flow
//! through the context to recurrent layers and, for a sequence output, to
//! the loss.

use super::io::{Forward, Input, OutGrad};
use super::spec::{InputSpec, ModelSpec};
use crate::error::{fmt_shape, Result, RnnError};
use crate::float::Float;
use crate::nn::{Ctx, GradCtx, LayerInput, Mode, NamedLayer, Tensor};
use crate::rng::SplitMix64;
use ndarray::{Ix2, Ix3};

#[derive(Debug)]
pub struct Sequential<F> {
    pub spec: ModelSpec,
    pub layers: Vec<NamedLayer<F>>,
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

    /// The model input as the first layer's input, checked against the spec.
    fn first_input<'a>(&self, input: Input<'a, F>) -> Result<LayerInput<'a, F>> {
        match (self.spec.input, input) {
            (InputSpec::Indices, Input::Indices(x)) => Ok(LayerInput::Indices(x)),
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
                Ok(LayerInput::Rows(t))
            }
            (InputSpec::Indices, _) => {
                Err(RnnError::value("x: this model starts with an Embedding and expects integer indices (batch, time)"))
            }
            (InputSpec::Features { .. }, _) => Err(RnnError::value("x: this model expects float features, got integer indices")),
        }
    }

    pub fn forward(&mut self, input: Input<'_, F>, mode: Mode) -> Result<Forward<F>> {
        let mut x = self.first_input(input)?;
        let mut ctx = Ctx::new(mode, &mut self.rng);
        let n = self.layers.len();
        for (i, node) in self.layers.iter_mut().enumerate() {
            ctx.last = i + 1 == n;
            x = LayerInput::Rows(node.layer.forward(x, &mut ctx)?);
        }
        let LayerInput::Rows(y) = x else { unreachable!("a model has at least one layer, and layers return rows") };
        Ok(Forward { y, logits: ctx.logits, activation: ctx.activation, mask: ctx.mask, states: ctx.returned })
    }

    pub fn backward(&mut self, grad: OutGrad<F>) -> Result<()> {
        let (mut d, is_logits) = match grad {
            OutGrad::Output(d) => (d, false),
            OutGrad::Logits(d) => (d, true),
        };
        let mut ctx = GradCtx::new(is_logits);
        for node in self.layers.iter_mut().rev() {
            match node.layer.backward(d, &mut ctx)? {
                Some(dx) => d = dx,
                None => break,
            }
        }
        Ok(())
    }
}
