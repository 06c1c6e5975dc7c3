"""rustrnn.torch against torch.nn itself: forward, input and parameter gradients,
PackedSequence, initial states, dropout, cells, convert, gradcheck, fallbacks.

Needs PyTorch (skipped without it): ``make test-torch TORCH_PY=...``.
"""

import copy
import io
import itertools
import os
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import rustrnn  # noqa: E402
import rustrnn.torch as rt  # noqa: E402
from rustrnn.errors import DTypeError, ShapeError  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence  # noqa: E402

TOL = {torch.float64: 1e-10, torch.float32: 1e-5}
KINDS = [("LSTM", {}), ("GRU", {}), ("RNN", {}), ("RNN", {"nonlinearity": "relu"})]


def _pair(kind, dtype, seed=0, **kw):
    """A torch.nn module and its rustrnn twin with the same weights."""
    torch.manual_seed(seed)
    ref = getattr(torch.nn, kind)(**kw).to(dtype)
    ours = getattr(rt, kind)(**kw).to(dtype)
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def _close(a, b, dtype, what):
    assert a.shape == b.shape, what
    tol = TOL[dtype]
    assert torch.allclose(a, b, rtol=tol, atol=tol), f"{what}: max diff {(a - b).abs().max().item()}"


def _outputs(out, is_lstm):
    output, h = out
    if isinstance(output, torch.nn.utils.rnn.PackedSequence):
        output = output.data
    return [output, *(h if is_lstm else (h,))]


def _compare(ref, ours, make_inputs, dtype, is_lstm):
    """Runs both with the same inputs and output gradients; compares everything."""
    results = []
    for module in (ref, ours):
        inputs, leaves = make_inputs()
        outs = _outputs(module(*inputs), is_lstm)
        g = torch.Generator().manual_seed(7)
        grads = [torch.randn(o.shape, generator=g, dtype=dtype) for o in outs]
        torch.autograd.backward(outs, grads)
        results.append((outs, [leaf.grad for leaf in leaves], {n: p.grad for n, p in module.named_parameters()}))
    (o1, l1, p1), (o2, l2, p2) = results
    for k, (a, b) in enumerate(zip(o1, o2)):
        _close(a, b, dtype, f"output {k}")
    for k, (a, b) in enumerate(zip(l1, l2)):
        _close(a, b, dtype, f"input grad {k}")
    assert p1.keys() == p2.keys()
    for n in p1:
        _close(p1[n], p2[n], dtype, f"grad of {n}")


