"""Keras 3's namespace over rustrnn: port a Keras script by changing only its import line,
``import keras`` -> ``from rustrnn import keras``.

The names here are rustrnn's own classes (``keras.layers.LSTM`` is :class:`rustrnn.layers.LSTM`),
which behave as Keras 3's do. A Keras name that rustrnn does not implement raises
:class:`rustrnn.UnsupportedError` naming it when it is looked up, never a silent stand-in.
"""

from __future__ import annotations

from typing import Any

from .. import callbacks, initializers, layers, losses, metrics, optimizers
from ..functional import Input
from ..models import Model, Sequential
from . import models, preprocessing, saving, utils
from .._missing import missing

__all__ = ["layers", "initializers", "models", "utils", "preprocessing", "saving", "callbacks", "optimizers", "losses", "metrics", "Model", "Sequential", "Input"]


def __getattr__(name: str) -> Any:
    raise missing("keras", name)
