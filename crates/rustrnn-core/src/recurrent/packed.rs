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
    /// `W_ihᵀ` (I × G·H): the input projection of all steps at once (the
    /// reset-before GRU, `super::gru_reset_before`, and every cell below
    /// `direction`'s in-loop batch size).
    pub w_ih_t: PackedB<F>,
    /// `W_ihᵀ` with each unit block's gates side by side: the input
    /// projection step by step inside the time loop (`super::direction`,
    /// from its in-loop batch size on); `None` for the reset-before GRU.
    /// Both are kept because the batch size is known only when a batch comes.
    pub ih_gates: Option<PackedGates<F>>,
    /// `W_hhᵀ` with each unit block's gates side by side: the forward step.
    pub hh_gates: PackedGates<F>,
}

impl<F: Float> ForwardPack<F> {
    pub fn new(cell: CellKind, p: &CellParams<F>) -> Self {
        let reset_before = cell == CellKind::GruResetBefore;
        ForwardPack {
            w_ih_t: PackedB::new(p.weight_ih.t()),
            ih_gates: (!reset_before).then(|| PackedGates::new(p.weight_ih.view(), cell.gates())),
            hh_gates: PackedGates::new(p.weight_hh.view(), cell.gates()),
        }
    }
}
