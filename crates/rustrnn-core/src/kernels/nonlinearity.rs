//! The nonlinearity of a plain (Elman) RNN cell, applied by the cell kernels.

use crate::names::Names;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nonlinearity {
    Tanh,
    Relu,
}

impl Names for Nonlinearity {
    const WHAT: &'static str = "nonlinearity";
    const TABLE: &'static [(&'static str, Self)] = &[("tanh", Nonlinearity::Tanh), ("relu", Nonlinearity::Relu)];
}

crate::from_str_by_names!(Nonlinearity);
