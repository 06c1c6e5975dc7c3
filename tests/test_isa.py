"""Kernel paths: RUSTRNN_ISA forces one, rustrnn.get_isa() reports it, and every
path this CPU supports gives the portable path's results (to rounding) with
results bit-identical for any thread count."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import rustrnn
from rustrnn import _native

SUPPORTED = list(_native._supported_isas())

# Runs in a fresh interpreter (the path is chosen once per process): forward and
# backward of every cell, f32 and f64, on 1 and 2 threads; saves everything.
SCRIPT = r"""
import sys, numpy as np, rustrnn
out = {"isa": np.array(rustrnn.get_isa())}
rng = np.random.default_rng(0)
for cell in ("RNN", "LSTM", "GRU"):
    for dt in (np.float32, np.float64):
        x = rng.standard_normal((33, 7, 20)).astype(dt)
        lengths = 1 + np.arange(33) % 7
        for threads in (1, 2):
            rustrnn.set_num_threads(threads)
            m = getattr(rustrnn.nn, cell)(20, 70, num_layers=2, bidirectional=True, batch_first=True, dtype=dt, seed=5)
            y, *_ = m(x, lengths=lengths)
            dx, *_ = m.backward(np.cos(y))
            key = f"{cell}-{np.dtype(dt).name}-{threads}"
            out[key + "-y"], out[key + "-dx"] = y, dx
            for name, g in m.grads.items():
                out[key + "-" + name] = g
        # Batch 1 (the narrowest tiles).
        m = rustrnn.nn.LSTM(20, 70, batch_first=True, dtype=dt, seed=6).eval()
        out[f"b1-{cell}-{np.dtype(dt).name}"] = m(x[:1])[0]
np.savez(sys.argv[1], **out)
"""


def run_with(isa, tmp_path, extra_env=None):
    env = dict(os.environ, RUSTRNN_ISA=isa, **(extra_env or {}))
    path = tmp_path / f"{isa}.npz"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return dict(np.load(path)), proc.stderr


def test_get_isa_reports_a_supported_path():
    assert SUPPORTED[0] == "portable"
    assert rustrnn.get_isa() in SUPPORTED
    if not os.environ.get("RUSTRNN_ISA"):
        assert rustrnn.get_isa() == SUPPORTED[-1]  # the best by default


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_every_supported_path_matches_portable(isa, tmp_path):
    if isa not in SUPPORTED:
        pytest.skip(f"this CPU does not support {isa}")
    base, _ = run_with("portable", tmp_path)
    got, err = run_with(isa, tmp_path)
    assert str(base["isa"]) == "portable" and str(got["isa"]) == isa
    assert "RuntimeWarning" not in err
    for key, want in base.items():
        if key == "isa":
            continue
        tol = 1e-4 if want.dtype == np.float32 else 1e-11
        np.testing.assert_allclose(got[key], want, rtol=tol, atol=tol, err_msg=key)
    for results in (base, got):
        for key in results:
            if key.endswith("-1") or "-1-" in key:
                other = key.replace("-1-", "-2-") if "-1-" in key else key[:-2] + "-2"
                assert np.array_equal(results[key], results[other]), key


def test_unknown_or_unsupported_isa_warns_and_falls_back(tmp_path):
    code = "import warnings, rustrnn; print(rustrnn.get_isa())"
    env = dict(os.environ, RUSTRNN_ISA="sse9")
    proc = subprocess.run([sys.executable, "-W", "always", "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == SUPPORTED[-1]
    assert "RUSTRNN_ISA=\"sse9\": expected portable, avx2 or avx512" in proc.stderr
    if "avx512" not in SUPPORTED:
        env = dict(os.environ, RUSTRNN_ISA="avx512")
        proc = subprocess.run([sys.executable, "-W", "always", "-c", code], env=env, capture_output=True, text=True)
        assert proc.stdout.strip() == SUPPORTED[-1]
        assert "does not support it" in proc.stderr


def test_forcing_portable_needs_no_warning(tmp_path):
    env = dict(os.environ, RUSTRNN_ISA="portable")
    proc = subprocess.run([sys.executable, "-W", "error", "-c", "import rustrnn; print(rustrnn.get_isa())"], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "portable"
