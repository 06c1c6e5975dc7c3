"""A model trained by ``rustrnn train`` as a picklable function of texts, for
``map_partitions`` on a Dask DataFrame (or bag), ``multiprocessing`` or joblib."""

from __future__ import annotations

import os
from typing import Any

from .._checks import positive_int

__all__ = ["TextPredictor"]


class TextPredictor:
    """``predict(texts) -> (predictions, scores)`` with the tokenizer, labels and
    padding stored in the model file by ``rustrnn train classify|regress``:
    the label (as in the training data) and its probability, or the value twice.

    It carries the model file's bytes, so it pickles to workers on any machine;
    each process parses the model once, on first use.
    """

    def __init__(self, model: Any, batch_size: int = 256) -> None:
        from ..cli import task as task_module
        from ..saving import _read_source

        data, _ = _read_source(os.fspath(model) if isinstance(model, (str, os.PathLike)) else model)
        self._data = data
        self.batch_size = positive_int("batch_size", batch_size)
        model_obj, spec = self._load()
        if spec["task"] == "generate":
            from ..errors import ArgumentError

            raise ArgumentError("model: a generation model continues prompts; TextPredictor is for classify and regress models")
        task_module.check("model", spec)

    def _load(self) -> tuple:
        from ..saving import load_model
        from ..cli import task as task_module
        from ..errors import ArgumentError

        cached = self.__dict__.get("_loaded")
        if cached is None:
            model = load_model(self._data, compile=False)
            spec = model.metadata.get(task_module.KEY)
            if spec is None:
                raise ArgumentError("model: not trained by `rustrnn train`, so it does not say how to turn text into its input")
            cached = self.__dict__["_loaded"] = (model, spec, task_module.tokenizer(spec))
        return cached[0], cached[1]

    def __call__(self, texts: Any) -> tuple:
        from ..cli import task as task_module

        model, spec = self._load()
        texts = [str(t) for t in texts]
        if not texts:
            return [], []
        x = task_module.encode(spec, self.__dict__["_loaded"][2], texts)
        preds, scores = task_module.decode(spec, model.predict(x, batch_size=self.batch_size))
        return list(preds), list(map(float, scores))

    def __getstate__(self) -> dict:
        return {"_data": self._data, "batch_size": self.batch_size}
