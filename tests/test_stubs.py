"""The checked-in stubs describe the compiled module: same names, same methods."""

import ast
from pathlib import Path

import rustrnn._native as native

STUB = Path(__file__).resolve().parents[1] / "python" / "rustrnn" / "_native.pyi"


def _stub_names():
    tree = ast.parse(STUB.read_text())
    top, classes = set(), {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            top.add(node.target.id)
        elif isinstance(node, ast.ClassDef):
            top.add(node.name)
            members = set()
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign):
                    members.add(item.target.id)
            classes[node.name] = members
    return top, classes


def test_stub_lists_exactly_the_public_native_names():
    top, _ = _stub_names()
    public = {n for n in dir(native) if not n.startswith("_")} | {"__version__"}
    assert top == public


def test_stub_classes_list_exactly_their_methods():
    _, classes = _stub_names()
    for cls_name, members in classes.items():
        cls = getattr(native, cls_name)
        public = {n for n in vars(cls) if not n.startswith("_")} | ({"__init__"} & members)
        assert members == public, cls_name


def test_python_name_tables_match_the_core_tables():
    """One name table per concept lives in the core; Python's copies (for early,
    Python-side argument checks) must list exactly the same names."""
    from rustrnn import layers, losses, optimizers, seq2seq
    from rustrnn.nn import recurrent as nn_recurrent

    core = {k: set(v) for k, v in native.name_tables().items()}
    nn_cells = {c._cell for c in vars(nn_recurrent).values() if isinstance(c, type) and getattr(c, "_cell", "")}
    assert core["cell"] == set(seq2seq.CELLS) | nn_cells
    assert core["nonlinearity"] == set(layers.NONLINEARITIES)
    assert core["cell_activation"] == set(layers.CELL_ACTIVATIONS)
    assert core["activation"] == set(layers.ACTIVATIONS)
    assert core["merge_mode"] == set(layers.MERGE_MODES)
    assert core["loss"] == set(losses.ALIASES)
    assert core["optimizer"] == set(optimizers.OPTIMIZERS)
    assert core["layer"] == set(layers.LAYER_CLASSES)
    assert core["schedule"] == set(optimizers.SCHEDULES)
    assert core["attention"] == set(seq2seq.ATTENTIONS)


def _keys(typed_dict) -> set:
    return set(typed_dict.__annotations__)


def test_specs_built_in_python_use_only_the_typed_spec_keys():
    """The TypedDicts of rustrnn.spec describe every key the Python side sends."""
    import numpy as np

    import rustrnn
    from rustrnn import layers, spec

    assert set(spec.LAYER_CONFIGS) == set(layers.LAYER_CLASSES)
    m = rustrnn.Sequential([layers.Embedding(20, 4, mask_zero=True), layers.SimpleRNN(3, activation="relu", return_sequences=True),
                            layers.GRU(3, reset_after=False, return_sequences=True),
                            layers.Masking(), layers.GRU(3, bidirectional=True, merge_mode="sum"), layers.Dropout(0.1),
                            layers.Dense(2, "softmax")])
    m.build()
    s = m._spec()
    assert set(s) == _keys(spec.SequentialSpec) and set(s["input"]) <= _keys(spec.InputSpec)
    for entry in s["layers"]:
        assert set(entry) == _keys(spec.LayerSpec)
        assert set(entry["config"]) <= _keys(spec.LAYER_CONFIGS[entry["class"]]), entry
    s2s = rustrnn.Seq2Seq(src_vocab=5, tgt_vocab=6, units=4, embedding_dim=3, attention="bahdanau")
    cfg = s2s._native_spec(None)
    assert set(cfg) == _keys(spec.Seq2SeqSpec) and set(cfg["config"]) <= _keys(spec.Seq2SeqConfig)
    opt = rustrnn.optimizers.Adam(rustrnn.optimizers.CosineDecay(0.1, 10), clipnorm=1.0).native_config()
    base = set(opt) - {"beta_1", "beta_2", "epsilon", "amsgrad"}
    assert base <= _keys(spec.OptimizerConfig) and set(opt["learning_rate"]) == _keys(spec.ScheduleSpec)
    assert np.isfinite(rustrnn.optimizers.CosineDecay(0.1, 10)(3))
