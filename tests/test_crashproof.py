"""Nothing crashes: impossible sizes are MemoryErrors (RustRnnError subclasses)
naming the argument and the bytes, checked before allocating; hostile model files
and CSVs are clean errors before anything is built; panics are InternalError;
every CLI path ends with one line and exit status 2; diverging training stops;
saving keeps file modes and cleans up. The risky calls run in a child process
under a memory limit (tests/isolated.py), so a regression fails the test
instead of killing pytest."""

import json
import os
import pathlib
import stat
import struct
import subprocess
import sys

import numpy as np
import pytest

import rustrnn
from isolated import run_cases
from rustrnn import layers


def nn(cell, *args, x=None, **kwargs):
    return {"kind": "nn", "cell": cell, "args": list(args), "kwargs": kwargs, "x": x}


def keras(stack, x=None):
    return {"kind": "keras", "layers": stack, "x": x}


def test_impossible_sizes_are_memory_errors_in_a_child_process():
    cases = [
        nn("lstm", 3, 2**62),
        nn("lstm", 3, 10**7),
        nn("gru", 10**11, 4),
        nn("rnn", 3, 10, num_layers=10**9),
        nn("lstm", 3, 2**64 - 1),
        keras([["Embedding", [10**11, 8], {}], ["LSTM", [4], {}]], x={"shape": [2, 3], "dtype": "int64", "fill": 1}),
        keras([["Embedding", [10, 8], {}], ["LSTM", [10**7], {}]], x={"shape": [2, 3], "dtype": "int64", "fill": 1}),
        keras([["Embedding", [10, 8], {}], ["LSTM", [4], {}], ["Dense", [10**10], {}]], x={"shape": [2, 3], "dtype": "int64", "fill": 1}),
        keras([["Embedding", [10, 8], {}], ["LSTM", [2**62], {"bidirectional": True}]], x={"shape": [2, 3], "dtype": "int64", "fill": 1}),
        # a long enough T: the input is a zero-stride view, the output would be 400 GB
        keras([["Embedding", [10, 1000], {}], ["LSTM", [4], {}]], x={"shape": [1, 10**8], "dtype": "int64", "fill": 1, "broadcast": True}),
        nn("lstm", 1, 4, x={"shape": [10**6, 10**6, 1], "dtype": "float32", "broadcast": True}),
    ]
    outcomes = run_cases(cases)
    assert outcomes == ["rustrnn:MemoryError"] * len(cases), outcomes


def test_memory_error_is_both_a_memoryerror_and_a_rustrnnerror_naming_argument_and_bytes():
    with pytest.raises(MemoryError) as e:
        rustrnn.nn.LSTM(3, 10**7)
    assert isinstance(e.value, rustrnn.RustRnnError) and isinstance(e.value, rustrnn.MemoryError)
    assert "hidden_size" in str(e.value) and "bytes" in str(e.value)
    with pytest.raises(rustrnn.MemoryError, match=r"Embedding input_dim.*cannot allocate \d+ bytes"):
        rustrnn.Sequential([layers.Embedding(10**11, 8), layers.LSTM(4)]).build()
    with pytest.raises(rustrnn.MemoryError, match="hidden_size: 4 x 4611686018427387904 overflows"):
        rustrnn.nn.LSTM(3, 2**62)


def test_set_num_threads_extremes_and_strict_types():
    before = rustrnn.get_num_threads()
    for bad in (0, -1, 1025, 100000, 2**64, 2**70):
        with pytest.raises(rustrnn.ArgumentError, match="threads"):
            rustrnn.set_num_threads(bad)
    for bad in (True, 1.5, "2", None):
        with pytest.raises(rustrnn.DTypeError):
            rustrnn.set_num_threads(bad)
    assert rustrnn.get_num_threads() == before
    with pytest.raises(rustrnn.ArgumentError):
        rustrnn._native.set_num_threads(5000)  # the native side checks too


@pytest.mark.parametrize("kwarg", ["bias", "batch_first", "bidirectional"])
def test_flags_are_strict_bools(kwarg):
    for bad in ("no", 0, 1, None, 2.0):
        with pytest.raises(rustrnn.DTypeError, match=f"{kwarg}: expected True or False"):
            rustrnn.nn.LSTM(3, 4, **{kwarg: bad})
    with pytest.raises(rustrnn.DTypeError, match="return_sequences: expected True or False"):
        layers.LSTM(4, return_sequences="yes")
    with pytest.raises(rustrnn.DTypeError, match="use_bias"):
        layers.Dense(4, use_bias="no")


