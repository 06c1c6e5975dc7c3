//! Parameters of a recurrent stack, stored per (layer, direction) under PyTorch's names:
//! `weight_ih_l{k}` (G·H, I_k), `weight_hh_l{k}` (G·H, H), `bias_ih_l{k}` (G·H,),
//! `bias_hh_l{k}` (G·H,), for an LSTM with `proj_size` P also `weight_hr_l{k}` (P, H)
//! (and `weight_hh_l{k}` is then (G·H, P)), with the suffix `_reverse` for the backward direction.

use super::config::RnnConfig;
use crate::error::{fmt_shape, Result, RnnError};
use crate::float::Float;
use crate::rng::SplitMix64;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewD, Ix1, Ix2};

/// The four tensors of one direction of one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct CellParams<F> {
    /// (G·H, I_layer), gate blocks stacked in PyTorch's order.
    pub weight_ih: Array2<F>,
    /// (G·H, H).
    pub weight_hh: Array2<F>,
    /// (G·H,), absent when the stack has `bias = false`.
    pub bias_ih: Option<Array1<F>>,
    pub bias_hh: Option<Array1<F>>,
    /// LSTM with a projection: (P, H).
    pub weight_hr: Option<Array2<F>>,
}

/// Which of the four tensors of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    WeightIh,
    WeightHh,
    BiasIh,
    BiasHh,
    WeightHr,
}

impl ParamKind {
    const ALL: [ParamKind; 5] = [ParamKind::WeightIh, ParamKind::WeightHh, ParamKind::BiasIh, ParamKind::BiasHh, ParamKind::WeightHr];

    fn prefix(self) -> &'static str {
        match self {
            ParamKind::WeightIh => "weight_ih",
            ParamKind::WeightHh => "weight_hh",
            ParamKind::BiasIh => "bias_ih",
            ParamKind::BiasHh => "bias_hh",
            ParamKind::WeightHr => "weight_hr",
        }
    }

    fn is_bias(self) -> bool {
        matches!(self, ParamKind::BiasIh | ParamKind::BiasHh)
    }
}

/// PyTorch's name of a parameter, e.g. `weight_hh_l1_reverse`.
pub fn param_name(kind: ParamKind, layer: usize, reverse: bool) -> String {
    format!("{}_l{}{}", kind.prefix(), layer, if reverse { "_reverse" } else { "" })
}

/// All parameters of a stack; `cells[layer * D + direction]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RnnParams<F> {
    pub cells: Vec<CellParams<F>>,
}

/// One named parameter slot: where it lives and its expected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSlot {
    pub name: String,
    pub cell: usize,
    pub kind: ParamKind,
    pub shape: Vec<usize>,
}

/// The parameter slots of a configuration, in PyTorch's `named_parameters()` order.
pub fn param_slots(config: &RnnConfig) -> Vec<ParamSlot> {
    let d = config.num_directions();
    let g = config.gate_size();
    let mut slots = Vec::new();
    for layer in 0..config.num_layers {
        for dir in 0..d {
            for kind in ParamKind::ALL {
                if (kind.is_bias() && !config.bias) || (kind == ParamKind::WeightHr && config.proj_size == 0) {
                    continue;
                }
                let shape = match kind {
                    ParamKind::WeightIh => vec![g, config.layer_input_size(layer)],
                    ParamKind::WeightHh => vec![g, config.state_size()],
                    ParamKind::BiasIh | ParamKind::BiasHh => vec![g],
                    ParamKind::WeightHr => vec![config.proj_size, config.hidden_size],
                };
                slots.push(ParamSlot { name: param_name(kind, layer, dir == 1), cell: layer * d + dir, kind, shape });
            }
        }
    }
    slots
}

impl<F: Float> RnnParams<F> {
    /// All-zero parameters (also the shape of a gradient buffer).
    pub fn zeros(config: &RnnConfig) -> Self {
        Self::filled(config, |_| F::zero())
    }

    /// PyTorch's default: every entry from U(-1/sqrt(H), 1/sqrt(H)), drawn in
    /// `named_parameters()` order from one generator.
    pub fn init_uniform(config: &RnnConfig, seed: u64) -> Self {
        let bound = 1.0 / (config.hidden_size as f64).sqrt();
        let mut rng = SplitMix64::new(seed);
        Self::filled(config, |_| F::from_f64(rng.uniform(-bound, bound)))
    }

    fn filled(config: &RnnConfig, mut value: impl FnMut(usize) -> F) -> Self {
        let d = config.num_directions();
        let g = config.gate_size();
        let h = config.hidden_size;
        let mut i = 0;
        let mut next = move || {
            i += 1;
            value(i)
        };
        let cells = (0..config.num_layers * d)
            .map(|cell| {
                let input = config.layer_input_size(cell / d);
                let weight_ih = Array2::from_shape_simple_fn((g, input), &mut next);
                let weight_hh = Array2::from_shape_simple_fn((g, config.state_size()), &mut next);
                let (bias_ih, bias_hh) = if config.bias {
                    (Some(Array1::from_shape_simple_fn(g, &mut next)), Some(Array1::from_shape_simple_fn(g, &mut next)))
                } else {
                    (None, None)
                };
                let weight_hr = (config.proj_size > 0).then(|| Array2::from_shape_simple_fn((config.proj_size, h), &mut next));
                CellParams { weight_ih, weight_hh, bias_ih, bias_hh, weight_hr }
            })
            .collect();
        RnnParams { cells }
    }

