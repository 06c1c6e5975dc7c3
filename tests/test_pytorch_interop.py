"""load_torch_weights against a real torch model: the rustrnn model then predicts
what the torch model computes. Needs PyTorch (skipped without it)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import rustrnn  # noqa: E402
from rustrnn import layers  # noqa: E402
from rustrnn.interop import load_torch_weights  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self, cell, bidirectional, num_layers):
        super().__init__()
        self.emb = torch.nn.Embedding(12, 6)
        self.rnn = getattr(torch.nn, cell)(6, 7, batch_first=True, bidirectional=bidirectional, num_layers=num_layers)
        self.fc = torch.nn.Linear(7 * (2 if bidirectional else 1), 3)

    def forward(self, tokens):
        out, _ = self.rnn(self.emb(tokens))
        return self.fc(out)


@pytest.mark.parametrize("cell,layer", [("LSTM", layers.LSTM), ("GRU", layers.GRU), ("RNN", layers.SimpleRNN)])
@pytest.mark.parametrize("bidirectional,num_layers", [(False, 1), (True, 2)])
def test_rustrnn_model_predicts_what_the_torch_model_computes(cell, layer, bidirectional, num_layers, tmp_path):
    torch.manual_seed(0)
    net = Net(cell, bidirectional, num_layers).double()
    m = rustrnn.Sequential([layers.Embedding(12, 6),
                            layer(7, return_sequences=True, bidirectional=bidirectional, num_layers=num_layers),
                            layers.Dense(3)], dtype=np.float64)
    m.build()
    load_torch_weights(m, net.state_dict())
    tokens = np.random.default_rng(0).integers(0, 12, (4, 9))
    want = net(torch.from_numpy(tokens)).detach().numpy()
    np.testing.assert_allclose(m.predict(tokens), want, rtol=1e-10, atol=1e-10)
    safetensors = pytest.importorskip("safetensors.torch")
    path = tmp_path / "net.safetensors"
    safetensors.save_file({k: v.float().contiguous() for k, v in net.state_dict().items()}, str(path))
    m32 = rustrnn.Sequential([layers.Embedding(12, 6),
                              layer(7, return_sequences=True, bidirectional=bidirectional, num_layers=num_layers),
                              layers.Dense(3)])
    m32.build()
    load_torch_weights(m32, path)
    np.testing.assert_allclose(m32.predict(tokens), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.35])
def test_sparse_label_smoothing_is_torchs_cross_entropy_on_a_masked_sequence(smoothing):
    # The loss and the gradient of a Seq2Seq-like head: per step CrossEntropyLoss(label_smoothing) over the
    # unpadded steps (ignore_index=0 plays rustrnn's mask), against torch in float64.
    rng = np.random.default_rng(3)
    z = rng.standard_normal((4, 5, 6))  # (B, T, C) logits
    labels = rng.integers(1, 6, size=(4, 5))
    labels[1, 3:] = 0
    labels[3, 1:] = 0
    model = rustrnn.Sequential([layers.Masking(mask_value=0.0), layers.Dense(6, use_bias=False)], dtype="float64")
    model.compile(optimizer="sgd", loss=rustrnn.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                                     label_smoothing=smoothing))
    x = z.copy()
    x[labels == 0] = 0.0  # masked steps: rustrnn skips them, torch ignores their label
    model.build((5, 6))
    model.set_weights([np.eye(6)])
    loss, grads = model.loss_and_gradients(x, labels)
    tz = torch.tensor(x, requires_grad=True)
    tw = torch.eye(6, dtype=torch.float64, requires_grad=True)
    ref = torch.nn.CrossEntropyLoss(label_smoothing=smoothing, ignore_index=0)((tz @ tw).reshape(-1, 6),
                                                                            torch.tensor(labels).reshape(-1))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    (kernel,) = grads.values()
    np.testing.assert_allclose(kernel, tw.grad.numpy(), rtol=1e-10, atol=1e-13)
