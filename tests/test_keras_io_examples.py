"""keras.io examples run with only the import line changed (``import keras`` ->
``from rustrnn import keras``; ``from keras import layers`` -> ``from rustrnn.keras
import layers``), on small data: the example's own size constants are lowered
and keras.datasets downloads are replaced by synthetic data of the same form.

- addition_rnn ("Sequence to sequence learning for performing number addition"):
  LSTM encoder, RepeatVector, LSTM decoder with return_sequences, per-step softmax.
- bidirectional_lstm_imdb ("Bidirectional LSTM on IMDB"): two stacked
  Bidirectional(LSTM) over an Embedding.

The verbatim forms start with ``layers.Input``/``keras.Input`` (the functional
API and one-hot ``bool`` inputs come with other parts of issue 14): they are
skipped until ``keras.Input`` exists; the lead enables them by merging. The
Sequential forms without the Input line run now.
"""

import numpy as np
import pytest

from rustrnn import keras
from rustrnn.keras import layers

HAS_INPUT = hasattr(keras, "Input") and hasattr(layers, "Input")


# ---- addition_rnn, as on keras.io (Keras 3 version), sizes lowered ----------------------------------------

TRAINING_SIZE = 3000
DIGITS = 2
REVERSE = True
MAXLEN = DIGITS + 1 + DIGITS


class CharacterTable:
    """Given a set of characters:
    + Encode them to a one-hot integer representation
    + Decode the one-hot or integer representation to their character output
    + Decode a vector of probabilities to their character output
    """

    def __init__(self, chars):
        self.chars = sorted(set(chars))
        self.char_indices = dict((c, i) for i, c in enumerate(self.chars))
        self.indices_char = dict((i, c) for i, c in enumerate(self.chars))

    def encode(self, C, num_rows):
        x = np.zeros((num_rows, len(self.chars)))
        for i, c in enumerate(C):
            x[i, self.char_indices[c]] = 1
        return x

    def decode(self, x, calc_argmax=True):
        if calc_argmax:
            x = x.argmax(axis=-1)
        return "".join(self.indices_char[x] for x in x)


def addition_data(dtype=bool):
    np.random.seed(0)
    chars = "0123456789+ "
    ctable = CharacterTable(chars)
    questions = []
    expected = []
    seen = set()
    while len(questions) < TRAINING_SIZE:
        f = lambda: int("".join(np.random.choice(list("0123456789")) for i in range(np.random.randint(1, DIGITS + 1))))  # noqa: E731
        a, b = f(), f()
        key = tuple(sorted((a, b)))
        if key in seen:
            continue
        seen.add(key)
        q = "{}+{}".format(a, b)
        query = q + " " * (MAXLEN - len(q))
        ans = str(a + b)
        ans += " " * (DIGITS + 1 - len(ans))
        if REVERSE:
            query = query[::-1]
        questions.append(query)
        expected.append(ans)
    x = np.zeros((len(questions), MAXLEN, len(chars)), dtype=dtype)
    y = np.zeros((len(questions), DIGITS + 1, len(chars)), dtype=dtype)
    for i, sentence in enumerate(questions):
        x[i] = ctable.encode(sentence, MAXLEN)
    for i, sentence in enumerate(expected):
        y[i] = ctable.encode(sentence, DIGITS + 1)
    indices = np.arange(len(y))
    np.random.shuffle(indices)
    x = x[indices]
    y = y[indices]
    split_at = len(x) - len(x) // 10
    (x_train, x_val) = x[:split_at], x[split_at:]
    (y_train, y_val) = y[:split_at], y[split_at:]
    return ctable, chars, x_train, y_train, x_val, y_val


def fit_addition(model, x_train, y_train, x_val, y_val, ctable, epochs):
    batch_size = 32
    for epoch in range(1, epochs):
        model.fit(x_train, y_train, batch_size=batch_size, epochs=1, validation_data=(x_val, y_val), verbose=0)
        for i in range(10):
            ind = np.random.randint(0, len(x_val))
            rowx, rowy = x_val[np.array([ind])], y_val[np.array([ind])]
            preds = np.argmax(model.predict(rowx, verbose=0), axis=-1)
            q = ctable.decode(rowx[0])
            correct = ctable.decode(rowy[0])
            guess = ctable.decode(preds[0], calc_argmax=False)
            assert len(q) == MAXLEN and len(guess) == len(correct) == DIGITS + 1
    # Per-character accuracy on held-out sums, far above always guessing the commonest character.
    pred = model.predict(x_val, verbose=0).argmax(-1)
    acc = float((pred == y_val.argmax(-1)).mean())
    common = max(float((y_val.argmax(-1) == c).mean()) for c in range(y_val.shape[-1]))
    return acc, common


