//! One cell's weights packed for the GEMM kernels, in every arrangement the
//! forward and backward passes read them. Packing costs one pass over the
//! weights; a stack keeps the packs until its parameters change, so repeated
//! inference calls (and short sequences, where packing would dominate) do not
//! pay it again.

use super::config::CellKind;
use super::params::CellParams;
use crate::float::Float;
use crate::kernels::gemm::{PackedB, PackedGates};
use ndarray::s;

#[derive(Debug, Clone)]
pub struct PackedCell<F> {
    /// `W_ihᵀ` (I × G·H): the input projection of all steps.
    pub w_ih_t: PackedB<F>,
    /// `W_ih` (G·H × I): the input gradient `dG · W_ih`.
    pub w_ih: PackedB<F>,
    /// `W_hhᵀ` with each unit block's gates side by side: the forward step.
    pub hh_gates: PackedGates<F>,
    /// Rows of `W_hh` that the gate gradient multiplies directly (all of them,
    /// or GRU's r and z blocks): the backward step.
    pub hh_direct: PackedB<F>,
    /// GRU: the n block of `W_hh`, which the reset gate scales.
    pub hh_n: Option<PackedB<F>>,
}

impl<F: Float> PackedCell<F> {
    pub fn new(cell: CellKind, p: &CellParams<F>) -> Self {
        let hs = p.weight_hh.ncols();
        let direct = if cell == CellKind::Gru { 2 * hs } else { p.weight_hh.nrows() };
        PackedCell {
            w_ih_t: PackedB::new(p.weight_ih.t()),
            w_ih: PackedB::new(p.weight_ih.view()),
            hh_gates: PackedGates::new(p.weight_hh.view(), cell.gates()),
            hh_direct: PackedB::new(p.weight_hh.slice(s![..direct, ..])),
            hh_n: (cell == CellKind::Gru).then(|| PackedB::new(p.weight_hh.slice(s![direct.., ..]))),
        }
    }
}
