"""The JSON model spec as types: what ``Sequential`` and ``Seq2Seq`` send to
the native model and what a model file stores as its architecture.

These TypedDicts mirror the strict Rust parser (``crates/rustrnn-core/src/
models/spec.rs``, each layer's config in ``nn/<layer>.rs``, ``Seq2SeqConfig``
in ``models/seq2seq.rs``, optimizers in ``train/optim``); keep the two in
step: tests/test_stubs.py checks that every spec the Python side builds uses
only the keys declared here, and the Rust parser rejects unknown keys.
"""

from __future__ import annotations

from typing import Literal, Optional, TypedDict, Union

__all__ = [
    "InputSpec", "EmbeddingConfig", "MaskingConfig", "RecurrentConfig", "DenseConfig", "DropoutConfig", "RepeatVectorConfig",
    "TimeDistributedConfig", "GlobalPoolingConfig", "Conv1DConfig", "LayerNormalizationConfig", "LayerSpec",
    "SequentialSpec", "Seq2SeqConfig", "Seq2SeqSpec", "ModelSpec", "ScheduleSpec", "OptimizerConfig", "LAYER_CONFIGS",
]


class _InputSpecRequired(TypedDict):
    kind: Literal["indices", "features"]


class InputSpec(_InputSpecRequired, total=False):
    features: int
    sequence: bool
    steps: Optional[int]  # T when declared (Flatten and Reshape need it)


class _EmbeddingConfigRequired(TypedDict):
    input_dim: int
    output_dim: int


class EmbeddingConfig(_EmbeddingConfigRequired, total=False):
    mask_zero: bool
    trainable: bool


class MaskingConfig(TypedDict, total=False):
    mask_value: float


class _RecurrentConfigRequired(TypedDict):
    units: int


class RecurrentConfig(_RecurrentConfigRequired, total=False):
    """``SimpleRNN``, ``LSTM`` and ``GRU`` (``activation``: always for SimpleRNN, for LSTM/GRU with
    ``recurrent_activation`` only when not tanh/sigmoid; ``stateful``: written only when True;
    ``reset_after``: GRU only, written only when False; ``dropout``: Keras's, on the inputs;
    ``recurrent_dropout``: Keras's, on the state entering each step, written only when set;
    ``layer_dropout``: between stacked layers, which format version 1 wrote as ``dropout``)."""

    num_layers: int
    bidirectional: bool
    merge_mode: Literal["concat", "sum", "mul", "ave"]
    return_sequences: bool
    return_state: bool
    go_backwards: bool
    dropout: float
    recurrent_dropout: float
    layer_dropout: float
    use_bias: bool
    kernel_initializer: Union[str, dict]
    recurrent_initializer: Union[str, dict]
    bias_initializer: Union[str, dict]
    unit_forget_bias: bool
    trainable: bool
    activation: Literal["tanh", "sigmoid", "relu", "hard_sigmoid", "linear", "elu", "selu", "softsign"]
    recurrent_activation: Literal["tanh", "sigmoid", "relu", "hard_sigmoid", "linear", "elu", "selu", "softsign"]
    stateful: bool
    reset_after: bool


class _DenseConfigRequired(TypedDict):
    units: int


class DenseConfig(_DenseConfigRequired, total=False):
    activation: Literal["linear", "relu", "tanh", "sigmoid", "softmax"]
    use_bias: bool
    trainable: bool


class DropoutConfig(TypedDict):
    rate: float


class ConcatenateConfig(TypedDict, total=False):
    axis: Literal[-1]


class AttentionConfig(TypedDict, total=False):
    use_scale: bool
    score_mode: Literal["dot"]
    dropout: float
    trainable: bool


class AdditiveAttentionConfig(TypedDict, total=False):
    use_scale: bool
    dropout: float
    trainable: bool


class RepeatVectorConfig(TypedDict):
    n: int


InnerLayerSpec = TypedDict("InnerLayerSpec", {"class": str, "config": dict})


class TimeDistributedConfig(TypedDict):
    layer: InnerLayerSpec


class GlobalPoolingConfig(TypedDict):
    """``GlobalAveragePooling1D`` and ``GlobalMaxPooling1D``: no options."""


class _Conv1DConfigRequired(TypedDict):
    filters: int
    kernel_size: int


class Conv1DConfig(_Conv1DConfigRequired, total=False):
    strides: int
    padding: Literal["valid", "same", "causal"]
    dilation_rate: int
    activation: Literal["linear", "relu", "tanh", "sigmoid", "softmax"]
    use_bias: bool
    trainable: bool


