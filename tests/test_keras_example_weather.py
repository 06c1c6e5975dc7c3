"""keras.io "Timeseries forecasting for weather prediction" (Keras 3 version), ported by
changing only the import line: ``import keras`` -> ``from rustrnn import keras``.

The Jena climate CSV (pandas) is replaced by a small synthetic series with the same
shape of problem: 7 normalized features recorded every "10 minutes", the temperature
(feature 1) to forecast ``future`` steps ahead from ``past`` steps sampled every
``step``. The sizes are smaller (past 120 instead of 720) so that it trains in seconds.
Every Keras call is the example's: timeseries_dataset_from_array, LSTM(32) -> Dense(1),
Adam, mse, EarlyStopping, ModelCheckpoint(save_weights_only, ``.weights.h5``,
save_best_only), ``dataset.take``, ``x.numpy()``, predict; then load_weights of the best
checkpoint and evaluate, as a user continues.
"""

import numpy as np
import pytest

import rustrnn
from rustrnn import keras  # was: import keras

pytest.importorskip("h5py")


def synthetic_weather(n=3000, seed=0):
    """(n, 7) features: a daily cycle (144 steps) with slow drift and noise; the
    temperature (column 1) follows the cycle and the pressure (column 0) ahead of it."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    day = np.sin(2 * np.pi * t / 144)
    drift = np.cumsum(rng.normal(scale=0.02, size=n))
    cols = [np.cos(2 * np.pi * t / 144) + 0.1 * rng.normal(size=n),  # "pressure", a quarter day ahead
            3 * day + drift + 0.2 * rng.normal(size=n)]  # "temperature"
    cols += [day * rng.uniform(0.5, 2) + drift * rng.uniform(-1, 1) + rng.normal(scale=0.5, size=n) for _ in range(5)]
    return np.stack(cols, -1).astype(np.float32)


def normalize(data, train_split):
    data_mean = data[:train_split].mean(axis=0)
    data_std = data[:train_split].std(axis=0)
    return (data - data_mean) / data_std


def functional_model(inputs):
    inputs = keras.layers.Input(shape=(inputs.shape[1], inputs.shape[2]))
    lstm_out = keras.layers.LSTM(32)(inputs)
    outputs = keras.layers.Dense(1)(lstm_out)
    return keras.Model(inputs=inputs, outputs=outputs)


def sequential_model(inputs):
    return keras.Sequential([keras.layers.LSTM(32), keras.layers.Dense(1)])


@pytest.mark.parametrize("build", [functional_model, sequential_model], ids=["functional", "sequential"])
def test_weather_forecasting_example(build, tmp_path, monkeypatch):
    if build is functional_model and not hasattr(keras.layers, "Input"):
        pytest.skip("the example's model is functional (keras.layers.Input, keras.Model(inputs, outputs)): #14's functional part")
    monkeypatch.chdir(tmp_path)
    rustrnn.manual_seed(0)  # the test's, for a reproducible run

    features = synthetic_weather()
    split_fraction = 0.715
    train_split = int(split_fraction * features.shape[0])
    step = 6
    past = 120
    future = 12
    learning_rate = 0.001
    batch_size = 64
    epochs = 10

    features = normalize(features, train_split)
    train_data = features[:train_split]
    val_data = features[train_split:]

    start = past + future
    end = start + train_split
    x_train = train_data[:, :7]
    y_train = features[start:end][:, [1]]
    sequence_length = int(past / step)

    dataset_train = keras.preprocessing.timeseries_dataset_from_array(
        x_train, y_train, sequence_length=sequence_length, sampling_rate=step, batch_size=batch_size,
    )
    x_end = len(val_data) - past - future
    label_start = train_split + past + future
    x_val = val_data[:x_end][:, :7]
    y_val = features[label_start:][:, [1]]
    dataset_val = keras.preprocessing.timeseries_dataset_from_array(
        x_val, y_val, sequence_length=sequence_length, sampling_rate=step, batch_size=batch_size,
    )

    for batch in dataset_train.take(1):
        inputs, targets = batch
    assert inputs.numpy().shape == (batch_size, sequence_length, 7)
    assert targets.numpy().shape == (batch_size, 1)

    model = build(inputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")

    path_checkpoint = "model_checkpoint.weights.h5"
    es_callback = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=5)
    modelckpt_callback = keras.callbacks.ModelCheckpoint(
        monitor="val_loss", filepath=path_checkpoint, verbose=1, save_weights_only=True, save_best_only=True,
    )
    history = model.fit(
        dataset_train, epochs=epochs, validation_data=dataset_val, callbacks=[es_callback, modelckpt_callback],
    )

    for x, y in dataset_val.take(5):
        plot_data = [x[0][:, 1].numpy(), y[0].numpy(), model.predict(x)[0]]
        assert plot_data[0].shape == (sequence_length,) and plot_data[1].shape == (1,) and plot_data[2].shape == (1,)

    # It learned: far below the variance of the normalized temperature (what predicting its mean scores).
    val_loss = history.history["val_loss"]
    print("val_loss", val_loss, "variance", float(np.var(y_val)))
    assert min(val_loss) < 0.3 * float(np.var(y_val)), val_loss
    assert val_loss[-1] < val_loss[0]
    # The best checkpoint is a Keras weights file that load_weights restores exactly.
    model.load_weights(path_checkpoint)
    assert model.evaluate(dataset_val) == pytest.approx(min(val_loss), rel=1e-5)
    predictions = model.predict(dataset_val)
    assert predictions.shape == (sum(len(b[0]) for b in dataset_val), 1)
