#!/usr/bin/env bash
# Builds the release wheel (manylinux2014, abi3: one wheel for CPython >= 3.10), checks it with
# auditwheel, installs it into a fresh virtual environment outside the source tree and runs a
# smoke test there: import, a forward pass, saving a model and `rustrnn info` on it, the licences.
#   bash scripts/check_wheel.sh [PYTHON]        (make wheel)
# With CHECK_WHEEL_PREBUILT=1 the wheel already in dist/ is checked instead of built again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-python3}
"$PY" -m pip install -q "maturin>=1.7,<2" "ziglang>=0.11" "auditwheel>=6"
# maturin finds zig through `python3 -m ziglang` on PATH: make that PY's (a venv's python need not be active).
PATH="$("$PY" -c 'import os, sys; print(os.path.dirname(sys.executable))'):$PATH"
export PATH
if [ -z "${CHECK_WHEEL_PREBUILT:-}" ]; then
  rm -rf dist
  # zig as the linker targets glibc 2.17 whatever this machine has.
  "$PY" -m maturin build --release --zig --compatibility manylinux2014 --out dist
fi
wheel=$(ls dist/rustrnn-*.whl)
echo "built $wheel"
case "$wheel" in
  *-cp310-abi3-manylinux*x86_64*.whl|*-cp310-abi3-manylinux*aarch64*.whl) ;;
  *) echo "check_wheel: expected a cp310-abi3 manylinux wheel, got $wheel" >&2; exit 1 ;;
esac
report=$("$PY" -m auditwheel show "$wheel")
echo "$report"
echo "$report" | tr -s ' \n' ' ' | grep -q 'consistent with the following platform tag: "manylinux_2_17_' \
  || { echo "check_wheel: auditwheel does not find the wheel manylinux_2_17 (manylinux2014) compatible" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q "$PWD/$wheel"
cd "$tmp"   # away from the source tree: the installed wheel, nothing else
"$tmp/venv/bin/python" - <<'PY'
import importlib.metadata as md
import os

import numpy as np

import rustrnn
from rustrnn import layers

assert "site-packages" in rustrnn.__file__, rustrnn.__file__
lstm = rustrnn.nn.LSTM(3, 4, seed=0)
out, (hn, cn) = lstm(np.ones((2, 5, 3), np.float32))
assert out.shape == (2, 5, 4) and np.isfinite(out).all()
m = rustrnn.Sequential([layers.Embedding(10, 4), layers.GRU(5), layers.Dense(1, activation="sigmoid")])
m.compile(optimizer="adam", loss="binary_crossentropy")
m.fit(np.ones((8, 3), np.int64), np.ones(8), epochs=1, verbose=0)
m.save("smoke.rnn")
assert np.allclose(rustrnn.load_model("smoke.rnn").predict(np.ones((1, 3), np.int64)), m.predict(np.ones((1, 3), np.int64)))
files = [str(f) for f in md.files("rustrnn")]
for name in ("LICENSE-MIT", "LICENSE-APACHE"):
    assert any(f.endswith(name) for f in files), (name, [f for f in files if "dist-info" in f])
print("wheel smoke test: import, forward, fit, save, load ok;", rustrnn.__version__)
PY
"$tmp/venv/bin/rustrnn" info smoke.rnn
echo "check_wheel: ok"
