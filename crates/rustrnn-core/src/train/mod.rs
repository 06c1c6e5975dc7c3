//! Training: losses, metrics, optimizers and the step that runs them on one
//! batch (forward, loss, backpropagation, clipping, update).

pub mod losses;
pub mod metrics;
pub mod optim;
pub mod trainer;

pub use losses::{Loss, LossKind};
pub use metrics::Metric;
pub use optim::{Optimizer, OptimizerConfig, OptimizerKind, Rule, Schedule};
pub use trainer::{BatchStats, Compiled, NamedArrays, OutputLoss, Targets, Trainer};
