"""The README's "Coming from Keras" example runs as written (its "after" block)."""

import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("h5py")

README = Path(__file__).resolve().parents[1] / "README.md"


def test_coming_from_keras_example_runs(tmp_path, monkeypatch):
    section = README.read_text().split("## Coming from Keras", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks[0].strip() == "import keras"
    code = blocks[1]
    assert code.startswith("from rustrnn import keras\n")
    monkeypatch.chdir(tmp_path)
    import rustrnn

    rustrnn.manual_seed(0)
    scope: dict = {}
    exec(compile(code, "README.md (Coming from Keras)", "exec"), scope)
    assert all(isinstance(v, float) for v in (scope["loss"], scope["acc"], scope["auc"]))
    assert scope["acc"] > 0.8 and scope["auc"] > 0.9, (scope["acc"], scope["auc"])
    x = scope["x"]
    np.testing.assert_allclose(scope["restored"].predict(x), scope["model"].predict(x), atol=1e-6)
    assert scope["config"].get_config()["layers"] == scope["model"].get_config()["layers"]
    assert (tmp_path / "best.weights.h5").exists() and (tmp_path / "model.keras").exists()
    losses = scope["forecaster"].history.history["loss"]
    assert losses[-1] < losses[0]
