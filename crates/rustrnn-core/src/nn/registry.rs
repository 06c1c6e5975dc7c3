//! The registry of layer classes: the spec parser looks a class name up here
//! and gets a parsed, checked configuration. Adding a layer is its file and
//! one line in [`LAYERS`].

use super::additive_attention::AdditiveAttentionConfig;
use super::concatenate::ConcatenateConfig;
use super::config::DynLayerConfig;
use super::config::LayerConfig;
use super::conv1d::Conv1DConfig;
use super::dense::DenseConfig;
use super::dot::DotConfig;
use super::dot_attention::DotAttentionConfig;
use super::dropout::DropoutConfig;
use super::embedding::EmbeddingConfig;
use super::flatten::FlattenConfig;
use super::get_item::GetItemConfig;
use super::layer_normalization::LayerNormalizationConfig;
use super::masking::MaskingConfig;
use super::merge::MergeConfig;
use super::pooling::GlobalPoolingConfig;
use super::recurrent::RecurrentConfig;
use super::repeat_vector::RepeatVectorConfig;
use super::reshape::ReshapeConfig;
use super::time_distributed::TimeDistributedConfig;
use crate::error::Result;
use crate::json::Obj;

type Parse = fn(&str, &mut Obj) -> Result<Box<dyn DynLayerConfig>>;

fn parse<T: LayerConfig>(class: &str, c: &mut Obj) -> Result<Box<dyn DynLayerConfig>> {
    Ok(Box::new(T::parse(class, c)?))
}

/// A wrapper reads its inner layer's class through this registry's lookup.
fn parse_time_distributed(_class: &str, c: &mut Obj) -> Result<Box<dyn DynLayerConfig>> {
    Ok(Box::new(TimeDistributedConfig::parse(c, lookup)?))
}

/// Every layer class a model spec can name, with its parser.
pub const LAYERS: &[(&str, Parse)] = &[
    ("Embedding", parse::<EmbeddingConfig>),
    ("Masking", parse::<MaskingConfig>),
    ("SimpleRNN", parse::<RecurrentConfig>),
    ("LSTM", parse::<RecurrentConfig>),
    ("GRU", parse::<RecurrentConfig>),
    ("Dense", parse::<DenseConfig>),
    ("Dropout", parse::<DropoutConfig>),
    ("Concatenate", parse::<ConcatenateConfig>),
    ("Attention", parse::<DotAttentionConfig>),
    ("AdditiveAttention", parse::<AdditiveAttentionConfig>),
    ("RepeatVector", parse::<RepeatVectorConfig>),
    ("TimeDistributed", parse_time_distributed),
    ("GlobalAveragePooling1D", parse::<GlobalPoolingConfig>),
    ("GlobalMaxPooling1D", parse::<GlobalPoolingConfig>),
    ("Conv1D", parse::<Conv1DConfig>),
    ("LayerNormalization", parse::<LayerNormalizationConfig>),
    ("Flatten", parse::<FlattenConfig>),
    ("Reshape", parse::<ReshapeConfig>),
    ("GetItem", parse::<GetItemConfig>),
    ("Add", parse::<MergeConfig>),
    ("Subtract", parse::<MergeConfig>),
    ("Multiply", parse::<MergeConfig>),
    ("Average", parse::<MergeConfig>),
    ("Maximum", parse::<MergeConfig>),
    ("Minimum", parse::<MergeConfig>),
    ("Dot", parse::<DotConfig>),
];

/// The registered class names, in registry order.
pub fn classes() -> Vec<&'static str> {
    LAYERS.iter().map(|(c, _)| *c).collect()
}

/// The parser of `class`, if registered.
pub fn lookup(class: &str) -> Option<Parse> {
    LAYERS.iter().find(|(c, _)| *c == class).map(|(_, p)| *p)
}
