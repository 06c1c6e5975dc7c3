"""The ``rustrnn`` command: demos (smoke tests with --quick; the full demos
and their bars are the ``slow`` tests at the end), train/predict/info on
small files, and every user mistake as one line on stderr with exit status 2."""

import csv
import io
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import rustrnn
from rustrnn.cli import main


def run_cli(capsys, *argv):
    """``(exit status, stdout, stderr)`` of the command run in this process."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_process(*argv, stdin=None):
    p = subprocess.run([sys.executable, "-m", "rustrnn", *map(str, argv)], capture_output=True, text=True, input=stdin, timeout=300)
    return p.returncode, p.stdout, p.stderr


GOOD = ["good", "great", "wonderful", "fine", "lovely", "superb"]
BAD = ["bad", "awful", "boring", "dull", "terrible", "poor"]
FILLER = ["the", "film", "was", "plot", "acting", "really", "quite", "a", "story"]


def sentences(n, seed=0):
    """Texts whose label is the majority of good or bad words, and a score to regress on."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        good, bad = rng.integers(0, 3, size=2)
        if good == bad:
            good += 1
        words = list(rng.choice(GOOD, good)) + list(rng.choice(BAD, bad)) + list(rng.choice(FILLER, 4))
        rng.shuffle(words)
        rows.append((" ".join(words), "pos" if good > bad else "neg", float(good - bad) * 1.5 + 10.0))
    return rows


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    with open(d / "reviews.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "review", "sentiment", "rating"])
        for i, (text, label, value) in enumerate(sentences(400)):
            w.writerow([i, text, label, value])
    (d / "corpus.txt").write_text("To be, or not to be, that is the question.\n" * 60)
    return d


@pytest.fixture(scope="module")
def classifier(data_dir):
    path = data_dir / "classify.rnn"
    code = main(["train", "classify", str(data_dir / "reviews.csv"), "--text-column", "review", "--label-column", "sentiment",
                 "-o", str(path), "--epochs", "8", "--quiet", "--learning-rate", "0.01", "--models", "1"])
    assert code == 0
    return path


# ----- demos (smoke tests) -------------------------------------------------------------------------
def test_demo_sentiment_quick(capsys):
    code, out, err = run_cli(capsys, "demo", "sentiment", "--quick")
    assert code == 0, err
    assert "held-out accuracy:" in out and "time:" in out
    assert out.count("positive") + out.count("negative") >= 5  # the sample sentences


def test_demo_generate_quick_from_the_installed_entry_point():
    code, out, err = run_process("demo", "generate", "--quick", "--length", "40")
    assert code == 0, err
    assert "nats/char" in out and "sample 1" in out and "time:" in out


def test_demo_forecast_quick_writes_a_table_and_a_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "forecast.png"
    code, out, err = run_cli(capsys, "demo", "forecast", "--quick", "--plot", plot)
    assert code == 0, err
    assert "1960-12" in out and "held-out RMSE" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run_cli(capsys, "demo", "forecast", "--quick", "--no-plot")
    assert code == 0 and "plot:" not in out


def test_demo_g2p_quick(capsys):
    code, out, err = run_cli(capsys, "demo", "g2p", "--quick", "--epochs", "1", "--beam", "2")
    assert code == 0, err
    assert "phoneme error rate" in out and "word error rate" in out and "rustacean" in out
    assert "embeddings 64, 2 x bidirectional LSTM(32) encoder" in out  # --quick's small model


def test_demo_g2p_ensemble_and_label_smoothing_flags(capsys):
    code, out, err = run_cli(capsys, "demo", "g2p", "--quick", "--epochs", "1", "--beam", "1", "--units", "16",
                             "--layers", "1", "--members", "2", "--reverse-members", "0", "--label-smoothing", "0.1",
                             "--average", "1", "--validation", "3000")
    assert code == 0, err
    assert out.count("label smoothing 0.1") == 2 and "model 2 of 2" in out, out
    assert "of the ensemble of 2" in out and "word error rate" in out


def test_demo_g2p_right_to_left_members_rerank(capsys):
    code, out, err = run_cli(capsys, "demo", "g2p", "--quick", "--epochs", "1", "--beam", "2", "--units", "16",
                             "--layers", "1", "--members", "1", "--reverse-members", "1", "--average", "1", "--validation", "3000")
    assert code == 0, err
    assert "model 1 of 2: Seq2Seq" in out and "model 2 of 2 (right to left): Seq2Seq" in out, out
    assert "of 1 left-to-right and 1 right-to-left models, reranked (beam 2)" in out and "word error rate" in out


def test_demo_g2p_members_alternate_luong_and_bahdanau_attention_on_each_side(capsys):
    code, out, err = run_cli(capsys, "demo", "g2p", "--quick", "--epochs", "1", "--beam", "1", "--units", "8",
                             "--layers", "1", "--members", "2", "--reverse-members", "2", "--average", "1")
    assert code == 0, err
    kinds = re.findall(r"model (\d) of 4.*?(luong|bahdanau) attention", out)
    assert kinds == [("1", "luong"), ("2", "bahdanau"), ("3", "luong"), ("4", "bahdanau")], out
    # No --validation: every training word is trained on, and --average epochs are averaged.
    assert "training on 3,000, testing on 300" in out and out.count("weights averaged over the last 1 epoch\n") == 4, out
    code, out, err = run_cli(capsys, "demo", "g2p", "--quick", "--epochs", "1", "--beam", "1", "--units", "8",
                             "--layers", "1", "--members", "2", "--reverse-members", "0", "--attention", "bahdanau")
    assert code == 0, err
    assert out.count("bahdanau attention") == 2 and "luong" not in out, out


def test_g2p_run_rejects_an_unknown_attention():
    from rustrnn.cli.errors import UserError
    from rustrnn.demos import g2p

    with pytest.raises(UserError, match=r"--attention: expected one of luong, bahdanau, luong\+bahdanau, none, got 'dot'"):
        g2p.run(quick=True, attention="dot")


def test_demo_g2p_model_size_flags(capsys):
    code, out, err = run_cli(capsys, "demo", "g2p", "--quick", "--beam", "1", "--units", "16", "--embedding", "8",
                             "--layers", "2")
    assert code == 0, err
    assert "embeddings 8, 2 x bidirectional LSTM(8) encoder, luong attention, 2 x LSTM(16) decoder" in out


def test_demo_layers_still_works(capsys):
    code, out, err = run_cli(capsys, "demo", "layers", "--batch", "2", "--seq-len", "3", "--hidden-size", "8", "--repeat", "1")
    assert code == 0, err
    assert "forward+backward" in out


def test_demo_bad_flag_values_are_one_line_errors(capsys):
    code, out, err = run_cli(capsys, "demo", "sentiment", "--epochs", "0")
    assert code == 2 and err.strip() == "rustrnn: error: --epochs: expected a positive integer, got 0"
    code, out, err = run_cli(capsys, "demo", "g2p", "--dropout", "1")
    assert code == 2 and err.strip() == "rustrnn: error: --dropout: expected a rate in [0, 1), got 1.0"
    code, out, err = run_cli(capsys, "demo", "g2p", "--units", "7")
    assert code == 2 and err.strip() == "rustrnn: error: --units: the bidirectional encoder halves it: expected an even number, got 7"
    code, out, err = run_cli(capsys, "demo", "g2p", "--layers", "0")
    assert code == 2 and err.strip() == "rustrnn: error: --layers: expected a positive integer, got 0"
    code, out, err = run_cli(capsys, "demo", "g2p", "--members", "0")
    assert code == 2 and err.strip() == "rustrnn: error: --members: expected a positive integer, got 0"
    code, out, err = run_cli(capsys, "demo", "g2p", "--reverse-members", "-1")
    assert code == 2 and err.strip() == "rustrnn: error: --reverse-members: expected 0 or more models, got -1"
    code, out, err = run_cli(capsys, "demo", "g2p", "--label-smoothing", "2")
    assert code == 2 and err.strip() == "rustrnn: error: --label-smoothing: expected a number in [0, 1], got 2.0"


# ----- train / predict / info ------------------------------------------------------------------------
def test_classify_train_predict_and_info(data_dir, classifier, capsys):
    code, out, err = run_cli(capsys, "predict", classifier, "a wonderful superb film", "an awful boring plot")
    assert code == 0, err
    lines = out.splitlines()
    assert [l.split("\t")[0] for l in lines] == ["pos", "neg"]
    assert all(0.5 <= float(l.split("\t")[1]) <= 1.0 for l in lines)
    code, out, err = run_cli(capsys, "info", classifier)
    assert code == 0, err
    assert "task: classify, text column 'review' -> column 'sentiment'" in out and "labels (2): neg, pos" in out
    assert "validation accuracy" in out and "refit False" in out


def test_predict_csv_to_stdout_keeps_the_columns_and_sends_messages_to_stderr(data_dir, classifier, capsys):
    code, out, err = run_cli(capsys, "predict", classifier, "--input", data_dir / "reviews.csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))  # stdout is only the CSV
    assert list(rows[0]) == ["id", "review", "sentiment", "rating", "prediction", "score"]
    assert len(rows) == 400 and rows[0]["id"] == "0"
    accuracy = np.mean([r["prediction"] == r["sentiment"] for r in rows])
    assert accuracy > 0.9, accuracy
    assert all(0.5 <= float(r["score"]) <= 1.0 for r in rows)
    assert "predicted 400 rows" in err


def test_predict_csv_to_a_file_with_another_text_column_and_awkward_fields(data_dir, classifier, capsys, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('name,comment,prediction\n"Smith, J.","a ""great"" film,\nsuperb",old\nLee,,old\n')
    out_path = tmp_path / "out.csv"
    code, out, err = run_cli(capsys, "predict", classifier, "-i", src, "-o", out_path, "--text-column", "comment")
    assert code == 0, err
    assert out == ""
    rows = list(csv.reader(open(out_path, newline="")))
    assert rows[0] == ["name", "comment", "prediction", "score"]  # an old prediction column is replaced
    assert rows[1][:3] == ["Smith, J.", 'a "great" film,\nsuperb', "pos"]
    assert rows[2][0] == "Lee" and rows[2][2] in ("pos", "neg")  # an empty text still gets an answer


def test_three_labels_and_glove_vectors(data_dir, capsys, tmp_path):
    src = tmp_path / "three.csv"
    with open(src, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for text, label, value in sentences(300, seed=1):
            w.writerow([text, "mixed" if ("good" in text.split()) == ("bad" in text.split()) else label])
    model = tmp_path / "three.rnn"
    code, out, err = run_cli(capsys, "train", "classify", src, "-o", model, "--glove", "--epochs", "2", "--quiet", "--models", "1")
    assert code == 0, err
    assert "(3 labels: mixed, neg, pos)" in out and "x 50" not in out
    code, out, err = run_cli(capsys, "predict", model, "--input", src)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["prediction"] for r in rows} <= {"mixed", "neg", "pos"}
    assert all(1 / 3 <= float(r["score"]) <= 1.0 for r in rows)  # the probability of the likeliest of three
    code, out, err = run_cli(capsys, "info", model)
    # GloVe's 50 dimensions, per step of the padded length the model was built on
    assert "labels (3): mixed, neg, pos" in out and re.search(r"\(None, (None|\d+), 50\)", out)


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["train", "classify", "--help"], ["train", "regress", "--help"],
                                  ["train", "generate", "--help"], ["predict", "--help"], ["info", "--help"], ["demo", "--help"]])
def test_every_help_page_renders(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    out, err = capsys.readouterr()
    assert e.value.code == 0 and "usage:" in out, err


@pytest.mark.parametrize("cell, bidirectional, outputs, activation, pooling", [
    ("lstm", True, 1, "sigmoid", None), ("gru", False, 3, "softmax", None), ("lstm", False, 1, "linear", None),
    ("gru", False, 1, "sigmoid", "average"), ("lstm", True, 3, "softmax", "average"), ("gru", True, 1, "sigmoid", "max")])
def test_an_ensemble_is_one_model_that_averages_its_members_logits(cell, bidirectional, outputs, activation, pooling):
    from rustrnn.demos import recipes

    rng = np.random.default_rng(0)
    members = []
    for k in range(3):
        rustrnn.manual_seed(k)
        m = recipes.text_model(30, outputs, activation, embedding_dim=6, units=5, cell=cell, bidirectional=bidirectional,
                               pooling=pooling)
        m.build()
        m.set_weights([w + rng.normal(0, 0.3, w.shape).astype(w.dtype) for w in m.get_weights()])  # biases too
        members.append(m)
    x = rng.integers(1, 30, size=(7, 9))
    x[:3, :4] = 0  # padded (masked) steps
    merged = recipes.ensemble(members)
    assert merged.layers[2].units == 15 and merged.layers[0].output_dim == 18
    got = merged.predict(x).astype(np.float64)
    outs = [m.predict(x).astype(np.float64) for m in members]
    if activation == "sigmoid":
        z = np.mean([np.log(p / (1 - p)) for p in outs], axis=0)
        want = 1 / (1 + np.exp(-z))
    elif activation == "softmax":  # log-probabilities are the logits up to a constant per row
        z = np.mean([np.log(p) for p in outs], axis=0)
        want = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    else:
        want = np.mean(outs, axis=0)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
    assert not np.allclose(outs[0], outs[1], atol=1e-3)  # the members differ: the average is not trivially one of them
    with pytest.raises(rustrnn.ArgumentError, match="same layer configurations"):
        recipes.ensemble([members[0], recipes.text_model(30, outputs, activation, embedding_dim=6, units=4, cell=cell,
                                                         bidirectional=bidirectional, pooling=pooling)])
    with pytest.raises(rustrnn.ArgumentError, match="same architecture"):  # pooled and not pooled do not mix
        recipes.ensemble([members[0], recipes.text_model(30, outputs, activation, embedding_dim=6, units=5, cell=cell,
                                                         bidirectional=bidirectional, pooling="max" if pooling is None else None)])


def test_train_classify_saves_an_ensemble_and_detects_english_for_glove(data_dir, capsys, tmp_path):
    model = tmp_path / "ens.rnn"
    code, out, err = run_cli(capsys, "train", "classify", data_dir / "reviews.csv", "--text-column", "review",
                             "--label-column", "sentiment", "-o", model, "--epochs", "2", "--models", "2", "--quiet")
    assert code == 0, err
    assert "trained 2 models from different seeds" in out
    assert "GloVe knows 100% of the training words' occurrences" in err  # English words: GloVe by default
    code, out, err = run_cli(capsys, "info", model)
    assert re.search(r"\(None, (None|\d+), 100\)", out) and "glove True" in out and "models 2" in out  # 2 x GloVe's 50 dimensions
    assert rustrnn.load_model(model).metadata["rustrnn_cli"]["split_clitics"] is True  # "it's" -> "it 's", as in GloVe
    code, out, err = run_cli(capsys, "predict", model, "it's superb and wonderful")
    assert code == 0 and out.split("\t")[0] in ("pos", "neg"), (out, err)
    # Not English: no GloVe unless asked for.
    src = tmp_path / "code.csv"
    rows = [("zq" + "x" * (i % 7) + " vk" + "j" * (i % 5), "a" if i % 2 else "b") for i in range(60)]
    src.write_text("text,label\n" + "\n".join(f"{t},{l}" for t, l in rows) + "\n")
    code, out, err = run_cli(capsys, "train", "classify", src, "-o", tmp_path / "c.rnn", "--epochs", "1", "--models", "1", "--quiet")
    assert code == 0, err
    assert "not English, GloVe not used" in err
    code, out, err = run_cli(capsys, "train", "classify", src, "-o", tmp_path / "c.rnn", "--epochs", "1", "--models", "1",
                             "--quiet", "--no-glove")
    assert code == 0 and "GloVe" not in err, err


@pytest.mark.parametrize("pooling, layer", [("average", "GlobalAveragePooling1D"), ("max", "GlobalMaxPooling1D")])
def test_train_classify_pooling_saves_a_pooled_ensemble_that_predict_and_text_predictor_read(data_dir, capsys, tmp_path, pooling, layer):
    model = tmp_path / "pooled.rnn"
    code, out, err = run_cli(capsys, "train", "classify", data_dir / "reviews.csv", "--text-column", "review", "--label-column",
                             "sentiment", "-o", model, "--epochs", "2", "--models", "2", "--pooling", pooling, "--units", "8",
                             "--no-glove", "--quiet")
    assert code == 0, err
    code, out, err = run_cli(capsys, "info", model)
    assert code == 0 and layer in out and "models 2" in out, (out, err)
    code, out, err = run_cli(capsys, "predict", model, "superb and wonderful")
    assert code == 0, err
    label, score = out.split("\t")[:2]
    labels, scores = rustrnn.distributed.TextPredictor(model)(["superb and wonderful"])
    assert labels == [label] and abs(scores[0] - float(score)) < 1e-3, (out, labels, scores)


def test_label_smoothing_keeps_the_classifier_from_certainty(data_dir, capsys, tmp_path):
    def scores(model, column):
        code, out, err = run_cli(capsys, "predict", model, "--input", data_dir / "reviews.csv", "--text-column", "review")
        assert code == 0, err
        rows = list(csv.DictReader(io.StringIO(out)))
        return np.array([float(r["score"]) for r in rows]), np.mean([r["prediction"] == r[column] for r in rows])

    def train(smoothing, out):
        code, _, err = run_cli(capsys, "train", "classify", data_dir / "reviews.csv", "--text-column", "review", "--label-column", "sentiment",
                               "-o", out, "--epochs", "8", "--quiet", "--learning-rate", "0.01", "--models", "1", "--distill", "0",
                               "--label-smoothing", smoothing)
        assert code == 0, err
        return scores(out, "sentiment")

    sure, _ = train("0", tmp_path / "sure.rnn")  # without smoothing: near-certain
    assert np.median(sure) > 0.9, np.median(sure)
    # Two labels, s = 0.4: the targets are 0.8 and 0.2, so the probabilities gather near 0.8.
    model = tmp_path / "smooth.rnn"
    smooth, accuracy = train("0.4", model)
    assert 0.7 < np.median(smooth) < 0.83 and accuracy > 0.9, (np.median(smooth), accuracy)
    # Three labels (one-hot targets, categorical cross-entropy): the targets are 1 - s + s/3 = 0.73 and 0.13.
    three = tmp_path / "three.csv"
    with open(data_dir / "reviews.csv", newline="") as f, open(three, "w", newline="") as g:
        rows = list(csv.DictReader(f))
        w = csv.writer(g)
        w.writerow(["review", "kind"])
        w.writerows([r["review"], "short" if len(r["review"].split()) < 7 else r["sentiment"]] for r in rows)
    code, out, err = run_cli(capsys, "train", "classify", three, "--text-column", "review", "--label-column", "kind", "-o", model,
                             "--epochs", "8", "--quiet", "--learning-rate", "0.01", "--models", "1", "--label-smoothing", "0.4",
                             "--distill", "0")
    assert code == 0, err
    code, out, err = run_cli(capsys, "predict", model, "--input", three, "--text-column", "review")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    top = np.median([float(r["score"]) for r in rows])
    assert 0.5 < top < 0.78 and {r["prediction"] for r in rows} <= {"short", "pos", "neg"}, top


@pytest.mark.parametrize("labels", [2, 3])
def test_distill_trains_a_second_round_on_the_labels_mixed_with_the_first_rounds_probabilities(data_dir, capsys, tmp_path, monkeypatch, labels):
    from rustrnn.cli import train
    from rustrnn.demos import recipes

    calls = []  # (targets, rows trained on, validation rows, early-stopped model, final model) of every model trained
    member = train.train_member

    def spy(args, k, build, x, y, tr, va):
        r = member(args, k, build, x, y, tr, va)
        calls.append((x, y.copy(), tr, va, r[1]))
        return r

    monkeypatch.setattr(train, "train_member", spy)
    data = tmp_path / "reviews.csv"
    with open(data_dir / "reviews.csv", newline="") as f, open(data, "w", newline="") as g:
        rows = list(csv.DictReader(f))
        w = csv.writer(g)
        w.writerow(["review", "kind"])
        w.writerows([r["review"], "short" if labels == 3 and len(r["review"].split()) < 7 else r["sentiment"]] for r in rows)
    model = tmp_path / "d.rnn"
    code, out, err = run_cli(capsys, "train", "classify", data, "--text-column", "review", "--label-column", "kind", "-o", model,
                             "--epochs", "3", "--models", "2", "--units", "8", "--no-glove", "--quiet", "--distill", "0.3",
                             "--label-smoothing", "0.1")
    assert code == 0, err
    assert len(calls) == 4 and "rounds 2" in run_cli(capsys, "info", model)[1]
    x, first, tr, va, _ = calls[0]
    assert all(np.array_equal(c[1], first) for c in calls[:2]) and all(np.array_equal(c[1], calls[2][1]) for c in calls[2:])
    if labels == 3:  # one-hot rows (labels in alphabetical order), smoothed as Keras: 1 - s + s/3 and s/3
        with open(data, newline="") as f:
            kinds = [r["kind"] for r in csv.DictReader(f)]
        one_hot = np.eye(3)[[sorted(set(kinds)).index(k) for k in kinds]]
        np.testing.assert_allclose(first, one_hot * 0.9 + 0.1 / 3, rtol=1e-6)
    else:  # 0.95 and 0.05
        np.testing.assert_allclose(np.unique(first), [0.05, 0.95], rtol=1e-6)
    teacher = recipes.ensemble([c[4] for c in calls[:2]]).predict(x[tr], batch_size=256)
    graded = calls[2][1]
    np.testing.assert_allclose(graded[tr], 0.7 * first[tr] + 0.3 * (teacher[:, 0] if labels == 2 else teacher), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(graded[va], first[va])  # early stopping still reads the labels
    saved = rustrnn.load_model(model).predict(x[:20])  # the saved ensemble is the second round's
    np.testing.assert_allclose(saved, recipes.ensemble([c[4] for c in calls[2:]]).predict(x[:20]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("refit", [True, False])
def test_refit_trains_each_model_again_from_its_start_on_every_row_for_the_chosen_epochs(refit):
    import argparse

    from rustrnn.cli import train

    rng = np.random.default_rng(3)
    x = rng.integers(1, 20, size=(120, 6))
    y = (x[:, 0] > 10).astype(np.float32)
    tr, va = np.arange(100), np.arange(100, 120)
    args = argparse.Namespace(seed=2, refit=refit, epochs=6, patience=1, batch_size=16, quiet=True, learning_rate=0.05)

    def build(seed):
        rustrnn.manual_seed(seed)
        model = rustrnn.Sequential([rustrnn.layers.Embedding(20, 4), rustrnn.layers.LSTM(3), rustrnn.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=rustrnn.optimizers.Adam(args.learning_rate), loss="binary_crossentropy")
        return model

    early, final, history, best, _ = train.train_member(args, 1, build, x, y, tr, va)
    seed = 2 * 1000 + 1
    alone = build(seed)  # the early-stopped model, retrained by hand: the best epoch's weights
    alone.fit(x[tr], y[tr], batch_size=16, epochs=best, seed=seed, verbose=0)
    for a, b in zip(alone.get_weights(), early.get_weights()):
        np.testing.assert_array_equal(a, b)
    if not refit:
        assert final is early
        return
    again = build(seed)  # the same start, every row, the chosen number of epochs
    again.fit(x[np.concatenate([tr, va])], y[np.concatenate([tr, va])], batch_size=16, epochs=best, seed=seed, verbose=0)
    assert len(again.get_weights()) == len(final.get_weights())
    for a, b in zip(again.get_weights(), final.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(early.get_weights()[0], final.get_weights()[0])


def test_regress_train_predict_and_info(data_dir, capsys, tmp_path):
    model = tmp_path / "regress.rnn"
    code, out, err = run_cli(capsys, "train", "regress", data_dir / "reviews.csv", "--text-column", "review", "--label-column", "rating",
                             "-o", model, "--epochs", "15", "--quiet", "--learning-rate", "0.01", "--cell", "gru", "--models", "1")
    assert code == 0, err
    assert "validation RMSE" in out and "saved" in out
    code, out, err = run_cli(capsys, "predict", model, "--input", data_dir / "reviews.csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    pred = np.array([float(r["score"]) for r in rows])
    truth = np.array([float(r["rating"]) for r in rows])
    assert np.sqrt(np.mean((pred - truth) ** 2)) < 0.6 * truth.std()  # on values between 5.5 and 14.5
    np.testing.assert_allclose([float(r["prediction"]) for r in rows], pred, rtol=1e-5)
    code, out, err = run_cli(capsys, "info", model)
    assert "task: regress" in out and "target: mean" in out


def test_generate_train_and_predict(data_dir, capsys, tmp_path):
    model = tmp_path / "gen.rnn"
    code, out, err = run_cli(capsys, "train", "generate", data_dir / "corpus.txt", "-o", model, "--epochs", "10", "--units", "48",
                             "--seq-len", "20", "--batch-size", "8", "--quiet", "--learning-rate", "0.02")
    assert code == 0, err
    assert "nats/char" in out
    code, out, err = run_cli(capsys, "predict", model, "To be, or", "--length", "40", "--temperature", "0")
    assert code == 0, err
    assert out.startswith("To be, or") and len(out.rstrip("\n")) == len("To be, or") + 40
    assert "the question" in out  # greedy decoding repeats the (only) line
    prompts = tmp_path / "prompts.csv"
    prompts.write_text("text\nTo be\nthat is\n")
    code, out, err = run_cli(capsys, "predict", model, "-i", prompts, "--length", "5", "--seed", "1")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [list(r) for r in rows] == [["text", "prediction"]] * 2 and all(len(r["prediction"]) == 5 for r in rows)
    code, out, err = run_cli(capsys, "info", model)
    assert "generate text, character by character" in out


def test_plain_models_and_info(tmp_path, capsys):
    rustrnn.manual_seed(0)
    m = rustrnn.Sequential([rustrnn.layers.Embedding(5, 3), rustrnn.layers.GRU(4), rustrnn.layers.Dense(1)])
    m.build()
    m.save(tmp_path / "plain.rnn")
    code, out, err = run_cli(capsys, "info", tmp_path / "plain.rnn")
    assert code == 0 and "not trained by `rustrnn train`" in out
    code, out, err = run_cli(capsys, "predict", tmp_path / "plain.rnn", "text")
    assert code == 2 and "was not trained by `rustrnn train`" in err


# ----- user mistakes: one line, exit status 2, no traceback -------------------------------------------
def one_line_error(code, out, err, *words):
    assert code == 2, (code, out, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rustrnn: error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_user_mistakes_in_training_data(data_dir, capsys, tmp_path):
    reviews = data_dir / "reviews.csv"
    out = tmp_path / "m.rnn"
    header_only = tmp_path / "header.csv"
    header_only.write_text("text,label\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    words = tmp_path / "words.csv"
    words.write_text("text,label\nfine,1.5\nbad,n/a\n")
    one_class = tmp_path / "one.csv"
    one_class.write_text("text,label\na,x\nb,x\n")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("text,label\na,b,c\n")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("text,label\ncaf\xe9,1\n".encode("latin-1"))
    cases = [
        (["train", "classify", tmp_path / "missing.csv"], ["missing.csv", "No such file"]),
        (["train", "classify", tmp_path], ["is a directory"]),
        (["train", "classify", reviews, "-o", out], ["no column 'text' (--text-column)", "'review'"]),
        (["train", "classify", reviews, "--text-column", "review", "-o", out], ["no column 'label' (--label-column)"]),
        (["train", "classify", header_only, "-o", out], ["no data rows"]),
        (["train", "regress", empty, "-o", out], ["empty file"]),
        (["train", "regress", words, "-o", out], ["line 3", "must hold numbers", "'n/a'"]),
        (["train", "classify", one_class, "-o", out], ["single label ('x')"]),
        (["train", "classify", ragged, "-o", out], ["line 2", "at most 2 fields"]),
        (["train", "classify", latin1, "-o", out], ["not UTF-8"]),
        (["train", "classify", reviews, "--text-column", "review", "--label-column", "sentiment", "-o", tmp_path / "no" / "m.rnn"],
         ["does not exist"]),
        (["train", "classify", reviews, "--text-column", "review", "--label-column", "sentiment", "--epochs", "0"], ["--epochs"]),
        (["train", "generate", empty, "-o", out], ["empty"]),
        (["train", "classify", reviews, "--text-column", "review", "--label-column", "sentiment", "--label-smoothing", "1.5"],
         ["--label-smoothing", "[0, 1]", "1.5"]),
        (["train", "classify", reviews, "--text-column", "review", "--label-column", "sentiment", "--label-smoothing", "nan"],
         ["--label-smoothing"]),
        (["train", "classify", reviews, "--text-column", "review", "--label-column", "sentiment", "--distill", "-0.5"],
         ["--distill", "[0, 1]", "-0.5"]),
    ]
    for argv, words_ in cases:
        one_line_error(*run_cli(capsys, *argv), *words_)
    assert not out.exists()


def test_user_mistakes_in_prediction(data_dir, classifier, capsys, tmp_path):
    corrupted = tmp_path / "corrupted.rnn"
    corrupted.write_bytes(classifier.read_bytes()[:1000])
    garbage = tmp_path / "garbage.rnn"
    garbage.write_bytes(b"\x00\x01 not a model at all")
    cases = [
        (["predict", tmp_path / "missing.rnn", "text"], ["missing.rnn", "No such file"]),
        (["predict", corrupted, "text"], ["corrupted.rnn"]),
        (["predict", garbage, "text"], ["garbage.rnn"]),
        (["info", corrupted], ["corrupted.rnn"]),
        (["predict", classifier], ["nothing to predict"]),
        (["predict", classifier, "text", "--input", data_dir / "reviews.csv"], ["not both"]),
        (["predict", classifier, "text", "-o", tmp_path / "o.csv"], ["--output"]),
        (["predict", classifier, "--input", tmp_path / "missing.csv"], ["missing.csv"]),
        (["predict", classifier, "--input", data_dir / "reviews.csv", "-o", tmp_path / "no" / "out.csv"], ["does not exist"]),
        (["predict", classifier, "--input", data_dir / "reviews.csv", "--text-column", "nope"], ["no column 'nope'"]),
    ]
    for argv, words in cases:
        one_line_error(*run_cli(capsys, *argv), *words)
    other = tmp_path / "other.csv"
    other.write_text("body\nhello\n")
    one_line_error(*run_cli(capsys, "predict", classifier, "-i", other), "no column 'review'", "trained on column 'review'", "--text-column")


def test_errors_from_a_real_process_are_one_line(tmp_path):
    bad = tmp_path / "bad.rnn"
    bad.write_bytes(b"garbage")
    one_line_error(*run_process("predict", bad, "hello"), "bad.rnn")
    one_line_error(*run_process("train", "regress", tmp_path / "none.csv"), "none.csv")


def test_the_installed_script(classifier):
    script = shutil.which("rustrnn", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("no rustrnn script next to this Python (not installed with pip)")
    p = subprocess.run([script, "predict", str(classifier), "superb"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.startswith("pos\t"), p.stderr


def test_csv_from_stdin(classifier):
    code, out, err = run_process("predict", classifier, "--input", "-", stdin="review\nsuperb wonderful\n")
    assert code == 0, err
    assert out.splitlines()[0] == "review,prediction,score" and out.splitlines()[1].startswith("superb wonderful,pos,")


# ----- the full demos and their bars (slow) ------------------------------------------------------
@pytest.mark.slow
def test_sentiment_demo_reaches_79_percent_with_glove_and_77_without():
    from rustrnn.demos import sentiment

    res = sentiment.run()
    assert res["test_size"] == 1690
    assert res["accuracy"] >= 0.79, res["accuracy"]
    res = sentiment.run(glove=False)
    assert res["accuracy"] >= 0.77, res["accuracy"]


@pytest.mark.slow
def test_forecast_demo_beats_the_seasonal_naive_forecast(tmp_path):
    from rustrnn.demos import forecast

    res = forecast.run(plot=tmp_path / "f.png")
    assert res["rmse"] < res["naive_rmse"], res


@pytest.mark.slow
def test_generate_demo_is_well_below_the_unigram_baseline():
    from rustrnn.demos import generate

    res = generate.run()
    assert res["nats_per_char"] < res["unigram_nats_per_char"] - 1.2, res
    text = " ".join(res["samples"]).lower()
    assert sum(f" {w} " in text for w in ("the", "and", "of", "to", "my", "is", "that", "i")) >= 4, text


@pytest.mark.slow
def test_g2p_demo_with_attention_word_error_rate_at_most_25_percent():
    # Issue 10's goal. Measured with the defaults (two left-to-right and two right-to-left models, on each side one
    # with Luong and one with Bahdanau attention, each two layers deep in the encoder and the decoder, dropout 0.25,
    # 12 epochs of length-bucketed batches on all 101,317 training words, the last 4 epochs' weights averaged; each
    # side's 4 best from a beam of 4, reranked by all four models): WER 24.8%, PER 6.3% on the 5,000 held-out words
    # (AVX-512 path, Zen 4).
    from rustrnn.demos import g2p

    res = g2p.run()
    assert res["attention"] == "luong+bahdanau" and res["test_words"] == 5000 and res["epochs"] == 12, res
    assert res["dropout"] == 0.25 and res["layers"] == 2 and res["members"] == 2 and res["reverse_members"] == 2, res
    assert res["train_words"] == 101317 and res["average"] == [4, 4, 4, 4], res
    assert res["wer"] <= 0.25, res
    assert res["per"] < 0.065, res


@pytest.mark.slow
def test_train_classify_defaults_reach_78_percent_on_held_out_movie_reviews(tmp_path, capsys):
    # Issue 13's bar. The defaults (seed 0) give 1,328 of 1,690 = 78.58% on both the avx512 and the avx2
    # kernel path (measured on Zen 4; a path gives the same results on any x86 CPU that has it, for any
    # thread count, with the same libm: no approximate reciprocals, fixed GEMM blocking). Other seeds: 78.7%,
    # 77.2% (README), so this guards the default seed, not every seed.
    # The sentiment demo's split: the CLI trains (with its defaults) on a CSV of the 80%, the 20% are never seen.
    texts, labels = rustrnn.datasets.movie_reviews()
    order = np.random.default_rng(0).permutation(len(texts))
    test, train = order[:len(texts) // 5], order[len(texts) // 5:]
    for name, idx in (("train", train), ("test", test)):
        with open(tmp_path / f"{name}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            w.writerows([texts[i], "pos" if labels[i] else "neg"] for i in idx)
    code, out, err = run_cli(capsys, "train", "classify", tmp_path / "train.csv", "-o", tmp_path / "m.rnn", "--quiet")
    assert code == 0, err
    code, out, err = run_cli(capsys, "predict", tmp_path / "m.rnn", "--input", tmp_path / "test.csv", "-o", tmp_path / "out.csv")
    assert code == 0, err
    rows = list(csv.DictReader(open(tmp_path / "out.csv", newline="")))
    assert len(rows) == 1690
    accuracy = np.mean([r["prediction"] == r["label"] for r in rows])
    assert accuracy >= 0.78, accuracy
