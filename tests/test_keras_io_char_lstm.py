"""keras.io's "Character-level text generation with LSTM" (Keras 3 version) run with
only its import lines changed (``import keras`` -> ``from rustrnn import keras``, ``from keras import
layers`` -> ``from rustrnn.keras import layers``), on a
small built-in text and fewer epochs/characters: one-hot ``bool`` inputs and targets,
``LSTM(128)``, ``Dense(softmax)``, ``RMSprop(learning_rate=0.01)``, and sampling with
a temperature from ``model.predict``. Two lines are added to record each epoch's
loss (``history = model.fit(...)``, ``losses.append(...)``); the loss must drop."""

import random

import numpy as np
import pytest

TEXT = (
    "the quick brown fox jumps over the lazy dog. the dog sleeps in the sun and the fox runs into the woods. "
    "a bird sings on the branch of the old tree, and the wind moves the leaves of the tree. "
) * 6

EXAMPLE = '''
from rustrnn import keras
from rustrnn.keras import layers

import numpy as np
import random
import io

with io.open(path, encoding="utf-8") as f:
    text = f.read().lower()
text = text.replace("\\n", " ")  # We remove newlines chars for nicer display
print("Corpus length:", len(text))

chars = sorted(list(set(text)))
print("Total chars:", len(chars))
char_indices = dict((c, i) for i, c in enumerate(chars))
indices_char = dict((i, c) for i, c in enumerate(chars))

# cut the text in semi-redundant sequences of maxlen characters
maxlen = 40
step = 3
sentences = []
next_chars = []
for i in range(0, len(text) - maxlen, step):
    sentences.append(text[i : i + maxlen])
    next_chars.append(text[i + maxlen])
print("Number of sequences:", len(sentences))

x = np.zeros((len(sentences), maxlen, len(chars)), dtype="bool")
y = np.zeros((len(sentences), len(chars)), dtype="bool")
for i, sentence in enumerate(sentences):
    for t, char in enumerate(sentence):
        x[i, t, char_indices[char]] = 1
    y[i, char_indices[next_chars[i]]] = 1

model = keras.Sequential(
    [
        INPUT_LINE
        layers.LSTM(128),
        layers.Dense(len(chars), activation="softmax"),
    ]
)
optimizer = keras.optimizers.RMSprop(learning_rate=0.01)
model.compile(loss="categorical_crossentropy", optimizer=optimizer)


def sample(preds, temperature=1.0):
    # helper function to sample an index from a probability array
    preds = np.asarray(preds).astype("float64")
    preds = np.log(preds) / temperature
    exp_preds = np.exp(preds)
    preds = exp_preds / np.sum(exp_preds)
    probas = np.random.multinomial(1, preds, 1)
    return np.argmax(probas)


epochs = EPOCHS
batch_size = 128

for epoch in range(epochs):
    history = model.fit(x, y, batch_size=batch_size, epochs=1)
    losses.append(history.history["loss"][0])
    print()
    print("Generating text after epoch: %d" % epoch)

    start_index = random.randint(0, len(text) - maxlen - 1)
    for diversity in [0.2, 0.5, 1.0, 1.2]:
        print("...Diversity:", diversity)

        generated = ""
        sentence = text[start_index : start_index + maxlen]
        print('...Generating with seed: "' + sentence + '"')

        for i in range(GENERATED):
            x_pred = np.zeros((1, maxlen, len(chars)))
            for t, char in enumerate(sentence):
                x_pred[0, t, char_indices[char]] = 1.0
            preds = model.predict(x_pred, verbose=0)[0]
            next_index = sample(preds, diversity)
            next_char = indices_char[next_index]
            sentence = sentence[1:] + next_char
            generated += next_char

        print("...Generated: ", generated)
        print("-")
'''


@pytest.mark.parametrize("input_line", ["keras.Input(shape=(maxlen, len(chars))),", ""])
def test_keras_io_char_lstm_runs_with_only_the_import_changed(input_line, tmp_path, capsys):
    from rustrnn import keras

    if input_line and not hasattr(keras, "Input"):
        pytest.skip("keras.Input (the functional API) is not in this build yet")
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    import rustrnn

    rustrnn.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    code = EXAMPLE.replace("INPUT_LINE", input_line).replace("EPOCHS", "10").replace("GENERATED", "10")
    scope = {"path": str(path), "losses": []}
    exec(compile(code, "keras_io_char_lstm", "exec"), scope)  # noqa: S102 - the example, as published
    losses = scope["losses"]
    assert len(losses) == 10 and all(np.isfinite(losses))
    assert losses[-1] < 0.75 * losses[0], losses
    out = capsys.readouterr().out
    assert out.count("...Generated: ") == 40
    generated = [line.split("...Generated:  ", 1)[1] for line in out.splitlines() if line.startswith("...Generated:  ")]
    assert all(len(g) == 10 and set(g) <= set(TEXT) for g in generated)
