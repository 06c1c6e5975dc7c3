//! One cell's weights packed for the forward pass. Packing costs one pass over
//! the weights; a stack keeps these packs until a parameter changes, so
//! repeated inference calls (and short sequences, where packing would
//! dominate) do not pay it again. Backward packs what it reads itself, one
//! cell at a time, after dropping these: a training step never holds more
//! than about one packed copy of a layer's weights.

use super::config::CellKind;
use super::params::CellParams;
use crate::float::Float;
use crate::kernels::gemm::{PackedB, PackedGates};

/// What the forward pass reads.
#[derive(Debug, Clone)]
pub struct ForwardPack<F> {
    /// `W_ihᵀ` (I × G·H): the input projection of all steps.
    pub w_ih_t: PackedB<F>,
    /// `W_hhᵀ` with each unit block's gates side by side: the forward step.
    pub hh_gates: PackedGates<F>,
}

impl<F: Float> ForwardPack<F> {
    pub fn new(cell: CellKind, p: &CellParams<F>) -> Self {
        ForwardPack { w_ih_t: PackedB::new(p.weight_ih.t()), hh_gates: PackedGates::new(p.weight_hh.view(), cell.gates()) }
    }
}
