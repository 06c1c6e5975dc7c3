//! `LayerNormalization` over the features of each row (Keras's `axis=-1`):
//! `y = (x - mean) / sqrt(var + epsilon) * gamma + beta`, with the population
//! variance. `gamma` (ones) and `beta` (zeros) are `(F,)`; `center=False`
//! drops beta, `scale=False` gamma. The mask passes through.

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput};
use super::param_fields::param_fields;
use super::tensor::Tensor;
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use ndarray::{Array1, Array2, Axis, Zip};
use serde_json::{json, Value};
use std::any::Any;

#[derive(Debug, Clone, PartialEq)]
pub struct LayerNormalizationConfig {
    pub epsilon: f64,
    pub center: bool,
    pub scale: bool,
    pub trainable: bool,
}

impl LayerConfig for LayerNormalizationConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        let epsilon = c.f64("epsilon", Some(1e-3))?;
        if epsilon <= 0.0 {
            return Err(RnnError::value(format!("{}.epsilon: expected a positive number, got {epsilon}", c.what())));
        }
        Ok(LayerNormalizationConfig {
            epsilon,
            center: c.bool("center", true)?,
            scale: c.bool("scale", true)?,
            trainable: c.bool("trainable", true)?,
        })
    }

    fn class(&self) -> &'static str {
        "LayerNormalization"
    }

    fn output(&self, input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        input.rows()?;
        Ok(input)
    }

    fn build<F: Float>(&self, input: Flow, _seed: u64) -> Result<Box<dyn Layer<F>>> {
        let f = input.features();
        Ok(Box::new(LayerNormalization::<F> {
            config: self.clone(),
            features: f,
            gamma: Array1::ones(if self.scale { f } else { 0 }),
            beta: Array1::zeros(if self.center { f } else { 0 }),
            dgamma: Array1::zeros(if self.scale { f } else { 0 }),
            dbeta: Array1::zeros(if self.center { f } else { 0 }),
            cache: None,
        }))
    }

    fn to_json(&self) -> Value {
        json!({"epsilon": self.epsilon, "center": self.center, "scale": self.scale, "trainable": self.trainable})
    }
}

#[derive(Debug)]
pub struct LayerNormalization<F> {
    pub config: LayerNormalizationConfig,
    features: usize,
    gamma: Array1<F>,
    beta: Array1<F>,
    dgamma: Array1<F>,
    dbeta: Array1<F>,
    /// The normalized input `x̂` and `1 / σ` of each row.
    cache: Option<(Array2<F>, Array1<F>)>,
}

impl<F: Float> Layer<F> for LayerNormalization<F> {
    fn class(&self) -> &'static str {
        "LayerNormalization"
    }

    fn config(&self) -> Value {
        self.config.to_json()
    }

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let x = x.rows("LayerNormalization")?;
        if x.features() != self.features {
            return Err(RnnError::shape(format!("LayerNormalization: expected {} features, got {}", self.features, x.features())));
        }
        let n = F::from_f64(self.features as f64);
        let eps = F::from_f64(self.config.epsilon);
        let mut xhat = x.data;
        let mut inv_std = Array1::<F>::zeros(xhat.nrows());
        for (mut row, s) in xhat.rows_mut().into_iter().zip(inv_std.iter_mut()) {
            let mean = row.iter().fold(F::zero(), |a, &v| a + v) / n;
            row.mapv_inplace(|v| v - mean);
            let var = row.iter().fold(F::zero(), |a, &v| a + v * v) / n;
            *s = F::one() / (var + eps).sqrt();
            let k = *s;
            row.mapv_inplace(|v| v * k);
        }
        let mut y = xhat.clone();
        for mut row in y.rows_mut() {
            if self.config.scale {
                Zip::from(&mut row).and(&self.gamma).for_each(|v, &g| *v = *v * g);
            }
            if self.config.center {
                Zip::from(&mut row).and(&self.beta).for_each(|v, &b| *v += b);
            }
        }
        self.cache = ctx.keep().then_some((xhat, inv_std));
        Ok(Tensor::new(y, x.steps))
    }

    fn backward(&mut self, dy: Array2<F>, _ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        let (xhat, inv_std) = self.cache.take().ok_or_else(|| RnnError::state("LayerNormalization.backward: no training forward"))?;
        if self.config.trainable {
            if self.config.scale {
                self.dgamma += &(&dy * &xhat).sum_axis(Axis(0));
            }
            if self.config.center {
                self.dbeta += &dy.sum_axis(Axis(0));
            }
        }
        let mut g = dy;
        if self.config.scale {
            for mut row in g.rows_mut() {
                Zip::from(&mut row).and(&self.gamma).for_each(|v, &w| *v = *v * w);
            }
        }
        // dx = (g - mean(g) - x̂·mean(g·x̂)) / σ, per row.
        let n = F::from_f64(self.features as f64);
        Zip::from(g.rows_mut()).and(xhat.rows()).and(&inv_std).for_each(|mut gr, xr, &s| {
            let mg = gr.iter().fold(F::zero(), |a, &v| a + v) / n;
            let mgx = gr.iter().zip(xr.iter()).fold(F::zero(), |a, (&v, &xv)| a + v * xv) / n;
            Zip::from(&mut gr).and(&xr).for_each(|v, &xv| *v = (*v - mg - xv * mgx) * s);
        });
        Ok(Some(g))
    }

    param_fields!(|s| [("gamma", gamma, dgamma, s.config.scale), ("beta", beta, dbeta, s.config.center)]);

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
