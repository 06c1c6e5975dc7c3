//! `Conv1D`: a 1-D convolution over the steps of a sequence,
//! `(B, T, C) -> (B, T', filters)`, computed as im2col + one GEMM: each
//! output step's receptive field (kernel_size steps of C features, dilated)
//! is one row of a `(B·T', K·C)` matrix, multiplied by the kernel
//! `(K, C, filters)` (Keras's layout) seen as `(K·C, filters)`.
//! `padding`: "valid" (none), "same" (`T' = ceil(T / strides)`, the extra
//! padding step at the end, as Keras), "causal" (`dilation·(K-1)` zeros before).
//! Like Keras 3, the layer does not support masking: the mask stops here.

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
use ndarray::{Array1, Array2, Array3, Axis};
use serde_json::{json, Value};
use std::any::Any;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    Valid,
    Same,
    Causal,
}

impl Padding {
    const NAMES: [(&'static str, Padding); 3] = [("valid", Padding::Valid), ("same", Padding::Same), ("causal", Padding::Causal)];

    fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, p)| *p == self).expect("listed").0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conv1DConfig {
    pub filters: usize,
    pub kernel_size: usize,
    pub strides: usize,
    pub padding: Padding,
    pub dilation_rate: usize,
    pub activation: Activation,
    pub use_bias: bool,
    pub trainable: bool,
}

impl Conv1DConfig {
    /// Output steps and padding before the first step, for `steps` input steps.
    pub fn geometry(&self, steps: usize) -> (usize, usize) {
        let span = self.dilation_rate * (self.kernel_size - 1) + 1;
        match self.padding {
            Padding::Valid => ((steps + 1).saturating_sub(span).div_ceil(self.strides), 0),
            Padding::Causal => (steps.div_ceil(self.strides), span - 1),
            Padding::Same => {
                let out = steps.div_ceil(self.strides);
                let total = ((out - 1) * self.strides + span).saturating_sub(steps);
                (out, total / 2)
            }
        }
    }
}

impl LayerConfig for Conv1DConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        let filters = c.positive("filters", None)?;
        let kernel_size = c.positive("kernel_size", None)?;
        let strides = c.positive("strides", Some(1))?;
        let padding_name = c.str("padding", Some("valid"))?;
        let padding = Padding::NAMES.iter().find(|(n, _)| *n == padding_name).map(|(_, p)| *p).ok_or_else(|| {
            RnnError::value(format!("{}.padding: expected \"valid\", \"same\" or \"causal\", got {padding_name:?}", c.what()))
        })?;
        let dilation_rate = c.positive("dilation_rate", Some(1))?;
        if strides > 1 && dilation_rate > 1 {
            return Err(RnnError::value(format!(
                "{}: strides > 1 with dilation_rate > 1 is not supported (Keras refuses it too), got strides={strides}, dilation_rate={dilation_rate}",
                c.what()
            )));
        }
        Ok(Conv1DConfig {
            filters,
            kernel_size,
            strides,
            padding,
            dilation_rate,
            activation: c.name("activation", Some(Activation::Linear))?,
            use_bias: c.bool("use_bias", true)?,
            trainable: c.bool("trainable", true)?,
        })
    }

    fn class(&self) -> &'static str {
        "Conv1D"
    }

    fn output(&self, input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        let (_, sequence) = input.rows()?;
        if !sequence {
            return Err("Conv1D expects a sequence (batch, time, channels), got (batch, features)".into());
        }
        let steps = input.steps().map(|t| self.geometry(t).0);
        if steps == Some(0) {
            let span = self.dilation_rate * (self.kernel_size - 1) + 1;
            return Err(format!(
                "the input has {} steps, fewer than the kernel's span of {span} steps; the output would be empty",
                input.steps().unwrap_or(0)
            ));
        }
        Ok(Flow::sequence(self.filters, steps))
    }

    fn build<F: Float>(&self, input: Flow, seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(Conv1D::<F>::new(self.clone(), input.features(), seed)?))
    }

    fn to_json(&self) -> Value {
        json!({"filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding.name(),
               "dilation_rate": self.dilation_rate, "activation": self.activation.name(), "use_bias": self.use_bias,
               "trainable": self.trainable})
    }
}

#[derive(Debug)]
pub struct Conv1D<F> {
    pub config: Conv1DConfig,
    pub channels: usize,
    /// (K, C, filters).
    kernel: Array3<F>,
    /// (filters,); empty without bias.
    bias: Array1<F>,
    dkernel: Array3<F>,
    dbias: Array1<F>,
    /// im2col rows, output, input steps and padding of the last training forward.
    cache: Option<(Array2<F>, Array2<F>, usize, usize)>,
}

impl<F: Float> Conv1D<F> {
    pub fn new(config: Conv1DConfig, channels: usize, seed: u64) -> Result<Self> {
        let (k, f) = (config.kernel_size, config.filters);
        crate::memory::ensure::<F>("Conv1D kernel (kernel_size x channels x filters)", &[k, channels, f, 2])?;
        // Glorot uniform with Keras's fans: receptive field times channels in and out.
        let limit = (6.0 / ((k * channels) as f64 + (k * f) as f64)).sqrt();
        let mut rng = SplitMix64::new(seed);
        let nb = if config.use_bias { f } else { 0 };
        Ok(Conv1D {
            kernel: Array3::from_shape_simple_fn((k, channels, f), || F::from_f64(rng.uniform(-limit, limit))),
            dkernel: Array3::zeros((k, channels, f)),
            bias: Array1::zeros(nb),
            dbias: Array1::zeros(nb),
            config,
            channels,
            cache: None,
        })
    }

