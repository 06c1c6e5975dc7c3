//! `Dense`: `y = act(x · kernel + bias)` over every row, so on a sequence it
//! applies per time step. Kernel `(I, U)` as in Keras, Glorot-uniform init.

use super::activation::Activation;
use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput};
use super::param_fields::param_fields;
use super::tensor::Tensor;
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use crate::kernels::gemm::gemm;
use crate::names::Names;
use crate::rng::SplitMix64;
use ndarray::{Array1, Array2, Axis};
use serde_json::{json, Value};
use std::any::Any;

#[derive(Debug, Clone, PartialEq)]
pub struct DenseConfig {
    pub units: usize,
    pub activation: Activation,
    pub use_bias: bool,
    pub trainable: bool,
}

impl LayerConfig for DenseConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        Ok(DenseConfig {
            units: c.positive("units", None)?,
            activation: c.name("activation", Some(Activation::Linear))?,
            use_bias: c.bool("use_bias", true)?,
            trainable: c.bool("trainable", true)?,
        })
    }

    fn class(&self) -> &'static str {
        "Dense"
    }

    /// Per row, so per step of a sequence.
    fn output(&self, input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        input.rows()?;
        Ok(input.with_features(self.units))
    }

    fn build<F: Float>(&self, input: Flow, seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(Dense::new(input.features(), self.units, self.activation, self.use_bias, self.trainable, seed)?))
    }

    fn to_json(&self) -> Value {
        json!({"units": self.units, "activation": self.activation.name(), "use_bias": self.use_bias, "trainable": self.trainable})
    }
}

#[derive(Debug)]
pub struct Dense<F> {
    pub units: usize,
    pub input_dim: usize,
    pub activation: Activation,
    pub use_bias: bool,
    pub trainable: bool,
    /// (I, U).
    kernel: Array2<F>,
    /// (U,); empty without bias.
    bias: Array1<F>,
    dkernel: Array2<F>,
    dbias: Array1<F>,
    /// Input and output of the last training forward.
    cache: Option<(Array2<F>, Array2<F>)>,
}

impl<F: Float> Dense<F> {
    pub fn new(input_dim: usize, units: usize, activation: Activation, use_bias: bool, trainable: bool, seed: u64) -> Result<Self> {
        if units == 0 || input_dim == 0 {
            return Err(RnnError::value(format!(
                "Dense: units and input size must be positive, got units={units}, input size {input_dim}"
            )));
        }
        // Kernel and its gradient, probed before either is allocated.
        crate::memory::ensure::<F>("Dense units x input size", &[input_dim, units, 2])?;
        let limit = (6.0 / (input_dim as f64 + units as f64)).sqrt();
        let mut rng = SplitMix64::new(seed);
        let nb = if use_bias { units } else { 0 };
        Ok(Dense {
            units,
            input_dim,
            activation,
            use_bias,
            trainable,
            kernel: Array2::from_shape_simple_fn((input_dim, units), || F::from_f64(rng.uniform(-limit, limit))),
            bias: Array1::zeros(nb),
            dkernel: Array2::zeros((input_dim, units)),
            dbias: Array1::zeros(nb),
            cache: None,
        })
    }

    /// The pre-activation `x · kernel + bias` of every row.
    pub fn linear(&self, x: &Array2<F>) -> Array2<F> {
        let mut z = Array2::<F>::zeros((x.nrows(), self.units));
        if self.use_bias {
            z.rows_mut().into_iter().for_each(|mut r| r.assign(&self.bias));
        }
        gemm(x.view(), self.kernel.view(), true, z.view_mut());
        z
    }

    /// Returns the output and, when `want_logits`, a copy of the pre-activation.
    pub fn forward_rows(&mut self, x: Tensor<F>, keep: bool, want_logits: bool) -> Result<(Tensor<F>, Option<Array2<F>>)> {
        if x.features() != self.input_dim {
            return Err(RnnError::shape(format!("Dense: expected {} input features, got {}", self.input_dim, x.features())));
        }
        crate::memory::ensure::<F>("Dense output (rows x units)", &[x.data.nrows(), self.units, if keep { 2 } else { 1 }])?;
        let mut y = self.linear(&x.data);
        let logits = want_logits.then(|| y.clone());
        self.activation.apply(y.view_mut());
        self.cache = keep.then(|| (x.data, y.clone()));
        Ok((Tensor::new(y, x.steps), logits))
    }

    /// From the gradient of the output (`is_logits == false`) or of the
    /// pre-activation, accumulates parameter gradients and returns `dx`.
    pub fn backward_rows(&mut self, mut dy: Array2<F>, is_logits: bool) -> Result<Array2<F>> {
        let (x, y) = self.cache.take().ok_or_else(|| RnnError::state("Dense.backward: no training forward to differentiate"))?;
        if !is_logits {
            self.activation.backward(y.view(), &mut dy);
        }
        if self.trainable {
            gemm(x.t(), dy.view(), true, self.dkernel.view_mut());
            if self.use_bias {
                self.dbias += &dy.sum_axis(Axis(0));
            }
        }
        let mut dx = Array2::<F>::zeros((dy.nrows(), self.input_dim));
        gemm(dy.view(), self.kernel.t(), false, dx.view_mut());
        Ok(dx)
    }

    /// (I, U) and (U,) (empty without bias).
    pub fn kernel(&self) -> (&Array2<F>, &Array1<F>) {
        (&self.kernel, &self.bias)
    }
}

impl<F: Float> Layer<F> for Dense<F> {
    fn class(&self) -> &'static str {
        "Dense"
    }

    fn config(&self) -> Value {
        DenseConfig { units: self.units, activation: self.activation, use_bias: self.use_bias, trainable: self.trainable }.to_json()
    }

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        // The loss reads the pre-activation of a final sigmoid or softmax.
        let want_logits = ctx.last && matches!(self.activation, Activation::Sigmoid | Activation::Softmax);
        let (y, logits) = self.forward_rows(x.rows("Dense")?, ctx.keep(), want_logits)?;
        if ctx.last {
            ctx.activation = self.activation;
            ctx.logits = logits;
        }
        Ok(y)
    }

    fn backward(&mut self, dy: Array2<F>, ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        let is_logits = std::mem::take(&mut ctx.logits);
        self.backward_rows(dy, is_logits).map(Some)
    }

    param_fields!(|s| [("kernel", kernel, dkernel, true), ("bias", bias, dbias, s.use_bias)]);

    fn trainable(&self) -> bool {
        self.trainable
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
