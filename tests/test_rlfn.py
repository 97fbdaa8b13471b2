"""RLFN port against the official PyTorch code (tests/reference/rlfn_torch.py): names and numerics."""
import numpy as np
import paddle
import pytest

from paddle_sr import models

torch = pytest.importorskip("torch")
from tests.reference import rlfn_torch  # noqa: E402


def _copy_torch_weights(tmodel, model):
    """Torch state dict -> Paddle model by identical names (convs only: no transposes needed)."""
    state = {k: paddle.to_tensor(v.detach().numpy()) for k, v in tmodel.state_dict().items()}
    own = model.state_dict()
    assert set(state) == set(own) - {"value_range"}, "parameter names differ from the official code"
    model.set_state_dict(state)


@pytest.mark.parametrize("name,scale,size", [("rlfn", 2, (17, 23)), ("rlfn_s", 3, (16, 15)),
                                             ("rlfn_ntire", 4, (21, 18))])
def test_matches_official_code_with_random_weights(name, scale, size):
    torch.manual_seed(scale)
    tmodel = rlfn_torch.build(name, scale)
    # Official init gives tiny outputs; widen the biases so every branch (ESA gate, residuals)
    # carries signal on the 0-255 scale.
    with torch.no_grad():
        for n, p in tmodel.named_parameters():
            if n.endswith("bias"):
                p.uniform_(-0.5, 0.5)
    model = models.create(name, scale=scale)
    model.eval()
    _copy_torch_weights(tmodel, model)
    x = np.random.default_rng(scale).uniform(0, 255, (2, 3) + size).astype("float32")
    with torch.no_grad():
        ref = tmodel(torch.from_numpy(x)).numpy()
    with paddle.no_grad():
        native = model.forward_native(paddle.to_tensor(x)).numpy()
        # The suite entry point on [-1, 1] gives the same result mapped back from 0-255.
        suite = model(paddle.to_tensor(x / 127.5 - 1)).numpy()
    assert ref.shape == (2, 3, size[0] * scale, size[1] * scale)
    assert np.abs(ref).max() > 1.0, "reference output is ~0: the comparison would prove nothing"
    assert np.abs(native - ref).max() < 1e-3
    assert np.abs((suite + 1) * 127.5 - ref).max() < 1e-3


def test_default_value_range_is_official_0_255():
    for name in ("rlfn", "rlfn_s", "rlfn_ntire"):
        vr = models.create(name, scale=4).value_range.numpy().tolist()
        assert vr == [0.0, 255.0], name


def test_official_layer_names():
    keys = set(models.create("rlfn_ntire", scale=4).state_dict())
    assert {"conv_1.weight", "block_4.c1_r.weight", "block_1.c5.bias", "block_2.esa.conv_f.weight",
            "block_3.esa.conv2.weight", "block_1.esa.conv4.bias", "conv_2.weight", "upsampler.0.weight"} <= keys
    assert "block_5.c1_r.weight" not in keys
    assert list(models.create("rlfn_ntire", scale=4).block_1.c1_r.weight.shape) == [48, 46, 3, 3]
