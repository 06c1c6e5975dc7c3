"""When rustrnn can run a torch module's forward, and the one-time warning when it cannot.

rustrnn computes on the CPU in float32 and float64. Anything else (CUDA or
other devices, float16/bfloat16, TorchScript or ``torch.compile``
tracing) runs torch.nn's own implementation instead, after a
``RuntimeWarning`` shown once per reason.
"""

from __future__ import annotations

import warnings
from typing import Any, Iterable, Optional, Tuple

import torch

_warned: set = set()


def fallback_reason(module: torch.nn.Module, tensors: Iterable[Optional[torch.Tensor]]) -> Optional[str]:
    """Why rustrnn cannot run this call (None if it can)."""
    if torch.jit.is_scripting() or torch.jit.is_tracing():
        return "TorchScript scripting or tracing"
    if torch.compiler.is_compiling():
        return "torch.compile tracing"
    for t in tensors:
        if t is None:
            continue
        if t.device.type != "cpu":
            return f"tensors on {t.device.type}"
        if t.dtype not in (torch.float32, torch.float64):
            return f"dtype {t.dtype}"
    return None


def warn_fallback(module: torch.nn.Module, reason: str) -> None:
    """Warns once per (module class, reason) that torch.nn computes instead."""
    key = (type(module).__name__, reason)
    if key in _warned:
        return
    _warned.add(key)
    warnings.warn(
        f"rustrnn.torch.{type(module).__name__}: rustrnn computes on the CPU in float32/float64 only; "
        f"falling back to torch.nn for {reason} (this warning is shown once)",
        RuntimeWarning,
        stacklevel=3,
    )


def check_dtypes(module: torch.nn.Module, x: torch.Tensor, weights) -> None:
    """The input and every parameter share one dtype, as torch.nn requires."""
    from ..errors import DTypeError

    for w in weights:
        if w.dtype != x.dtype:
            raise DTypeError(f"input: expected dtype {w.dtype} (the dtype of {type(module).__name__}'s parameters), "
                             f"got {x.dtype}")


def split_state(owner: Any, hx: Any, is_lstm: bool, pair: str) -> Tuple[Any, Any]:
    """``hx`` as torch.nn takes it, split into (h, c): an LSTM takes a pair
    (``pair`` names it in the error), the other cells one tensor."""
    from ..errors import DTypeError

    if is_lstm:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise DTypeError(f"hx: an {type(owner).__name__} takes a pair {pair} of tensors, got {type(hx).__name__}")
        return hx[0], hx[1]
    if isinstance(hx, (tuple, list)):
        raise DTypeError(f"hx: a {type(owner).__name__} has no cell state; expected one tensor, got a tuple")
    return hx, None
