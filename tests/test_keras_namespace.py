"""``from rustrnn import keras``: Keras 3's names over rustrnn, and an error naming any Keras
name rustrnn lacks (never a silent stand-in)."""

import pytest

import rustrnn
from rustrnn import keras


def test_keras_names_are_rustrnn_classes():
    assert keras.layers.LSTM is rustrnn.layers.LSTM
    assert keras.Sequential is rustrnn.Sequential
    assert keras.utils.to_categorical([1], 3).tolist() == [[0.0, 1.0, 0.0]]


def test_keras_models_load_model_reads_a_saved_model(tmp_path):
    model = keras.Sequential([keras.layers.Dense(2)])
    model.build((None, 3))
    model.save(tmp_path / "m.rnn")
    assert keras.models.load_model(tmp_path / "m.rnn").count_params() == model.count_params()


@pytest.mark.parametrize("module, name", [(keras, "ops"), (keras.layers, "Conv2D"), (keras.models, "clone_model"),
                                          (keras.utils, "image_dataset_from_directory")])
def test_a_missing_keras_name_raises_an_error_naming_it(module, name):
    with pytest.raises(rustrnn.UnsupportedError, match=name):
        getattr(module, name)
    assert not hasattr(module, name)  # also an AttributeError
