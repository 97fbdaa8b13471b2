"""EDSR / EDSR-baseline / RCAN / RDN against the official PyTorch definitions (tests/reference).

Key sets: every official state-dict name with the same shape, at full size. Parity: the reference
with PyTorch-default random weights, its state dict copied into the Paddle port, the same [0, 255]
input into ``forward_native`` -> outputs agree to 1e-3 on the 0-255 scale. Reduced depths keep the
CPU time small; each reduced config still runs every block type, tail and residual-scaling path.
"""
import numpy as np
import paddle
import pytest

torch = pytest.importorskip("torch", reason="torch is the test-only reference for the parity tests")

from paddle_sr import models  # noqa: E402
from paddle_sr.models.edsr import EDSR  # noqa: E402
from tests.reference import load_torch_state  # noqa: E402
from tests.reference import edsr_family_torch as ref  # noqa: E402

TOL = 1e-3  # max abs difference on the 0-255 scale


def _shapes(state):
    return {k: tuple(v.shape) for k, v in state.items()}


def _paddle_shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if k != "value_range"}


def _parity(torch_model, paddle_model, size=8, seed=0, channels=3):
    """Copy weights, run both on the same [0, 255] input, return (max abs diff, output magnitude)."""
    load_torch_state(paddle_model, torch_model)
    torch_model.eval()
    paddle_model.eval()
    x = np.random.default_rng(seed).uniform(0, 255, (1, channels, size, size)).astype("float32")
    with torch.no_grad():
        want = torch_model(torch.from_numpy(x)).numpy()
    with paddle.no_grad():
        got = paddle_model.forward_native(paddle.to_tensor(x)).numpy()
    assert got.shape == want.shape
    return float(np.abs(got - want).max()), float(np.abs(want).max())


# ---- exact official key sets (names and shapes), full size --------------------------------------
# ``load_torch_state`` in every parity test below also checks the exact key/shape set, so the
# reduced-depth tails (EDSR x3, RCAN x3/x8, RDN) are covered there; full-size models are slow to build.
KEY_CASES = [("edsr_baseline", s, lambda s: ref.make_edsr_baseline(s)) for s in (2, 3, 4)]
KEY_CASES += [("edsr", 4, lambda s: ref.make_edsr(s))]
KEY_CASES += [("rcan", 2, lambda s: ref.make_rcan(s))]  # x4 full size: the parity test checks keys too
KEY_CASES += [("rdn", s, lambda s: ref.make_rdn(s)) for s in (2, 3, 4)]


@pytest.mark.parametrize("name,scale,build", KEY_CASES, ids=[f"{n}-x{s}" for n, s, _ in KEY_CASES])
def test_state_dict_keys_and_shapes_are_official(name, scale, build):
    official = _shapes(build(scale).state_dict())
    assert _paddle_shapes(models.create(name, scale=scale)) == official


def test_rcan_official_names_spelled_out():
    keys = set(models.create("rcan", scale=4).state_dict())
    assert {"sub_mean.weight", "add_mean.bias", "head.0.weight", "body.9.body.19.body.0.weight",
            "body.9.body.19.body.2.bias", "body.9.body.19.body.3.conv_du.0.weight",
            "body.9.body.19.body.3.conv_du.2.bias", "body.9.body.20.weight", "body.10.weight",
            "tail.0.0.weight", "tail.0.2.weight", "tail.1.bias"} <= keys
    assert "body.10.body.0.body.0.weight" not in keys and "tail.0.4.weight" not in keys


def test_liif_encoder_mode_keys():
    """no_upsampling drops ``tail`` only; sub/add_mean stay in the state dict as in LIIF's EDSR."""
    official = _shapes(ref.make_edsr_baseline(2, no_upsampling=True, mean_shift=False).state_dict())
    enc = EDSR(scale=2, n_resblocks=16, n_feats=64, res_scale=1, no_upsampling=True, mean_shift=False)
    assert _paddle_shapes(enc) == official
    assert "sub_mean.weight" in official and not any(k.startswith("tail") for k in official)
    assert enc.out_dim == 64 and EDSR(scale=2, n_resblocks=1, n_feats=8).out_dim == 3


# ---- numerical parity with PyTorch ---------------------------------------------------------------
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_edsr_baseline_full_size_parity(scale):
    torch.manual_seed(scale)
    diff, mag = _parity(ref.make_edsr_baseline(scale), models.create("edsr_baseline", scale=scale))
    assert mag > 1.0 and diff < TOL


def test_edsr_residual_scaling_parity():
    """EDSR's 256-feature body with res_scale 0.1 (4 blocks instead of 32)."""
    torch.manual_seed(0)
    diff, mag = _parity(ref.make_edsr(4, n_resblocks=4), models.create("edsr", scale=4, n_resblocks=4), size=6)
    assert mag > 1.0 and diff < TOL