    fn kernel2(&self) -> ndarray::ArrayView2<'_, F> {
        let (k, c, f) = self.kernel.dim();
        self.kernel.view().into_shape_with_order((k * c, f)).expect("standard layout")
    }

    /// Input step read by tap `k` of output step `t`, if inside the sequence.
    #[inline]
    fn source(&self, t: usize, k: usize, pad: usize, steps: usize) -> Option<usize> {
        let s = (t * self.config.strides + k * self.config.dilation_rate).checked_sub(pad)?;
        (s < steps).then_some(s)
    }
}

impl<F: Float> Layer<F> for Conv1D<F> {
    fn class(&self) -> &'static str {
        "Conv1D"
    }

    fn config(&self) -> Value {
        self.config.to_json()
    }

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let x = x.rows("Conv1D")?;
        let steps = x.steps.ok_or_else(|| RnnError::shape("Conv1D: expected a sequence, got (batch, features)"))?;
        if x.features() != self.channels {
            return Err(RnnError::shape(format!("Conv1D: expected {} input channels, got {}", self.channels, x.features())));
        }
        let (out_steps, pad) = self.config.geometry(steps);
        if out_steps == 0 {
            let span = self.config.dilation_rate * (self.config.kernel_size - 1) + 1;
            return Err(RnnError::shape(format!(
                "Conv1D: the sequences have {steps} steps, fewer than the kernel's span of {span} steps (padding=\"valid\")"
            )));
        }
        let (b, c, k, f) = (x.batch(), self.channels, self.config.kernel_size, self.config.filters);
        crate::memory::ensure::<F>("Conv1D im2col rows (batch x steps x kernel_size x channels)", &[b, out_steps, k, c])?;
        let mut cols = Array2::<F>::zeros((b * out_steps, k * c));
        for bi in 0..b {
            for t in 0..out_steps {
                let mut row = cols.row_mut(bi * out_steps + t);
                for tap in 0..k {
                    if let Some(s) = self.source(t, tap, pad, steps) {
                        row.slice_mut(ndarray::s![tap * c..(tap + 1) * c]).assign(&x.data.row(bi * steps + s));
                    }
                }
            }
        }
        let mut y = Array2::<F>::zeros((b * out_steps, f));
        if self.config.use_bias {
            y.rows_mut().into_iter().for_each(|mut r| r.assign(&self.bias));
        }
        gemm(cols.view(), self.kernel2(), true, y.view_mut());
        let want_logits = ctx.last && matches!(self.config.activation, Activation::Sigmoid | Activation::Softmax);
        let logits = want_logits.then(|| y.clone());
        self.config.activation.apply(y.view_mut());
        if ctx.last {
            ctx.activation = self.config.activation;
            ctx.logits = logits;
        }
        ctx.mask = None;
        self.cache = ctx.keep().then(|| (cols, y.clone(), steps, pad));
        Ok(Tensor::new(y, Some(out_steps)))
    }

    fn backward(&mut self, mut dy: Array2<F>, ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        let (cols, y, steps, pad) = self.cache.take().ok_or_else(|| RnnError::state("Conv1D.backward: no training forward"))?;
        if !std::mem::take(&mut ctx.logits) {
            self.config.activation.backward(y.view(), &mut dy);
        }
        let (c, k) = (self.channels, self.config.kernel_size);
        if self.config.trainable {
            let (kk, cc, ff) = self.dkernel.dim();
            let dk = self.dkernel.view_mut().into_shape_with_order((kk * cc, ff)).expect("standard layout");
            gemm(cols.t(), dy.view(), true, dk);
            if self.config.use_bias {
                self.dbias += &dy.sum_axis(Axis(0));
            }
        }
        let mut dcols = Array2::<F>::zeros((dy.nrows(), k * c));
        gemm(dy.view(), self.kernel2().t(), false, dcols.view_mut());
        // col2im: each tap's gradient goes back to the input step it read.
        let t_out = self.config.geometry(steps).0;
        let b = dy.nrows() / t_out;
        let mut dx = Array2::<F>::zeros((b * steps, c));
        for bi in 0..b {
            for t in 0..t_out {
                let src = dcols.row(bi * t_out + t);
                for tap in 0..k {
                    if let Some(s) = self.source(t, tap, pad, steps) {
                        let mut d = dx.row_mut(bi * steps + s);
                        d += &src.slice(ndarray::s![tap * c..(tap + 1) * c]);
                    }
                }
            }
        }
        Ok(Some(dx))
    }

    param_fields!(|s| [("kernel", kernel, dkernel, true), ("bias", bias, dbias, s.config.use_bias)]);

    fn trainable(&self) -> bool {
        self.config.trainable
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.config.trainable = trainable;
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