    /// The tensor behind a slot, as a dynamic-rank view.
    pub fn get(&self, slot: &ParamSlot) -> ArrayViewD<'_, F> {
        let cell = &self.cells[slot.cell];
        match slot.kind {
            ParamKind::WeightIh => cell.weight_ih.view().into_dyn(),
            ParamKind::WeightHh => cell.weight_hh.view().into_dyn(),
            ParamKind::BiasIh => cell.bias_ih.as_ref().expect("slot exists only with bias").view().into_dyn(),
            ParamKind::BiasHh => cell.bias_hh.as_ref().expect("slot exists only with bias").view().into_dyn(),
            ParamKind::WeightHr => cell.weight_hr.as_ref().expect("slot exists only with proj_size").view().into_dyn(),
        }
    }

    /// Copies `value` into the slot after checking its shape.
    pub fn set(&mut self, slot: &ParamSlot, value: ArrayViewD<'_, F>) -> Result<()> {
        if value.shape() != slot.shape.as_slice() {
            return Err(RnnError::shape(format!(
                "{}: expected shape {}, got {}",
                slot.name,
                fmt_shape(&slot.shape),
                fmt_shape(value.shape())
            )));
        }
        let cell = &mut self.cells[slot.cell];
        match slot.kind {
            ParamKind::WeightIh => cell.weight_ih.assign(&into_2d(value)),
            ParamKind::WeightHh => cell.weight_hh.assign(&into_2d(value)),
            ParamKind::BiasIh => cell.bias_ih.as_mut().expect("slot exists only with bias").assign(&into_1d(value)),
            ParamKind::BiasHh => cell.bias_hh.as_mut().expect("slot exists only with bias").assign(&into_1d(value)),
            ParamKind::WeightHr => cell.weight_hr.as_mut().expect("slot exists only with proj_size").assign(&into_2d(value)),
        }
        Ok(())
    }

    /// Sets every entry to zero, keeping the allocation.
    pub fn fill_zero(&mut self) {
        for c in &mut self.cells {
            c.weight_ih.fill(F::zero());
            c.weight_hh.fill(F::zero());
            if let Some(b) = c.bias_ih.as_mut() {
                b.fill(F::zero());
            }
            if let Some(b) = c.bias_hh.as_mut() {
                b.fill(F::zero());
            }
            if let Some(w) = c.weight_hr.as_mut() {
                w.fill(F::zero());
            }
        }
    }

    /// Total number of scalars.
    pub fn len(&self) -> usize {
        self.cells
            .iter()
            .map(|c| {
                c.weight_ih.len()
                    + c.weight_hh.len()
                    + c.bias_ih.as_ref().map_or(0, |b| b.len())
                    + c.bias_hh.as_ref().map_or(0, |b| b.len())
                    + c.weight_hr.as_ref().map_or(0, |w| w.len())
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn into_2d<F>(v: ArrayViewD<'_, F>) -> ArrayView2<'_, F> {
    v.into_dimensionality::<Ix2>().expect("shape checked")
}

fn into_1d<F>(v: ArrayViewD<'_, F>) -> ArrayView1<'_, F> {
    v.into_dimensionality::<Ix1>().expect("shape checked")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recurrent::config::{CellKind, RnnConfig};

    #[test]
    fn slots_follow_pytorch_names_and_shapes() {
        let mut cfg = RnnConfig::new(CellKind::Lstm, 3, 5);
        cfg.num_layers = 2;
        cfg.bidirectional = true;
        let slots = param_slots(&cfg);
        let names: Vec<_> = slots.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(&names[..5], ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse"]);
        assert_eq!(slots.len(), 16);
        let w1 = slots.iter().find(|s| s.name == "weight_ih_l1_reverse").unwrap();
        assert_eq!(w1.shape, vec![20, 10]);
        let p = RnnParams::<f64>::init_uniform(&cfg, 7);
        assert_eq!(p.len(), slots.iter().map(|s| s.shape.iter().product::<usize>()).sum::<usize>());
        let bound = 1.0 / 5f64.sqrt();
        for s in &slots {
            assert!(p.get(s).iter().all(|v| v.abs() <= bound));
        }
        cfg.bias = false;
        assert_eq!(param_slots(&cfg).len(), 8);
    }

    #[test]
    fn set_checks_shape_and_names_the_parameter() {
        let cfg = RnnConfig::new(CellKind::Gru, 2, 3);
        let mut p = RnnParams::<f32>::zeros(&cfg);
        let slot = &param_slots(&cfg)[0];
        let bad = ndarray::Array2::<f32>::zeros((9, 3));
        let err = p.set(slot, bad.view().into_dyn()).unwrap_err();
        assert_eq!(err.to_string(), "weight_ih_l0: expected shape (9, 2), got (9, 3)");
        let good = ndarray::Array2::<f32>::ones((9, 2));
        p.set(slot, good.view().into_dyn()).unwrap();
        assert!(p.cells[0].weight_ih.iter().all(|&v| v == 1.0));
    }
}