CONFIGS = [
    dict(num_layers=1),
    dict(num_layers=2),
    dict(num_layers=2, bidirectional=True),
    dict(num_layers=1, bidirectional=True, batch_first=True),
    dict(num_layers=2, bias=False),
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind,extra", KINDS)
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("with_state", [False, True])
def test_forward_and_every_gradient_equal_torch(dtype, kind, extra, config, with_state):
    is_lstm = kind == "LSTM"
    ref, ours = _pair(kind, dtype, input_size=3, hidden_size=5, **extra, **config)
    d = 2 if config.get("bidirectional") else 1
    T, B = 6, 4
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn((B, T, 3) if config.get("batch_first") else (T, B, 3), generator=g, dtype=dtype)
    h0 = torch.randn(config["num_layers"] * d, B, 5, generator=g, dtype=dtype)
    c0 = torch.randn_like(h0)

    def make():
        x = x0.clone().requires_grad_()
        if not with_state:
            return (x,), [x]
        h, c = h0.clone().requires_grad_(), c0.clone().requires_grad_()
        return (x, (h, c) if is_lstm else h), [x, h, c] if is_lstm else [x, h]

    _compare(ref, ours, make, dtype, is_lstm)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind,extra", KINDS)
@pytest.mark.parametrize("bidirectional,num_layers,batch_first", [(False, 1, False), (True, 2, False), (True, 1, True)])
@pytest.mark.parametrize("with_state", [False, True])
def test_packed_sequences_equal_torch(dtype, kind, extra, bidirectional, num_layers, batch_first, with_state):
    is_lstm = kind == "LSTM"
    ref, ours = _pair(kind, dtype, input_size=3, hidden_size=4, num_layers=num_layers,
                      bidirectional=bidirectional, batch_first=batch_first, **extra)
    lengths = torch.tensor([3, 7, 1, 7, 5])
    T, B, d = 7, 5, 2 if bidirectional else 1
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn((B, T, 3) if batch_first else (T, B, 3), generator=g, dtype=dtype)
    h0 = torch.randn(num_layers * d, B, 4, generator=g, dtype=dtype)
    c0 = torch.randn_like(h0)

    def make():
        x = x0.clone().requires_grad_()
        packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
        if not with_state:
            return (packed,), [x]
        h, c = h0.clone().requires_grad_(), c0.clone().requires_grad_()
        return (packed, (h, c) if is_lstm else h), [x, h, c] if is_lstm else [x, h]

    _compare(ref, ours, make, dtype, is_lstm)
    out_ref, _ = ref(make()[0][0])
    out_ours, _ = ours(make()[0][0])
    assert torch.equal(out_ref.batch_sizes, out_ours.batch_sizes)
    assert torch.equal(out_ref.sorted_indices, out_ours.sorted_indices)
    assert torch.equal(out_ref.unsorted_indices, out_ours.unsorted_indices)


@pytest.mark.parametrize("kind,extra", KINDS)
def test_unbatched_input_equals_torch(kind, extra):
    is_lstm = kind == "LSTM"
    ref, ours = _pair(kind, torch.float64, input_size=3, hidden_size=4, num_layers=2, **extra)
    x0 = torch.randn(5, 3, dtype=torch.float64)
    h0 = torch.randn(2, 4, dtype=torch.float64)

    def make():
        x, h = x0.clone().requires_grad_(), h0.clone().requires_grad_()
        c = h0.clone().requires_grad_()
        return (x, (h, c) if is_lstm else h), [x, h]

    _compare(ref, ours, make, torch.float64, is_lstm)


@pytest.mark.parametrize("kind,extra", KINDS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_gradcheck_float64(kind, extra, bidirectional):
    is_lstm = kind == "LSTM"
    _, m = _pair(kind, torch.float64, input_size=2, hidden_size=3, num_layers=2, bidirectional=bidirectional, **extra)
    d = 2 if bidirectional else 1
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2 * d, 2, 3, dtype=torch.float64, requires_grad=True)
    c = torch.randn(2 * d, 2, 3, dtype=torch.float64, requires_grad=True)
    params = list(m.parameters())
    names = [n for n, _ in m.named_parameters()]

    def f(x, h, c, *ps):
        state = (h, c) if is_lstm else h
        out = torch.func.functional_call(m, dict(zip(names, ps)), (x, state))
        return tuple(_outputs(out, is_lstm))

    assert torch.autograd.gradcheck(f, (x, h, c, *params), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("cls,extra", [("LSTMCell", {}), ("GRUCell", {}), ("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"})])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_equal_torch_over_steps(cls, extra, dtype, bias):
    torch.manual_seed(3)
    ref = getattr(torch.nn, cls)(3, 4, bias=bias, **extra).to(dtype)
    ours = getattr(rt, cls)(3, 4, bias=bias, **extra).to(dtype)
    ours.load_state_dict(ref.state_dict())
    is_lstm = cls == "LSTMCell"
    xs0 = torch.randn(3, 2, 3, dtype=dtype)
    res = []
    for cell in (ref, ours):
        xs = xs0.clone().requires_grad_()
        state = None
        total = 0
        for t in range(3):
            state = cell(xs[t], state)
            h = state[0] if is_lstm else state
            total = total + (h * (t + 1)).sum() + ((state[1] ** 2).sum() if is_lstm else 0)
        total.backward()
        res.append((h.detach(), xs.grad, {n: p.grad for n, p in cell.named_parameters()}))
    _close(res[0][0], res[1][0], dtype, "h")
    _close(res[0][1], res[1][1], dtype, "input grad")
    for n in res[0][2]:
        _close(res[0][2][n], res[1][2][n], dtype, f"grad of {n}")
    # unbatched
    x1 = torch.randn(3, dtype=dtype)
    a, b = ref(x1), ours(x1)
    for u, v in zip(a if is_lstm else (a,), b if is_lstm else (b,)):
        _close(u, v, dtype, "unbatched")


def test_dropout_between_layers_matches_torch_layer_by_layer():
    """torch.nn's dropout mask stream is internal to its kernel; ours is torch's
    F.dropout, so the reference is torch layers with F.dropout in between."""
    torch.manual_seed(0)
    ours = rt.LSTM(3, 4, num_layers=3, dropout=0.5).double()
    layers = [torch.nn.LSTM(3 if k == 0 else 4, 4).double() for k in range(3)]
    for k, layer in enumerate(layers):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(layer, f"{name}_l0").data.copy_(getattr(ours, f"{name}_l{k}").data)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.manual_seed(11)
    out, (hn, _) = ours(x)
    torch.manual_seed(11)
    y, hs = x, []
    for k, layer in enumerate(layers):
        y, (h, _) = layer(y)
        hs.append(h)
        if k < 2:
            y = torch.nn.functional.dropout(y, 0.5, training=True)
    _close(out, y, torch.float64, "output")
    _close(hn, torch.cat(hs), torch.float64, "h_n")
    ours.eval()
    ref = torch.nn.LSTM(3, 4, num_layers=3, dropout=0.5).double().eval()
    ref.load_state_dict(ours.state_dict())
    _close(ours(x)[0], ref(x)[0], torch.float64, "eval output")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(10, 4)
        self.lstm = torch.nn.LSTM(4, 6, batch_first=True)
        self.gru = torch.nn.GRU(6, 5)
        self.cell = torch.nn.RNNCell(5, 5)
        self.head = torch.nn.Linear(5, 1)

    def forward(self, tokens):
        y, _ = self.lstm(self.emb(tokens))
        y, _ = self.gru(y.transpose(0, 1))
        return self.head(self.cell(y[-1]))


def test_convert_swaps_in_place_and_keeps_parameters_and_optimizer():
    torch.manual_seed(0)

    net = Net()
    twin = copy.deepcopy(net)
    params_before = list(net.parameters())
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    opt_twin = torch.optim.Adam(twin.parameters(), lr=0.01)
    assert rt.convert(net) is net
    assert type(net.lstm) is rt.LSTM and type(net.gru) is rt.GRU and type(net.cell) is rt.RNNCell
    assert isinstance(net.lstm, torch.nn.LSTM)
    assert all(a is b for a, b in zip(params_before, net.parameters()))
    tokens = torch.randint(0, 10, (3, 7))
    for _ in range(3):
        for model, o in ((net, opt), (twin, opt_twin)):
            o.zero_grad()
            model(tokens).pow(2).mean().backward()
            o.step()
    for (n, a), (_, b) in zip(net.state_dict().items(), twin.state_dict().items()):
        assert torch.allclose(a, b, atol=1e-5), n
    # a whole-model checkpoint round trip
    buf = io.BytesIO()
    torch.save(net, buf)
    buf.seek(0)
    back = torch.load(buf, weights_only=False)
    assert torch.equal(back(tokens), net(tokens))
    assert torch.equal(copy.deepcopy(net)(tokens), net(tokens))


def test_several_forwards_backward_in_any_order_and_retain_graph():
    _, m = _pair("GRU", torch.float64, input_size=2, hidden_size=3)
    ref = torch.nn.GRU(2, 3).double()
    ref.load_state_dict(m.state_dict())
    xa, xb = torch.randn(4, 2, 2, dtype=torch.float64), torch.randn(3, 2, 2, dtype=torch.float64)
    grads = []
    for module in (ref, m):
        module.zero_grad()
        la = module(xa)[0].sum()
        lb = (module(xb)[0] ** 2).sum()
        lb.backward(retain_graph=True)
        la.backward()
        lb.backward()  # the retained graph a second time
        grads.append([p.grad.clone() for p in module.parameters()])
    for a, b in zip(*grads):
        _close(a, b, torch.float64, "grad")


def test_no_grad_and_eval_run_without_a_graph():
    ref, m = _pair("LSTM", torch.float32, input_size=3, hidden_size=4, num_layers=2)
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        out, (hn, cn) = m(x)
    assert out.grad_fn is None
    _close(out, ref(x)[0].detach(), torch.float32, "output")
    # weights changed in place are seen by the next call
    with torch.no_grad():
        m.weight_hh_l1.mul_(0.5)
        ref.weight_hh_l1.mul_(0.5)
        _close(m(x)[0], ref(x)[0], torch.float32, "output after an in-place update")


def test_fallback_warns_once_and_matches_torch():
    torch.manual_seed(0)
    ref = torch.nn.GRU(3, 6).bfloat16()
    ours = rt.GRU(3, 6).bfloat16()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(4, 2, 3).bfloat16()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = ours(x)
        ours(x)
    msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len([m for m in msgs if "bfloat16" in m and "falling back" in m]) == 1
    assert torch.equal(a[0], ref(x)[0])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("num_layers,bidirectional,packed", [(1, False, False), (2, True, False), (2, True, True)])
def test_lstm_proj_size_equals_torch(dtype, num_layers, bidirectional, packed):
    ref, ours = _pair("LSTM", dtype, input_size=3, hidden_size=5, proj_size=2, num_layers=num_layers,
                      bidirectional=bidirectional)
    d = 2 if bidirectional else 1
    g = torch.Generator().manual_seed(4)
    x0 = torch.randn(6, 3, 3, generator=g, dtype=dtype)
    h0 = torch.randn(num_layers * d, 3, 2, generator=g, dtype=dtype)
    c0 = torch.randn(num_layers * d, 3, 5, generator=g, dtype=dtype)

    def make():
        x, h, c = (t.clone().requires_grad_() for t in (x0, h0, c0))
        inp = pack_padded_sequence(x, torch.tensor([6, 2, 4]), enforce_sorted=False) if packed else x
        return (inp, (h, c)), [x, h, c]

    _compare(ref, ours, make, dtype, True)


def test_bad_inputs_raise_clear_errors():
    m = rt.GRU(3, 4)
    with pytest.raises(ShapeError, match="input"):
        m(torch.zeros(3))
    with pytest.raises(ShapeError, match="hx"):
        m(torch.zeros(5, 2, 3), torch.zeros(1, 3, 4))
    with pytest.raises(DTypeError, match="no cell state"):
        m(torch.zeros(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(DTypeError, match="float32"):
        m(torch.zeros(5, 2, 3, dtype=torch.float64))
    with pytest.raises(ShapeError, match="input_size 3"):
        m(torch.zeros(5, 2, 4))
    with pytest.raises(DTypeError, match="pair"):
        rt.LSTM(3, 4)(torch.zeros(5, 2, 3), torch.zeros(1, 2, 4))


def test_tensors_are_read_in_place_not_copied():
    m = rt.RNN(3, 4)
    x = torch.randn(5, 2, 3)
    layer_cls = type(m)
    out, _ = m(x)
    # the output tensor is a view of rustrnn's memory: writable, no copy needed
    assert out.is_contiguous() and layer_cls is rt.RNN
    # a non-contiguous input is accepted (copied once) and equals the contiguous result
    xt = x.transpose(0, 1).contiguous().transpose(0, 1)
    assert not xt.is_contiguous()
    assert torch.equal(m(xt)[0], out)


def test_parameters_match_torch_exactly():
    for kind, kw in itertools.product(["LSTM", "GRU", "RNN"], [dict(num_layers=2, bidirectional=True), dict(bias=False)]):
        ref = getattr(torch.nn, kind)(3, 4, **kw)
        ours = getattr(rt, kind)(3, 4, **kw)
        assert [(n, p.shape) for n, p in ref.named_parameters()] == [(n, p.shape) for n, p in ours.named_parameters()]
        assert all(isinstance(p, torch.nn.Parameter) for p in ours.parameters())
        assert repr(ref) == repr(ours)
    assert np.isclose(rt.LSTM(2, 3, dropout=0.25, num_layers=2).dropout, 0.25)


def test_rustrnn_nn_takes_torch_tensors_and_state_dicts():
    torch.manual_seed(0)
    ref = torch.nn.LSTM(3, 4, num_layers=2, proj_size=2).double()
    m = rustrnn.nn.LSTM(3, 4, num_layers=2, proj_size=2, dtype=np.float64)
    whole = {f"rnn.{k}": v for k, v in ref.state_dict().items()}
    assert m.load_state_dict(whole, prefix="rnn.") == ([], [])
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)  # (seq, batch, features) by default
    out, (hn, cn) = m(x)
    want, (whn, wcn) = ref(x)
    np.testing.assert_allclose(out, want.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cn, wcn.detach().numpy(), rtol=1e-10, atol=1e-12)
    # CPU tensors are read in place (no copy): the array shares the tensor's memory
    from rustrnn._convert import as_float_array
    t = torch.randn(4, 3, dtype=torch.float64)
    assert np.shares_memory(as_float_array("x", t, np.dtype(np.float64)), t.numpy())


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="counts threads through Linux's /proc")
def test_idle_openmp_workers_are_put_away_before_a_multithreaded_layer_call():
    # After a parallel torch op, torch's OpenMP worker busy-waits on a core that rustrnn's threads need;
    # a converted layer large enough to share its steps among threads ends it first (omp_pause_resource_all),
    # and torch starts it again at its next parallel op. The results stay torch.nn's.
    from rustrnn.torch import _openmp

    if _openmp._find_pause() is None:
        pytest.skip("this torch build's OpenMP runtime has no omp_pause_resource_all")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        def threads() -> int:
            return len(os.listdir("/proc/self/task"))

        torch.manual_seed(0)
        ref = torch.nn.LSTM(32, 64)
        layer = copy.deepcopy(ref)
        rt.convert(layer)
        x = torch.randn(20, 16, 32)  # 2·B·4H·H = 524,288 multiply-adds per step: shared by 2 threads
        a = torch.randn(512, 512)
        layer(x)  # rustrnn's pool started
        a @ a  # a parallel torch op: its OpenMP worker now exists
        with_worker = threads()
        out, (hn, cn) = layer(x)
        assert threads() == with_worker - 1, "the idle OpenMP worker was not ended"
        a @ a
        assert threads() == with_worker, "torch's next parallel op starts its worker again"
        want, (hw, cw) = ref(x)
        torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(cn, cw, rtol=1e-5, atol=1e-5)
        # A small layer runs its steps on one thread: torch's workers are left alone.
        small = rt.LSTM(4, 8)
        small(torch.randn(5, 2, 4))
        a @ a
        n = threads()
        small(torch.randn(5, 2, 4))
        assert threads() == n
    finally:
        torch.set_num_threads(before)
