//! A plain stack of layers, each feeding the next through the layer
//! protocol; masks from an `Embedding(mask_zero=True)` or `Masking` flow
//! through the context to recurrent layers and, for a sequence output, to
//! the loss.

use super::io::{read_input, Forward, Input, OutGrad};
use super::spec::{InputSpec, ModelSpec};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::nn::{Ctx, GradCtx, LayerInput, Mode, NamedLayer};
use crate::rng::SplitMix64;

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
            (InputSpec::Indices { .. }, Input::Features(_) | Input::Pair(..) | Input::Many(_)) => {
                Err(RnnError::value("x: this model starts with an Embedding and expects integer indices (batch, time)"))
            }
            (InputSpec::Features { .. }, Input::Indices(_) | Input::Pair(..)) => {
                Err(RnnError::value("x: this model expects float features, got integer indices"))
            }
            (_, Input::Many(v)) => Err(RnnError::value(format!("x: this model takes one array, got a list of {}", v.len()))),
            (spec, input) => read_input(spec, input, "x"),
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
        Ok(Forward {
            y,
            logits: ctx.logits,
            activation: ctx.activation,
            mask: ctx.mask,
            states: ctx.returned,
            outputs: Vec::new(),
            heads: Vec::new(),
        })
    }

    pub fn backward(&mut self, grad: OutGrad<F>) -> Result<()> {
        let (mut d, is_logits) = grad.single()?;
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
