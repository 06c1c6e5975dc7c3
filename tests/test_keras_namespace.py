"""``from rustrnn import keras``: Keras 3's names over rustrnn, and an error naming any Keras
name rustrnn lacks (never a silent stand-in)."""

import pytest

import rustrnn
from rustrnn import keras


def test_keras_names_are_rustrnn_classes():
    assert keras.layers.LSTM is rustrnn.layers.LSTM
    assert keras.Sequential is rustrnn.Sequential
    assert keras.models.load_model is rustrnn.load_model
    assert keras.utils.to_categorical is rustrnn.utils.to_categorical


@pytest.mark.parametrize("module, name", [(keras, "ops"), (keras.layers, "Conv2D"), (keras.models, "clone_model"),
                                          (keras.utils, "image_dataset_from_directory")])
def test_a_missing_keras_name_raises_an_error_naming_it(module, name):
    with pytest.raises(rustrnn.UnsupportedError, match=name):
        getattr(module, name)
    assert not hasattr(module, name)  # also an AttributeError
