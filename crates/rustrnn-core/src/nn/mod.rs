//! Layers: the [`Layer`] protocol, the activations passed between layers
//! ([`Tensor`], [`Mask`]), one file per layer with its [configuration](config),
//! and the [`registry`] of layer classes the model spec names.
//!
//! A layer reads rows (one per batch element, or per (batch element, time
//! step) of a sequence) or token indices, and returns rows.

pub mod activation;
pub mod additive_attention;
pub mod attention;
pub mod concatenate;
pub mod config;
pub mod conv1d;
pub mod dense;
pub mod dot;
pub mod dot_attention;
pub mod dropout;
pub mod embedding;
pub mod flatten;
pub mod get_item;
pub mod initializer;
pub mod layer;
pub mod layer_normalization;
pub mod masking;
pub mod merge;
mod param_fields;
pub mod pooling;
pub mod recurrent;
pub mod registry;
pub mod repeat_vector;
pub mod reshape;
pub mod scored_attention;
pub mod tensor;
pub mod time_distributed;

pub use activation::Activation;
pub use attention::{AttentionConfig, AttentionKind};
pub use config::{DynLayerConfig, Flow, LayerConfig};
pub use layer::{all_param_names, find_folded, find_param, Ctx, GradCtx, Layer, LayerInput, Mode, NamedLayer, ParamVisitor, States};
pub use recurrent::{MergeMode, RecurrentConfig, RecurrentLayer};
pub use tensor::{Mask, Memory, Tensor};
