"""Writes tests/fixtures/lstm_proj.npz: torch.nn.LSTM with proj_size in float64
(forward, input/state gradients, every parameter gradient) for a few small
configurations, so that CI checks rustrnn's projected LSTM without torch.

Usage (needs torch): python scripts/make_proj_fixtures.py
"""

import json
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "lstm_proj.npz"
CASES = [
    dict(name="one_layer", input_size=3, hidden_size=5, proj_size=2, num_layers=1, bidirectional=False, lengths=None),
    dict(name="stacked_bidir_varlen", input_size=3, hidden_size=4, proj_size=3, num_layers=2, bidirectional=True,
         lengths=[5, 2, 4]),
    dict(name="no_bias", input_size=2, hidden_size=4, proj_size=1, num_layers=2, bidirectional=False, lengths=None,
         bias=False),
]


def main():
    arrays = {}
    for case in CASES:
        torch.manual_seed(0)
        d = 2 if case["bidirectional"] else 1
        m = torch.nn.LSTM(case["input_size"], case["hidden_size"], num_layers=case["num_layers"],
                          bidirectional=case["bidirectional"], proj_size=case["proj_size"],
                          bias=case.get("bias", True)).double()
        T, B = 5, 3
        x = torch.randn(T, B, case["input_size"], dtype=torch.float64, requires_grad=True)
        h0 = torch.randn(case["num_layers"] * d, B, case["proj_size"], dtype=torch.float64, requires_grad=True)
        c0 = torch.randn(case["num_layers"] * d, B, case["hidden_size"], dtype=torch.float64, requires_grad=True)
        if case["lengths"]:
            packed = pack_padded_sequence(x, torch.tensor(case["lengths"]), enforce_sorted=False)
            out, (hn, cn) = m(packed, (h0, c0))
            out, _ = pad_packed_sequence(out, total_length=T)
        else:
            out, (hn, cn) = m(x, (h0, c0))
        dout, dhn, dcn = torch.randn_like(out), torch.randn_like(hn), torch.randn_like(cn)
        torch.autograd.backward([out, hn, cn], [dout, dhn, dcn])
        p = case["name"] + "/"
        for k, v in dict(x=x, h0=h0, c0=c0, out=out, hn=hn, cn=cn, dout=dout, dhn=dhn, dcn=dcn).items():
            arrays[p + k] = v.detach().numpy()
        arrays[p + "dx"], arrays[p + "dh0"], arrays[p + "dc0"] = x.grad.numpy(), h0.grad.numpy(), c0.grad.numpy()
        for n, w in m.named_parameters():
            arrays[p + n] = w.detach().numpy()
            arrays[p + "grad_" + n] = w.grad.numpy()
    arrays["meta"] = np.array(json.dumps({"cases": CASES, "torch": torch.__version__}))
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
