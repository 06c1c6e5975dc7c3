//! The exact recurrent stack (PyTorch's `nn.RNN`/`nn.LSTM`/`nn.GRU`), built
//! from the kernels: configuration, parameters, the per-direction time loop,
//! and the multi-layer, bidirectional stack.

pub mod config;
pub mod direction;
pub mod gru_reset_before;
pub mod masked;
pub mod packed;
pub mod params;
pub mod projected;
pub mod sequence;
pub mod stack;

pub use config::{CellActivations, CellKind, GateFn, Nonlinearity, RnnConfig};
pub use masked::GateMasks;
pub use params::{param_name, param_slots, CellParams, ParamKind, ParamSlot, RnnParams};
pub use stack::{ForwardCache, Recurrent, RnnInputGrads, RnnOutput};
#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
