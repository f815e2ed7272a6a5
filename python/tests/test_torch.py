"""A CNN exported by torch.onnx and run by oxrt gives torch's answers."""

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import oxrt  # noqa: E402


def _to_numpy(t):
    t = t.detach()
    try:
        return t.numpy()
    except RuntimeError:  # torch built against another numpy major version
        return np.array(t.tolist(), dtype=np.float32)


def _to_torch(a):
    try:
        return torch.from_numpy(a)
    except (RuntimeError, TypeError):
        return torch.tensor(a.tolist(), dtype=torch.float32)


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.nn.functional.max_pool2d(x, 2)
        x = torch.relu(self.conv2(x))
        x = torch.flatten(self.pool(x), 1)
        return torch.softmax(self.fc(x), dim=1)


@pytest.fixture(scope="module")
def exported():
    torch.manual_seed(0)
    model = SmallCNN().eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        model.bn1.running_mean.uniform_(-0.5, 0.5)
        model.bn1.running_var.uniform_(0.5, 2.0)
    buf = io.BytesIO()
    torch.onnx.export(
        model,
        torch.randn(1, 3, 32, 32),
        buf,
        input_names=["input"],
        output_names=["probs"],
        dynamic_axes={"input": {0: "batch"}, "probs": {0: "batch"}},
        opset_version=13,
    )
    return model, buf.getvalue()


def test_cnn_matches_torch(exported, tmp_path):
    model, onnx_bytes = exported
    path = tmp_path / "cnn.onnx"
    path.write_bytes(onnx_bytes)
    sess = oxrt.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.name == "input" and inp.type == "tensor(float)" and inp.shape == ["batch", 3, 32, 32]
    rng = np.random.default_rng(0)
    for batch in (1, 4):
        x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
        with torch.no_grad():
            want = _to_numpy(model(_to_torch(x)))
        (got,) = sess.run(None, {inp.name: x})
        assert got.shape == (batch, 10) and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
        assert (got.argmax(1) == want.argmax(1)).all()
