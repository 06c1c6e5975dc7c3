//! Every name table of the core in one list, for the binding to export (the
//! Python package checks its own tables against it).

use crate::names::accepted;

/// `(concept, accepted names)` for every table, for the binding.
pub fn tables() -> Vec<(&'static str, Vec<&'static str>)> {
    use crate::kernels::Nonlinearity;
    use crate::nn::{Activation, AttentionKind, MergeMode};
    use crate::recurrent::{CellKind, GateFn};
    use crate::train::{LossKind, OptimizerKind};
    vec![
        ("cell", accepted::<CellKind>()),
        ("nonlinearity", accepted::<Nonlinearity>()),
        ("cell_activation", accepted::<GateFn>()),
        ("activation", accepted::<Activation>()),
        ("merge_mode", accepted::<MergeMode>()),
        ("attention", accepted::<AttentionKind>()),
        ("loss", accepted::<LossKind>()),
        ("optimizer", accepted::<OptimizerKind>()),
        ("layer", crate::nn::registry::classes()),
        ("schedule", crate::train::optim::schedule::CLASSES.to_vec()),
    ]
}