def test_edsr_liif_encoder_parity():
    """No tail, no mean shift (LIIF's encoder) — features returned on the input's scale."""
    torch.manual_seed(1)
    t = ref.make_edsr_baseline(2, n_resblocks=2, no_upsampling=True, mean_shift=False, rgb_range=1)
    p = EDSR(scale=2, n_resblocks=2, n_feats=64, res_scale=1, rgb_range=1, no_upsampling=True, mean_shift=False,
             value_range=(-1, 1))
    diff, mag = _parity(t, p)
    assert mag > 1.0 and diff < TOL


@pytest.mark.parametrize("scale", [2, 3, 8])
def test_rcan_reduced_parity(scale):
    torch.manual_seed(scale)
    diff, mag = _parity(ref.make_rcan(scale, n_resgroups=2, n_resblocks=2),
                        models.create("rcan", scale=scale, n_resgroups=2, n_resblocks=2))
    assert mag > 1.0 and diff < TOL


def test_rcan_full_size_parity_x4():
    torch.manual_seed(4)
    diff, mag = _parity(ref.make_rcan(4), models.create("rcan", scale=4))
    assert mag > 1.0 and diff < TOL


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_rdn_reduced_parity(scale):
    torch.manual_seed(scale)
    D, C, G, G0 = 3, 2, 16, 16
    diff, mag = _parity(ref.make_rdn(scale, G0=G0, RDNconfig=(D, C, G)),
                        models.create("rdn", scale=scale, num_features=G0, num_blocks=D, num_layers=C,
                                      growth_rate=G))
    assert mag > 1.0 and diff < TOL


def test_rdn_encoder_parity():
    torch.manual_seed(5)
    diff, mag = _parity(ref.make_rdn(2, G0=16, RDNconfig=(2, 2, 8), no_upsampling=True),
                        models.create("rdn", scale=2, num_features=16, num_blocks=2, num_layers=2, growth_rate=8,
                                      no_upsampling=True))
    assert mag > 1.0 and diff < TOL


# ---- value range and the copy helper --------------------------------------------------------------
@pytest.mark.parametrize("name", ["edsr", "edsr_baseline", "rcan"])
def test_official_family_defaults_to_0_255(name):
    model = models.create(name, scale=2, **({"n_resblocks": 1} if name != "rcan" else {"n_resgroups": 1}))
    assert model.value_range.numpy().tolist() == [0.0, 255.0]
    model.eval()
    x = paddle.to_tensor(np.random.default_rng(0).uniform(-1, 1, (1, 3, 6, 6)).astype("float32"))
    with paddle.no_grad():
        np.testing.assert_allclose(model(x).numpy(), model.forward_native((x + 1) * 127.5).numpy() / 127.5 - 1,
                                   rtol=1e-5, atol=1e-5)


def test_initialisation_is_pytorch_default():
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for trainable conv weights and biases, frozen mean shift untouched."""
    paddle.seed(0)
    model = models.create("rcan", scale=2, n_resgroups=1, n_resblocks=2)
    for name, p in model.named_parameters():
        if p.stop_gradient:
            continue
        w = model.state_dict()[name.replace(".bias", ".weight")]
        bound = 1 / np.sqrt(np.prod(w.shape[1:]))
        v = p.numpy()
        assert np.abs(v).max() <= bound, name
        if v.size >= 4096:  # uniform: std = bound / sqrt(3)
            assert abs(v.std() / (bound / np.sqrt(3)) - 1) < 0.05, name
    assert np.abs(model.head[0].bias.numpy()).min() > 0  # Paddle's default would be zeros


def test_full_size_rcan_output_stays_on_image_scale():
    """200 unscaled residual blocks: with Paddle's default init the output overflows; PyTorch's keeps it sane."""
    paddle.seed(0)
    model = models.create("rcan", scale=2)
    model.eval()
    x = paddle.to_tensor(np.random.default_rng(0).uniform(0, 255, (1, 3, 8, 8)).astype("float32"))
    with paddle.no_grad():
        out = model.forward_native(x).numpy()
    assert np.isfinite(out).all() and np.abs(out).max() < 2000


def test_mean_shift_matches_official_values():
    sub, add = models.create("rcan", scale=2, n_resgroups=1).sub_mean, models.create("rcan", scale=2).add_mean
    mean = np.array([0.4488, 0.4371, 0.4040], dtype="float32") * 255
    np.testing.assert_allclose(sub.bias.numpy(), -mean, rtol=1e-6)
    np.testing.assert_allclose(add.bias.numpy(), mean, rtol=1e-6)
    np.testing.assert_array_equal(sub.weight.numpy().reshape(3, 3), np.eye(3))
    assert sub.weight.stop_gradient and add.bias.stop_gradient


def test_load_torch_state_rejects_wrong_scale_with_clear_error():
    from paddle_sr.core.errors import SRError
    with pytest.raises(SRError, match="tail.0.0.weight"):
        load_torch_state(models.create("edsr_baseline", scale=3, n_resblocks=1),
                         ref.make_edsr_baseline(2, n_resblocks=1))
