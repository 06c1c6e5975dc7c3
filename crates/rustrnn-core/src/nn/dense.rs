//! `Dense`: `y = act(x · kernel + bias)` over every row, so on a sequence it
//! applies per time step. Kernel `(I, U)` as in Keras, Glorot-uniform init.

use super::activation::Activation;
use super::layer::ParamVisitor;
use super::tensor::Tensor;
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::kernels::gemm::gemm;
use crate::rng::SplitMix64;
use ndarray::{Array1, Array2, ArrayViewD, ArrayViewMutD, Axis};

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
        let limit = (6.0 / (input_dim + units) as f64).sqrt();
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
    pub fn forward(&mut self, x: Tensor<F>, keep: bool, want_logits: bool) -> Result<(Tensor<F>, Option<Array2<F>>)> {
        if x.features() != self.input_dim {
            return Err(RnnError::shape(format!("Dense: expected {} input features, got {}", self.input_dim, x.features())));
        }
        let mut y = self.linear(&x.data);
        let logits = want_logits.then(|| y.clone());
        self.activation.apply(y.view_mut());
        self.cache = keep.then(|| (x.data, y.clone()));
        Ok((Tensor::new(y, x.steps), logits))
    }

    /// From the gradient of the output (`is_logits == false`) or of the
    /// pre-activation, accumulates parameter gradients and returns `dx`.
    pub fn backward(&mut self, mut dy: Array2<F>, is_logits: bool) -> Result<Array2<F>> {
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

    pub fn param_names(&self) -> Vec<String> {
        if self.use_bias {
            vec!["kernel".into(), "bias".into()]
        } else {
            vec!["kernel".into()]
        }
    }

    pub fn param(&self, i: usize) -> ArrayViewD<'_, F> {
        if i == 0 {
            self.kernel.view().into_dyn()
        } else {
            self.bias.view().into_dyn()
        }
    }

    pub fn grad(&self, i: usize) -> ArrayViewD<'_, F> {
        if i == 0 {
            self.dkernel.view().into_dyn()
        } else {
            self.dbias.view().into_dyn()
        }
    }

    pub fn param_mut(&mut self, i: usize) -> ArrayViewMutD<'_, F> {
        if i == 0 {
            self.kernel.view_mut().into_dyn()
        } else {
            self.bias.view_mut().into_dyn()
        }
    }

    pub fn update(&mut self, f: &mut ParamVisitor<'_, F>) {
        f(0, self.kernel.view_mut().into_dyn(), self.dkernel.view().into_dyn());
        if self.use_bias {
            f(1, self.bias.view_mut().into_dyn(), self.dbias.view().into_dyn());
        }
    }

    pub fn zero_grad(&mut self) {
        self.dkernel.fill(F::zero());
        self.dbias.fill(F::zero());
    }

    /// (I, U) and (U,) (empty without bias).
    pub fn kernel(&self) -> (&Array2<F>, &Array1<F>) {
        (&self.kernel, &self.bias)
    }
}