class LayerNormalizationConfig(TypedDict, total=False):
    epsilon: float
    center: bool
    scale: bool
    trainable: bool


class FlattenConfig(TypedDict, total=False):
    """No options (``data_format`` is "channels_last")."""

    data_format: Literal["channels_last"]


class ReshapeConfig(TypedDict):
    target_shape: list  # one or two ints, one may be -1


class MergeConfig(TypedDict):
    """``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``, ``Minimum``: no options."""


class DotConfig(TypedDict, total=False):
    axes: Union[int, list]  # one axis for both inputs or [axis of inputs[0], axis of inputs[1]]
    normalize: bool


class GetItemConfig(TypedDict, total=False):
    time: Union[None, int, list]  # an index or [start, stop]
    features: Optional[list]  # [start, stop]


# The config type of each layer class of the registry (rustrnn-core nn/registry.rs).
LAYER_CONFIGS = {
    "Embedding": EmbeddingConfig,
    "Masking": MaskingConfig,
    "SimpleRNN": RecurrentConfig,
    "LSTM": RecurrentConfig,
    "GRU": RecurrentConfig,
    "Dense": DenseConfig,
    "Dropout": DropoutConfig,
    "Concatenate": ConcatenateConfig,
    "Attention": AttentionConfig,
    "AdditiveAttention": AdditiveAttentionConfig,
    "RepeatVector": RepeatVectorConfig,
    "TimeDistributed": TimeDistributedConfig,
    "GlobalAveragePooling1D": GlobalPoolingConfig,
    "GlobalMaxPooling1D": GlobalPoolingConfig,
    "Conv1D": Conv1DConfig,
    "LayerNormalization": LayerNormalizationConfig,
    "Flatten": FlattenConfig,
    "Reshape": ReshapeConfig,
    "GetItem": GetItemConfig,
    "Add": MergeConfig,
    "Subtract": MergeConfig,
    "Multiply": MergeConfig,
    "Average": MergeConfig,
    "Maximum": MergeConfig,
    "Minimum": MergeConfig,
    "Dot": DotConfig,
}

LayerSpec = TypedDict("LayerSpec", {
    "class": str,
    "name": str,
    "config": Union[EmbeddingConfig, MaskingConfig, RecurrentConfig, DenseConfig, DropoutConfig, ConcatenateConfig,
                    AttentionConfig, AdditiveAttentionConfig, RepeatVectorConfig, TimeDistributedConfig,
                    GlobalPoolingConfig, Conv1DConfig, LayerNormalizationConfig],
})


class SequentialSpec(TypedDict):
    type: Literal["sequential"]
    input: InputSpec
    layers: list


class _Seq2SeqConfigRequired(TypedDict):
    src_vocab: int
    tgt_vocab: int


class Seq2SeqConfig(_Seq2SeqConfigRequired, total=False):
    embedding_dim: int
    units: int
    cell: Literal["lstm", "gru", "simple_rnn"]
    num_layers: int
    bidirectional_encoder: bool
    dropout: float
    recurrent_dropout: float
    bos_id: int
    eos_id: int
    attention: Optional[Literal["luong", "bahdanau"]]


class Seq2SeqSpec(TypedDict):
    type: Literal["seq2seq"]
    config: Seq2SeqConfig


class GraphInputSpec(TypedDict, total=False):
    name: str
    kind: Literal["indices", "features"]
    features: int
    sequence: bool
    steps: Optional[int]


# A layer of a functional graph: a LayerSpec plus the [node name, output index] tensors it reads.
GraphLayerSpec = TypedDict("GraphLayerSpec", {"class": str, "name": str, "config": dict, "inbound": list})


class FunctionalSpec(TypedDict):
    """Layers in call order; ``outputs`` and each ``inbound`` are ``[node name, output index]`` pairs."""

    type: Literal["functional"]
    inputs: list
    layers: list
    outputs: list


ModelSpec = Union[SequentialSpec, Seq2SeqSpec, FunctionalSpec]

ScheduleSpec = TypedDict("ScheduleSpec", {"class": str, "config": dict})


class _OptimizerConfigRequired(TypedDict):
    name: Literal["sgd", "adam", "adamw", "rmsprop", "adagrad"]
    learning_rate: Union[float, ScheduleSpec]


class OptimizerConfig(_OptimizerConfigRequired, total=False):
    """What ``Optimizer.native_config()`` sends; the rule's own options (``beta_1``, ...) come along."""

    weight_decay: float
    clipnorm: Optional[float]
    clipvalue: Optional[float]
    global_clipnorm: Optional[float]