def test_every_escaping_error_is_a_rustrnn_error_and_keeps_its_builtin_class():
    # A NumPy/Python error deep inside becomes a RustRnnError that is still what it was.
    cases = [
        lambda: rustrnn.nn.GRU(3, 4)(np.zeros((2, 3, 3), dtype=object)),
        lambda: rustrnn.nn.LSTM(3, 4, dtype="float16"),
        lambda: rustrnn.utils.to_categorical([1, 2], num_classes="x"),
        lambda: rustrnn.manual_seed("seed"),
        lambda: rustrnn.utils.pad_sequences([[1, 2]], maxlen=-3),
        lambda: rustrnn.Sequential([layers.Embedding(10, 4), layers.LSTM(3)]).predict(np.zeros((2, 3), np.int64), batch_size="8"),
    ]
    for f in cases:
        with pytest.raises(Exception) as e:
            f()
        assert isinstance(e.value, rustrnn.RustRnnError), (type(e.value).__mro__, e.value)


def test_a_users_own_exception_from_a_callback_passes_through_unchanged():
    class Stop(Exception):
        def __init__(self, code):
            super().__init__(f"stop {code}")
            self.code = code

    def cb(epoch, logs):
        raise Stop(7)

    m = rustrnn.Sequential([layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(Stop) as e:
        m.fit(np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32), verbose=0, callbacks=[cb])
    assert type(e.value) is Stop and e.value.code == 7


def test_a_native_panic_is_internal_error_not_panic_exception():
    from rustrnn import _guard

    class PanicException(BaseException):  # what pyo3 raises for a Rust panic
        pass

    @_guard.guard
    def panics():
        raise PanicException("index out of bounds")

    with pytest.raises(rustrnn.InternalError, match="please report it"):
        panics()
    # KeyboardInterrupt and OSError pass through unchanged.
    with pytest.raises(FileNotFoundError):
        rustrnn.load_model("/nonexistent/model.rnn")


# ------------------------------------------------------------------------------------------
# model files and CSVs
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("crashproof")
    rustrnn.manual_seed(1)
    m = rustrnn.Sequential([layers.Embedding(20, 4), layers.LSTM(5), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="adam", loss="binary_crossentropy")
    m.predict(np.ones((1, 3), np.int64))
    path = d / "m.rnn"
    m.save(path)
    return path


def rewrite(path, out, edit):
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header, body = json.loads(data[8:8 + n]), data[8 + n:]
    edit(header)
    h = json.dumps(header).encode()
    out.write_bytes(struct.pack("<Q", len(h)) + h + body)
    return out


@pytest.mark.parametrize("declared", [("Embedding", "input_dim", 10**11), ("LSTM", "units", 10**7),
                                      ("Dense", "units", 10**10), ("LSTM", "num_layers", 10**9), ("LSTM", "units", 2**62)])
def test_declared_sizes_are_checked_against_the_tensors_before_building(saved, tmp_path, declared):
    cls, key, value = declared

    def edit(header):
        arch = json.loads(header["__metadata__"]["architecture"])
        for layer in arch["layers"]:
            if layer["class"] == cls:
                layer["config"][key] = value
        header["__metadata__"]["architecture"] = json.dumps(arch)

    bad = rewrite(saved, tmp_path / "bad.rnn", edit)
    outcomes = run_cases([{"kind": "file", "path": str(bad)}, {"kind": "cli", "argv": ["info", str(bad)]}])
    assert outcomes[0] == "rustrnn:ModelFileError"
    with pytest.raises(rustrnn.ModelFileError, match="declares|shape|overflow|invalid"):
        rustrnn.load_model(bad)


def test_seq2seq_vocab_declared_beyond_the_file(tmp_path):
    s = rustrnn.Seq2Seq(src_vocab=9, tgt_vocab=8, embedding_dim=3, units=4)
    s.save(tmp_path / "s.rnn")

    def edit(header):
        arch = json.loads(header["__metadata__"]["architecture"])
        arch["src_vocab"] = 10**11
        header["__metadata__"]["architecture"] = json.dumps(arch)

    bad = rewrite(tmp_path / "s.rnn", tmp_path / "bad.rnn", edit)
    assert run_cases([{"kind": "file", "path": str(bad)}]) == ["rustrnn:ModelFileError"]


@pytest.mark.parametrize("found", sorted((pathlib.Path(__file__).parent / "fixtures" / "fuzz").glob("*.rnn")),
                         ids=lambda p: p.stem)
def test_inputs_the_fuzzers_found_are_model_file_errors(found):
    # Each file once broke a promise (see tests/fuzz/README.md); loading it must stay a clean error.
    assert run_cases([{"kind": "file", "path": str(found)}, {"kind": "cli", "argv": ["info", str(found)]}]) == \
        ["rustrnn:ModelFileError", "ok"]


def test_deeply_nested_json_is_a_model_file_error(saved, tmp_path):
    for key in ("architecture", "training", "user_metadata"):
        bad = rewrite(saved, tmp_path / f"{key}.rnn", lambda h: h["__metadata__"].__setitem__(key, "[" * 100000 + "]" * 100000))
        with pytest.raises(rustrnn.ModelFileError, match="nested too deeply|not valid JSON"):
            rustrnn.load_model(bad)


def test_dev_zero_as_model_or_csv_is_a_clean_error_not_an_endless_read(capsys):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    with pytest.raises(rustrnn.ModelFileError, match="not a regular file"):
        rustrnn.load_model("/dev/zero")
    outcomes = run_cases([{"kind": "cli", "argv": ["info", "/dev/zero"]},
                          {"kind": "cli", "argv": ["train", "classify", "/dev/zero", "-o", os.devnull + ".rnn"]}], timeout=120)
    assert outcomes == ["ok", "ok"]  # the child checked: exit 2, one line


class _Endless:
    """A binary file object whose read() never runs dry (a socket or pipe that keeps sending)."""

    name = "<endless>"

    def __init__(self):
        self.served = 0

    def read(self, n=-1):
        n = 1 << 20 if n is None or n < 0 else min(n, 1 << 20)
        self.served += n
        return b"\0" * n


def test_file_objects_are_read_with_the_same_bound_as_paths(saved, monkeypatch):
    import io

    from rustrnn import _bounded

    endless = _Endless()
    with pytest.raises((rustrnn.ModelFileError, rustrnn.MemoryError), match="not read further"):
        rustrnn.load_model(endless)
    assert endless.served <= _bounded.STREAM_LIMIT + (1 << 20)  # stopped at the limit, not at the end of memory
    if os.path.exists("/dev/zero"):
        with open("/dev/zero", "rb") as f, pytest.raises(rustrnn.ModelFileError, match="not read further"):
            rustrnn.load_model(f)
    monkeypatch.setattr(_bounded, "STREAM_LIMIT", 1 << 9)  # a small limit: the same check, quicker
    endless = _Endless()
    with pytest.raises(rustrnn.ModelFileError, match=f"more than {1 << 9} bytes"):
        rustrnn.load_model(endless)
    assert endless.served <= (1 << 9) + 1
    # Objects whose size is known are read whole, however large against the stream limit.
    data = pathlib.Path(saved).read_bytes()
    assert len(data) > (1 << 9)
    with open(saved, "rb") as f:
        assert rustrnn.load_model(f).count_params() > 0
    assert rustrnn.load_model(io.BytesIO(data)).count_params() > 0
    with open(saved, "r") as f, pytest.raises(rustrnn.ArgumentError, match="binary mode"):
        rustrnn.load_model(f)


def test_dev_zero_as_word_vectors_or_tokenizer_is_a_clean_error():
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    from rustrnn.text import Tokenizer, load_word_vectors

    for fmt in ("glove", "word2vec", "word2vec-binary"):
        with pytest.raises(rustrnn.ArgumentError, match="not a word-vector file"):
            load_word_vectors("/dev/zero", format=fmt)
    with pytest.raises(rustrnn.ArgumentError, match="not a regular file"):
        Tokenizer.load("/dev/zero")


def run_process(*argv):
    p = subprocess.run([sys.executable, "-m", "rustrnn", *map(str, argv)], capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def write_reviews(path, n=120):
    rng = np.random.default_rng(0)
    with open(path, "w") as f:
        f.write("text,label\n")
        for i in range(n):
            good = i % 2
            words = rng.choice(["great", "fine", "superb"] if good else ["bad", "awful", "dull"], 3)
            f.write(f"{' '.join(words)} film,{'pos' if good else 'neg'}\n")


def test_diverging_cli_training_exits_non_zero_and_saves_nothing(tmp_path):
    data = tmp_path / "r.csv"
    write_reviews(data)
    out = tmp_path / "m.rnn"
    code, _, err = run_process("train", "classify", data, "-o", out, "--learning-rate", "1e30", "--epochs", "3",
                               "--units", "8", "--embedding-dim", "8", "--quiet")
    lines = [l for l in err.splitlines() if l.strip()]
    assert code == 2, err
    assert lines[-1].startswith("rustrnn: error: training diverged") and "nothing was saved" in lines[-1]
    assert "Traceback" not in err and not out.exists()


def test_fit_terminates_on_nan_by_default_and_can_be_told_not_to(capsys):
    rustrnn.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 5, 2)).astype(np.float32)
    y = np.full((64, 1), np.nan, np.float32)  # every loss is NaN
    m = rustrnn.Sequential([layers.LSTM(3), layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    h = m.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert h.diverged == (0, 0) and len(h.epoch) == 1
    assert "invalid loss" in capsys.readouterr().err
    h = m.fit(x, y, epochs=2, batch_size=16, verbose=0, terminate_on_nan=False)
    assert h.diverged is None and len(h.epoch) == 2
    with pytest.raises(rustrnn.DTypeError, match="terminate_on_nan"):
        m.fit(x, y, terminate_on_nan="yes")


def test_damaged_cli_metadata_is_one_line_exit_2(tmp_path):
    data = tmp_path / "r.csv"
    write_reviews(data)
    model = tmp_path / "m.rnn"
    code, _, err = run_process("train", "classify", data, "-o", model, "--epochs", "1", "--units", "4", "--embedding-dim", "4", "--quiet")
    assert code == 0, err
    damage = [
        lambda t: t.pop("tokenizer"),
        lambda t: t.__setitem__("labels", ["only"]),
        lambda t: t.__setitem__("labels", []),
        lambda t: t.__setitem__("tokenizer", "{not json"),
        lambda t: t.__setitem__("tokenizer", json.dumps({"class_name": "Tokenizer", "config": {"word_index": 5}})),
        lambda t: t.__setitem__("maxlen", 10**12),
        lambda t: t.__setitem__("maxlen", True),
        lambda t: t.__setitem__("task", "generate"),
        lambda t: t.__setitem__("version", None),
    ]
    cases = []
    for i, f in enumerate(damage):
        def edit(header, f=f):
            user = json.loads(header["__metadata__"]["user_metadata"])
            f(user["rustrnn_cli"])
            header["__metadata__"]["user_metadata"] = json.dumps(user)
        bad = rewrite(model, tmp_path / f"bad{i}.rnn", edit)
        cases += [{"kind": "cli", "argv": ["predict", str(bad), "great film"]}, {"kind": "cli", "argv": ["info", str(bad)]}]
    assert run_cases(cases) == ["ok"] * len(cases)


# ------------------------------------------------------------------------------------------
# saving: file modes and interrupted saves
# ------------------------------------------------------------------------------------------

def test_saving_keeps_an_existing_mode_and_new_files_follow_the_umask(saved, tmp_path):
    m = rustrnn.load_model(saved)
    old = os.umask(0o022)
    try:
        new = tmp_path / "new.rnn"
        m.save(new)
        assert stat.S_IMODE(os.stat(new).st_mode) == 0o644
        os.chmod(new, 0o640)
        m.save(new)
        assert stat.S_IMODE(os.stat(new).st_mode) == 0o640
        os.umask(0o077)
        other = tmp_path / "private.rnn"
        m.save(other)
        assert stat.S_IMODE(os.stat(other).st_mode) == 0o600
    finally:
        os.umask(old)


def test_a_killed_save_leaves_no_temporary_behind_after_the_next_save(saved, tmp_path):
    m = rustrnn.load_model(saved)
    target = tmp_path / "model.rnn"
    # What a save killed between write and rename leaves: a temporary of a dead process.
    p = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(p.stdout)
    stale = tmp_path / f".model.rnn.{dead}.abc123.tmp"
    stale.write_bytes(b"x" * 1000)
    live = tmp_path / f".model.rnn.{os.getpid()}.zzz.tmp"  # a save in progress in this process: kept
    live.write_bytes(b"y")
    m.save(target)
    assert not stale.exists() and live.exists() and target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, live.name])