@pytest.mark.slow
@pytest.mark.skipif(not HAS_INPUT, reason="layers.Input (functional API, issue 14) not merged yet")
def test_addition_rnn_as_written():
    ctable, chars, x_train, y_train, x_val, y_val = addition_data(bool)
    num_layers = 1
    model = keras.Sequential()
    model.add(layers.Input((MAXLEN, len(chars))))
    model.add(layers.LSTM(128))
    model.add(layers.RepeatVector(DIGITS + 1))
    for _ in range(num_layers):
        model.add(layers.LSTM(128, return_sequences=True))
    model.add(layers.Dense(len(chars), activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.summary()
    acc, common = fit_addition(model, x_train, y_train, x_val, y_val, ctable, epochs=12)
    assert acc > common + 0.25, (acc, common)


@pytest.mark.slow
def test_addition_rnn_sequential_with_time_distributed():
    # The example without its Input line (rustrnn infers the input) and with float one-hot data
    # (bool inputs come with the Keras-semantics part of issue 14); the Keras 2 form's TimeDistributed.
    ctable, chars, x_train, y_train, x_val, y_val = addition_data(np.float32)
    __import__("rustrnn").manual_seed(0)
    num_layers = 1
    model = keras.Sequential()
    model.add(layers.LSTM(128))
    model.add(layers.RepeatVector(DIGITS + 1))
    for _ in range(num_layers):
        model.add(layers.LSTM(128, return_sequences=True))
    model.add(layers.TimeDistributed(layers.Dense(len(chars), activation="softmax")))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.build((None, MAXLEN, len(chars)))
    model.summary()
    acc, common = fit_addition(model, x_train, y_train, x_val, y_val, ctable, epochs=12)
    assert acc > common + 0.25, (acc, common)


# ---- Bidirectional LSTM on IMDB, as on keras.io, with synthetic reviews ----------------------------------

max_features = 2000  # Only consider the top 20k words (keras.io; lowered)
maxlen = 40  # Only consider the first 200 words of each movie review (keras.io; lowered)


def imdb_load_data(num_words, n=1200, seed=0):
    """keras.datasets.imdb.load_data's form (lists of word indices from 1 (start) and
    2 (out-of-vocabulary) up, binary labels), synthetic: a review is positive when it
    holds more words of a "positive" set than of a "negative" one."""
    rng = np.random.default_rng(seed)
    pos, neg = np.arange(10, 40), np.arange(40, 70)

    def one():
        words = list(rng.integers(70, num_words, size=rng.integers(10, 60)))
        label = int(rng.integers(0, 2))
        strong, weak = (pos, neg) if label else (neg, pos)
        k = int(rng.integers(2, 5))
        for w in list(rng.choice(strong, size=k)) + list(rng.choice(weak, size=int(rng.integers(0, k - 1)))):
            words.insert(int(rng.integers(0, len(words))), int(w))
        return [1] + words, label

    data = [one() for _ in range(n)]
    x = [d[0] for d in data]
    y = np.array([d[1] for d in data])
    split = n * 3 // 4
    return (x[:split], y[:split]), (x[split:], y[split:])


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(keras, "Input"), reason="keras.Input and keras.Model(inputs, outputs) (functional API, "
                                                        "issue 14) not merged yet")
def test_bidirectional_lstm_imdb_as_written():
    # Input for variable-length sequences of integers
    inputs = keras.Input(shape=(None,), dtype="int32")
    # Embed each integer in a 128-dimensional vector
    x = layers.Embedding(max_features, 128)(inputs)
    # Add 2 bidirectional LSTMs
    x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(64))(x)
    # Add a classifier
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.summary()
    (x_train, y_train), (x_val, y_val) = imdb_load_data(num_words=max_features)
    x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
    x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=4, validation_data=(x_val, y_val))
    _, acc = model.evaluate(x_val, y_val)
    assert acc > 0.75


@pytest.mark.slow
def test_bidirectional_lstm_imdb_sequential():
    # The same model as a Sequential (the functional lines become the list's entries).
    __import__("rustrnn").manual_seed(0)
    model = keras.Sequential([
        layers.Embedding(max_features, 128),
        layers.Bidirectional(layers.LSTM(64, return_sequences=True)),
        layers.Bidirectional(layers.LSTM(64)),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.summary()
    (x_train, y_train), (x_val, y_val) = imdb_load_data(num_words=max_features)
    x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
    x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=4, validation_data=(x_val, y_val), verbose=0)
    acc = model.evaluate(x_val, y_val, verbose=0)
    acc = acc["accuracy"] if isinstance(acc, dict) else acc[1]
    assert acc > 0.75, acc
    assert [l.name for l in model.layers] == ["embedding", "bidirectional", "bidirectional_1", "dense"]
