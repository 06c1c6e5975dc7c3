"""One layer (both directions) of a torch recurrent module, run by rustrnn.

The layer owns a native handle of the module's dtype. Before every call the
module's current parameter values are written into the handle (the core keeps
its packed weights when they did not change), so optimizers, ``load_state_dict``
and in-place edits of any kind are always seen. Inputs, initial states and the
gradients coming back are read in place through NumPy views of the tensors'
memory; outputs and gradients come back as tensors over rustrnn's memory: no
copies either way.

Shapes (time-major or batch-first as the module says; ``D`` directions)::

    x (T, B, I) or (B, T, I);  h0 (D, B, S), c0 (D, B, H)   (S = proj_size if set, else H)
    out (T, B, D*S) or (B, T, D*S);  hn (D, B, S), cn (D, B, H)
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from .. import _native
from ..errors import DTypeError
from . import _openmp

_CELLS = {"LSTM": ("lstm", "tanh"), "GRU": ("gru", "tanh"), "RNN_TANH": ("rnn", "tanh"), "RNN_RELU": ("rnn", "relu")}


def as_numpy(name: str, t: Optional[torch.Tensor]) -> Optional[np.ndarray]:
    """A NumPy view of a CPU tensor's memory (a copy only if not C-contiguous)."""
    if t is None:
        return None
    if t.device.type != "cpu":
        raise DTypeError(f"{name}: expected a CPU tensor, got one on {t.device}")
    return t.detach().contiguous().numpy()


# From this many multiply-adds per step (2·B·G·H·H) rustrnn's time loop shares a step among its threads.
_PARALLEL_STEP_MIN_FLOPS = 1 << 18


def sync_threads(step_flops: int = 0) -> None:
    """rustrnn computes with as many threads as torch is set to use; before a call whose steps its
    threads share, torch's idle OpenMP workers are put away so that they do not spin on those cores."""
    n = torch.get_num_threads()
    if _native.get_num_threads() != n:
        _native.set_num_threads(n)
    if n > 1 and step_flops >= _PARALLEL_STEP_MIN_FLOPS:
        _openmp.release_workers()


class NativeLayer:
    """A rustrnn handle for one layer of a torch module.

    ``names`` are the module's parameter names of this layer (e.g.
    ``weight_ih_l1``, ``weight_ih_l1_reverse``), in the handle's order.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, bidirectional: bool, bias: bool,
                 batch_first: bool, dtype: torch.dtype, names: Sequence[str], proj_size: int = 0) -> None:
        cell, act = _CELLS[mode]
        np_dtype = "float64" if dtype == torch.float64 else "float32"
        self.dtype = dtype
        self.batch_first = batch_first
        self.handle = _native.RecurrentHandle(cell, input_size, hidden_size, 1, bidirectional, bias, batch_first,
                                              act, np_dtype, 0, proj_size)
        self.native_names = list(self.handle.param_names())
        if len(self.native_names) != len(names):
            raise AssertionError(f"parameter lists differ: {self.native_names} vs {list(names)}")
        self.names = list(names)
        self.has_cell_state = cell == "lstm"
        self.gates = {"lstm": 4, "gru": 3}.get(cell, 1)
        self.hidden_size = hidden_size

    def step_flops(self, x: torch.Tensor) -> int:
        """Multiply-adds of one step's recurrent product, ×2 (what decides rustrnn's threading); x is 3-D."""
        return 2 * x.shape[0 if self.batch_first else 1] * self.gates * self.hidden_size * self.hidden_size

    def load(self, weights: Sequence[torch.Tensor]) -> None:
        """Writes the current parameter values into the handle."""
        for name, w in zip(self.native_names, weights):
            self.handle.set_param(name, w.detach().contiguous().numpy())

    def run(self, weights, x, h0, c0, lengths, keep_tape: bool):
        """Forward; returns ``(out, hn, cn or None, tape or None)`` as tensors."""
        sync_threads(self.step_flops(x))
        self.load(weights)
        self.handle.training = keep_tape
        out, hn, cn = self.handle.forward(as_numpy("input", x), as_numpy("hx", h0), as_numpy("hx", c0), lengths)
        tape = self.handle.take_tape() if keep_tape else None
        cn = None if cn is None else torch.from_numpy(cn)
        return torch.from_numpy(out), torch.from_numpy(hn), cn, tape

    def grad(self, weights, tape, dout, dhn, dcn, want_weights: bool, step_flops: int = 0):
        """BPTT for the forward that recorded ``tape``; returns ``(dx, dh0, dc0, [dW...])``."""
        sync_threads(step_flops)
        self.load(weights)
        self.handle.put_tape(tape)
        self.handle.zero_grad()
        dx, dh0, dc0 = self.handle.backward(as_numpy("grad_output", dout), as_numpy("grad_hn", dhn),
                                            as_numpy("grad_cn", dcn))
        dws = [torch.from_numpy(self.handle.get_grad(n)) for n in self.native_names] if want_weights else None
        return torch.from_numpy(dx), torch.from_numpy(dh0), None if dc0 is None else torch.from_numpy(dc0), dws


class LayerFunction(torch.autograd.Function):
    """``out, hn[, cn] = LayerFunction.apply(layer, lengths, x, h0, c0, *weights)``.

    Forward and backward run in rustrnn with the GIL released; the forward's
    tape lives on the autograd graph, so any number of forwards can be
    differentiated later, in any order. A second backward through the same
    graph (``retain_graph=True``) recomputes the forward's tape first.
    """

    @staticmethod
    def forward(ctx, layer: NativeLayer, lengths, x, h0, c0, *weights):  # type: ignore[override]
        out, hn, cn, tape = layer.run(weights, x, h0, c0, lengths, keep_tape=True)
        ctx.layer, ctx.tape, ctx.lengths = layer, tape, lengths
        # Saved, not copied: torch checks that nobody modifies them before backward.
        ctx.save_for_backward(x, h0, c0, *weights)
        ctx.set_materialize_grads(False)
        return (out, hn, cn) if layer.has_cell_state else (out, hn)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dout, dhn, dcn=None):  # type: ignore[override]
        x, h0, c0, *weights = ctx.saved_tensors
        tape, ctx.tape = ctx.tape, None
        if tape is None:  # the graph was retained and is differentiated again
            tape = ctx.layer.run(weights, x, h0, c0, ctx.lengths, keep_tape=True)[3]
        need = ctx.needs_input_grad
        want_w = any(need[5:])
        dx, dh0, dc0, dws = ctx.layer.grad(weights, tape, dout, dhn, dcn, want_w, ctx.layer.step_flops(x))
        return (None, None, dx if need[2] else None,
                dh0 if h0 is not None and need[3] else None,
                dc0 if c0 is not None and need[4] else None,
                *(dws if want_w else [None] * len(weights)))
