"""The README's "Inside PyTorch" example runs as written. Needs PyTorch (skipped without it)."""

import re
from pathlib import Path

import pytest

pytest.importorskip("torch")

README = Path(__file__).resolve().parents[1] / "README.md"


def test_inside_pytorch_example_runs():
    text = README.read_text()
    section = text.split("## Inside PyTorch", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "rustrnn.torch.convert(model)" in code
    scope: dict = {}
    exec(compile(code, "README.md (Inside PyTorch)", "exec"), scope)
    model = scope["model"]
    assert type(model.lstm).__module__ == "rustrnn.torch.recurrent"
    assert all(p.grad is not None for p in model.lstm.parameters())
