"""Property-based fuzzing of the public API and of the model file parser
(hypothesis): constructor arguments, array shapes and dtypes, lengths, token
ids, and byte-level mutations of valid model files. Every case runs in a child
process under a memory limit (tests/isolated.py): it must succeed or raise a
``rustrnn.RustRnnError`` — never crash, hang, or raise anything else.

Each example runs a batch of cases in one child, to keep the suite's added time
to about a minute on two cores; ``make fuzz`` runs the long version.
"""

import json
import os
import struct

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import rustrnn  # noqa: E402
from isolated import run_cases  # noqa: E402

EXAMPLES = int(os.environ.get("RUSTRNN_FUZZ_EXAMPLES", "6"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("RUSTRNN_FUZZ_RANDOM"),
                suppress_health_check=list(HealthCheck), database=None)

# Sizes: small ones that work, and absurd ones (overflowing, negative, wrong type)
# that must be clean errors. Nothing in between, where a memory limit would
# only measure the test machine.
ABSURD = [0, -1, -(2**63), 10**7, 10**9, 10**11, 2**31, 2**32 + 1, 2**40, 2**62, 2**63, 2**64, 2**70]
size = st.one_of(st.integers(1, 6), st.sampled_from(ABSURD), st.sampled_from([True, 1.5, "3", None, [2]]))
flag = st.sampled_from([True, False, "no", 0, 1, None, 2.0])
dtype = st.sampled_from(["float32", "float64", "float16", "int64", "int8", "bool", "complex64", "object", "U3"])
dim = st.one_of(st.integers(0, 5), st.sampled_from([10**5, 10**7, 2**40]))
shape = st.lists(dim, min_size=0, max_size=4)
fill = st.sampled_from([0, 1, -1, 0.5, float("nan"), float("inf"), 2**40, -(2**40)])


@st.composite
def array_spec(draw, dtypes=dtype):
    return {"shape": draw(shape), "dtype": draw(dtypes), "fill": draw(fill), "broadcast": draw(st.booleans())}


@st.composite
def nn_case(draw):
    cell = draw(st.sampled_from(["rnn", "lstm", "gru"]))
    kwargs = {k: draw(flag) for k in draw(st.sets(st.sampled_from(["bias", "batch_first", "bidirectional"])))}
    if draw(st.booleans()):
        kwargs["num_layers"] = draw(size)
    if draw(st.booleans()):
        kwargs["dtype"] = draw(st.sampled_from(["float32", "float64", "int64", "float16", "nope"]))
    x = draw(st.one_of(st.none(), array_spec(st.sampled_from(["float32", "float64", "int64", "object"]))))
    lengths = draw(st.one_of(st.none(), st.lists(st.sampled_from([0, 1, 2, 3, -1, 2**40]), min_size=0, max_size=4)))
    return {"kind": "nn", "cell": cell, "args": [draw(size), draw(size)], "kwargs": kwargs, "x": x, "lengths": lengths}


@st.composite
def keras_case(draw):
    first = draw(st.sampled_from(["Embedding", "LSTM"]))
    if first == "Embedding":
        stack = [["Embedding", [draw(size), draw(size)], {"mask_zero": draw(flag)}]]
        x = array_spec(st.sampled_from(["int64", "int32", "float32", "uint64"]))
    else:
        stack = []
        x = array_spec(st.sampled_from(["float32", "float64", "int64"]))
    rec = draw(st.sampled_from(["SimpleRNN", "LSTM", "GRU"]))
    stack.append([rec, [draw(size)], {k: draw(flag) for k in draw(st.sets(st.sampled_from(["return_sequences", "bidirectional"])))}])
    if draw(st.booleans()):
        stack.append(["Dense", [draw(size)], {"use_bias": draw(flag)}])
    return {"kind": "keras", "layers": stack, "x": draw(st.one_of(st.none(), x)),
            "batch_size": draw(st.sampled_from([1, 32, 0, -3, 2**63, 10**9]))}


call_case = st.one_of(
    st.builds(lambda n: {"kind": "call", "f": "set_num_threads", "args": [n]},
              st.sampled_from([0, 1, 2, 1024, 1025, 100000, -1, 2**64, 2**70, True, 1.5, "2"])),
    st.builds(lambda s: {"kind": "call", "f": "manual_seed", "args": [s]}, st.sampled_from([0, -1, 2**64, 2**200, "x", 1.5])),
    st.builds(lambda seqs, m: {"kind": "call", "f": "pad_sequences", "args": [seqs], "kwargs": {"maxlen": m}},
              st.lists(st.lists(st.integers(-5, 2**40), max_size=3), max_size=3), st.one_of(st.none(), size)),
    st.builds(lambda y, n: {"kind": "call", "f": "to_categorical", "args": [y], "kwargs": {"num_classes": n}},
              st.lists(st.sampled_from([0, 1, 3, -1, 2**40]), max_size=4), st.one_of(st.none(), size)),
)


@FUZZ
@given(st.lists(st.one_of(nn_case(), keras_case(), call_case), min_size=30, max_size=30))
def test_public_api_never_crashes_and_raises_only_rustrnn_errors(cases):
    run_cases(cases, timeout=180)


# ------------------------------------------------------------------------------------------
# model files
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    """Small valid model files: a compiled Sequential (with optimizer slots and CLI-style
    metadata) and a Seq2Seq."""
    from rustrnn import layers

    d = tmp_path_factory.mktemp("valid")
    rustrnn.manual_seed(3)
    m = rustrnn.Sequential([layers.Embedding(20, 4, mask_zero=True), layers.LSTM(5), layers.Dense(2, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).integers(1, 20, size=(16, 6))
    m.fit(x, np.arange(16) % 2, epochs=1, batch_size=8, verbose=0)
    m.metadata = {"note": "fuzz", "rustrnn_cli": {"version": 1, "task": "classify"}}
    m.save(d / "seq.rnn")
    s = rustrnn.Seq2Seq(src_vocab=9, tgt_vocab=8, embedding_dim=3, units=4)
    s.save(d / "s2s.rnn")
    return {"seq": (d / "seq.rnn").read_bytes(), "s2s": (d / "s2s.rnn").read_bytes()}


def split(data):
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def join(header, body):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


HUGE = [10**7, 10**9, 10**11, 2**62, 2**63 - 1, 2**64 - 1, 0, -1]


def mutate_json(data, draw):
    """Rewrites one number in the architecture JSON (sizes, shapes) or nests it deeply."""
    header, body = split(data)
    meta = header["__metadata__"]
    arch = meta["architecture"]
    how = draw(st.sampled_from(["number", "nest", "shape", "offsets", "drop_key", "training"]))
    if how == "number":
        import re
        nums = list(re.finditer(r"(?<![\w.])\d+(?![\w.])", arch))
        if nums:
            m = nums[draw(st.integers(0, len(nums) - 1))]
            arch = arch[:m.start()] + str(draw(st.sampled_from(HUGE))) + arch[m.end():]
        meta["architecture"] = arch
    elif how == "nest":
        depth = draw(st.sampled_from([100, 1000, 100000]))
        meta[draw(st.sampled_from(["architecture", "training", "user_metadata"]))] = "[" * depth + "]" * depth
    elif how == "shape":
        name = draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
        header[name]["shape"] = [draw(st.sampled_from(HUGE + [1, 2]))] * draw(st.integers(0, 3))
    elif how == "offsets":
        name = draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
        header[name]["data_offsets"] = [draw(st.sampled_from(HUGE + [1])), draw(st.sampled_from(HUGE + [4]))]
    elif how == "drop_key":
        meta.pop(draw(st.sampled_from(sorted(meta))))
    else:
        meta["training"] = draw(st.sampled_from(['{"optimizer": 3}', "[]", '{"loss": "x", "metrics": 5, "optimizer": {}}', "1e999"]))
    return join(header, body)


def mutate(data, how, draw):
    data = bytearray(data)
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
    elif how == "truncate":
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif how == "length":
        data[:8] = struct.pack("<Q", draw(st.sampled_from([0, 1, 7, len(data), 2**32, 2**63, 2**64 - 1])))
    elif how == "splice":
        i = draw(st.integers(0, len(data)))
        data[i:i] = draw(st.binary(min_size=1, max_size=64))
    else:
        return mutate_json(bytes(data), draw)
    return bytes(data)


@FUZZ
@given(st.data())
def test_mutated_model_files_are_clean_errors_for_load_model_info_and_predict(valid_files, tmp_path_factory, data):
    d = tmp_path_factory.mktemp("mutants")
    cases = []
    for i in range(24):
        kind = data.draw(st.sampled_from(["seq", "s2s"]))
        how = data.draw(st.sampled_from(["flip", "truncate", "json", "json", "length", "splice"]))
        path = d / f"m{i}.rnn"
        path.write_bytes(mutate(valid_files[kind], how, data.draw))
        cases.append({"kind": "file", "path": str(path), "predict": [[1, 2, 3]] if kind == "seq" else None})
        cases.append({"kind": "cli", "argv": ["info", str(path)]})
        if i % 4 == 0:
            cases.append({"kind": "cli", "argv": ["predict", str(path), "some text"]})
    run_cases(cases, timeout=240)
