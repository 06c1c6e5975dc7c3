"""Coverage-guided fuzzing of the model file loader with atheris (``make fuzz``).

Starts from small valid model files (a compiled Sequential with optimizer slots
and a Seq2Seq) and mutates their bytes; each input goes through the whole
loader (bounded read limits, safetensors parsing in Rust, JSON limits, the
declared-size check, building, weight checks). An input passes when it loads
or raises a ``rustrnn.RustRnnError``; anything else (another exception, an
abort, a segfault, a hang past -timeout, memory past -rss_limit_mb) is a
finding that atheris saves as ``crash-*``.

    python tests/fuzz/atheris_model_file.py -max_total_time=600 -rss_limit_mb=3072 -timeout=20
"""

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    import numpy as np

    import rustrnn
    from rustrnn import layers, saving


def seeds(directory):
    rustrnn.manual_seed(1)
    m = rustrnn.Sequential([layers.Embedding(12, 3, mask_zero=True), layers.GRU(4), layers.Dense(2, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.random.default_rng(0).integers(1, 12, size=(8, 5))
    m.fit(x, np.arange(8) % 2, epochs=1, batch_size=4, verbose=0)
    m.metadata = {"rustrnn_cli": {"version": 1, "task": "classify"}}
    m.save(os.path.join(directory, "seq.rnn"))
    rustrnn.Seq2Seq(src_vocab=6, tgt_vocab=5, embedding_dim=2, units=3).save(os.path.join(directory, "s2s.rnn"))


def test_one_input(data: bytes) -> None:
    try:
        model = saving._load("fuzz.rnn", data, compile=True)
    except rustrnn.RustRnnError:
        return
    if isinstance(model, rustrnn.Sequential) and model.layers and isinstance(model.layers[0], layers.Embedding):
        try:
            model.predict(np.ones((1, 3), np.int64))
        except rustrnn.RustRnnError:
            pass


def main():
    corpus = tempfile.mkdtemp(prefix="rustrnn-fuzz-corpus-")
    seeds(corpus)
    args = [a for a in sys.argv]
    if not any(not a.startswith("-") for a in args[1:]):
        args.append(corpus)
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
