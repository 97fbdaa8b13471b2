"""SwinIR and SAN ports against the official PyTorch code (tests/reference/swinir_san_torch.py).

Names, shapes and parameter counts on the full configurations; numerics (forward, and SAN's
second-order attention gradients) on reduced ones to keep CPU time small.
"""
import numpy as np
import paddle
import pytest

from paddle_sr import models
from paddle_sr.core.errors import SRError
from paddle_sr.models import san as san_mod
from paddle_sr.models import swinir as swinir_mod

torch = pytest.importorskip("torch")
from tests.reference import load_torch_state  # noqa: E402
from tests.reference import swinir_san_torch as ref  # noqa: E402

# sum(p.numel() for p in model.parameters()) of the official classes (measured with the reference).
# The SwinIR paper's counts (11.8M; light 878K/886K/897K at x2/x3/x4) leave out the relative
# position bias tables (36 x 225 x 6 = 48,600 entries; light 32,400).
COUNTS = {("swinir", 2): 11_752_487, ("swinir", 3): 11_937_127, ("swinir", 4): 11_900_199,
          ("swinir", 8): 12_047_911, ("swinir_light", 2): 910_152, ("swinir_light", 3): 918_267,
          ("swinir_light", 4): 929_628,
          ("san", 2): 15_712_800, ("san", 3): 15_897_440, ("san", 4): 15_860_512, ("san", 8): 16_008_224}
SMALL_SWINIR = dict(embed_dim=24, depths=(2, 2), num_heads=(3, 3), window_size=8, mlp_ratio=2.0)
SMALL_SAN = dict(n_resgroups=2, n_resblocks=2, n_feats=16, reduction=4)


def _linear_weights(state):
    return [k for k in state if k.endswith(".weight") and any(s in k for s in ("qkv", "proj", "fc1", "fc2"))]


def _torch_swinir(scale, upsampler, img_size=16, **cfg):
    cfg = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}
    return ref.SwinIR(img_size=img_size, upscale=scale, img_range=1.0, upsampler=upsampler, **cfg)


def _swinir_state(tmodel):
    # attn_mask is derived from the training size, computed on the fly by the port (see swinir.py).
    return {k: v for k, v in tmodel.state_dict().items() if not k.endswith(".attn_mask")}


@pytest.mark.parametrize("key", [("swinir", 2), ("swinir", 4), ("swinir_light", 3), ("san", 2), ("san", 8)],
                         ids=lambda k: f"{k[0]}-x{k[1]}")
def test_parameter_counts(key):
    assert models.count_parameters(models.create(key[0], scale=key[1])) == COUNTS[key]


def test_swinir_official_names_and_shapes():
    torch.manual_seed(0)
    tmodel = ref.SwinIR(img_size=48, upscale=4, window_size=8, img_range=1.0, depths=[6] * 6, embed_dim=180,
                        num_heads=[6] * 6, mlp_ratio=2, upsampler="pixelshuffle", resi_connection="1conv")
    assert sum(p.numel() for p in tmodel.parameters()) == COUNTS[("swinir", 4)]
    tstate = _swinir_state(tmodel)
    own = models.create("swinir", scale=4).state_dict()
    assert set(own) - {"value_range"} == set(tstate)
    linear = set(_linear_weights(tstate))
    for k, v in tstate.items():
        shape = list(v.shape)[::-1] if k in linear else list(v.shape)
        assert list(own[k].shape) == shape, k
    assert {"conv_first.weight", "patch_embed.norm.weight", "layers.5.residual_group.blocks.5.attn.qkv.weight",
            "layers.0.residual_group.blocks.0.attn.relative_position_bias_table",
            "layers.0.residual_group.blocks.1.attn.relative_position_index", "layers.3.conv.bias", "norm.bias",
            "conv_after_body.weight", "conv_before_upsample.0.weight", "upsample.0.weight", "upsample.2.weight",
            "conv_last.weight"} <= set(own)
    # The official checkpoint's training-size masks equal what the port computes for that size.
    mask = tmodel.layers[0].residual_group.blocks[1].attn_mask.numpy()
    np.testing.assert_array_equal(swinir_mod.calculate_mask(48, 48, 8, 4).numpy(), mask)


@pytest.mark.parametrize("h,w", [(16, 24), (40, 8), (24, 32)])
def test_swinir_mask_matches_official_calculate_mask(h, w):
    block = ref.SwinTransformerBlock(dim=6, input_resolution=(64, 64), num_heads=1, window_size=8, shift_size=4)
    np.testing.assert_array_equal(swinir_mod.calculate_mask(h, w, 8, 4).numpy(), block.calculate_mask((h, w)).numpy())


@pytest.mark.parametrize("scale,upsampler", [(2, "pixelshuffle"), (3, "pixelshuffledirect"), (4, "pixelshuffle")])
def test_swinir_matches_official_with_random_weights(scale, upsampler):
    torch.manual_seed(scale)
    tmodel = _torch_swinir(scale, upsampler, **SMALL_SWINIR).eval()
    with torch.no_grad():  # non-zero biases / LayerNorm affine, so every term is exercised
        for n, p in tmodel.named_parameters():
            if n.endswith("bias") or "norm" in n:
                p.add_(torch.empty_like(p).uniform_(-0.2, 0.2))
    model = models.create("swinir", scale=scale, upsampler=upsampler, **SMALL_SWINIR)
    model.eval()
    state = _swinir_state(tmodel)
    load_torch_state(model, state, transpose=_linear_weights(state))
    # 12x12 pads to 16 = img_size (the official stored mask); 17x23 pads to 24x24 (calculate_mask).
    for size in ((12, 12), (17, 23)):
        x = np.random.default_rng(scale).uniform(0, 1, (2, 3) + size).astype("float32")
        with torch.no_grad():
            expected = ref.swinir_test_pad(tmodel, torch.from_numpy(x), 8, scale).numpy()
        with paddle.no_grad():
            native = model.forward_native(paddle.to_tensor(x)).numpy()
            suite = model(paddle.to_tensor(x * 2 - 1)).numpy()
        assert expected.shape == native.shape == (2, 3, size[0] * scale, size[1] * scale)
        assert np.abs(expected - 0.5).max() > 0.1, "reference output is flat: the comparison would prove nothing"
        assert np.abs(native - expected).max() * 255 < 1e-3
        assert np.abs((suite + 1) / 2 - expected).max() * 255 < 1e-3


def test_swinir_stochastic_depth_and_small_inputs():
    model = models.create("swinir", scale=2, **SMALL_SWINIR)
    rates = [b.drop_path for layer in model.layers for b in layer.residual_group.blocks]
    np.testing.assert_allclose(rates, np.linspace(0, 0.1, 4))  # official default drop_path_rate 0.1
    model.eval()
    x = paddle.to_tensor(np.random.default_rng(0).uniform(-1, 1, (1, 3, 4, 9)).astype("float32"))
    with paddle.no_grad():
        assert model(x).shape == [1, 3, 8, 18]
        with pytest.raises(SRError, match="at least 4x4"):
            model(x[:, :, :3])


def test_swinir_value_range_is_official_0_1():
    assert models.create("swinir_light", scale=2).value_range.numpy().tolist() == [0.0, 1.0]


def test_san_official_names_and_unused_parameters_frozen():
    tmodel = ref.SAN(scale=4)
    model = models.create("san", scale=4)
    own = model.state_dict()
    assert set(own) - {"value_range"} == set(tmodel.state_dict())
    for k, v in tmodel.state_dict().items():
        assert list(own[k].shape) == list(v.shape), k
    frozen = {n for n, p in model.named_parameters() if p.stop_gradient}
    unused = {f"RG.{g}.gamma" for g in range(20)} | {"conv_last.weight", "conv_last.bias"} | {
        f"non_local.soca.conv_du.{i}.{w}" for i in (0, 2) for w in ("weight", "bias")}
    mean_shift = {f"{m}.{w}" for m in ("sub_mean", "add_mean") for w in ("weight", "bias")}
    assert frozen == unused | mean_shift
    w = model.non_local.non_local.W
    assert not w.weight.numpy().any() and not w.bias.numpy().any()  # official zero init: identity block


def test_san_matches_official_with_random_weights():
    torch.manual_seed(0)
    tmodel = ref.SAN(scale=3, **SMALL_SAN).eval()
    with torch.no_grad():  # give the zero-initialised non-local output and share-source gamma a signal
        for n, p in tmodel.named_parameters():
            if "non_local.non_local.W" in n or n == "gamma":
                p.uniform_(-0.5, 0.5)
    model = models.create("san", scale=3, **SMALL_SAN)
    model.eval()
    load_torch_state(model, tmodel)
    x = np.random.default_rng(0).uniform(0, 255, (2, 3, 13, 10)).astype("float32")  # odd: uneven quadrants
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x)).numpy()
    with paddle.no_grad():
        native = model.forward_native(paddle.to_tensor(x)).numpy()
        suite = model(paddle.to_tensor(x / 127.5 - 1)).numpy()
    assert expected.shape == native.shape == (2, 3, 39, 30)
    assert np.abs(expected).max() > 10
    assert np.abs(native - expected).max() < 1e-3
    assert np.abs((suite + 1) * 127.5 - expected).max() < 1e-3


def test_soca_forward_and_gradient_match_official_mpncov():
    """Paddle autograd through the Newton-Schulz iterations equals MPN-COV's hand-written backward."""
    torch.manual_seed(1)
    x = np.random.default_rng(1).normal(size=(2, 16, 7, 5)).astype("float32")
    g = np.random.default_rng(2).normal(size=(2, 16)).astype("float32")
    tx = torch.from_numpy(x).requires_grad_()
    tdesc = ref.Sqrtm.apply(ref.Covpool.apply(tx), 5).mean(1)
    (tdesc * torch.from_numpy(g)).sum().backward()
    px = paddle.to_tensor(x, stop_gradient=False)
    pdesc = san_mod.sqrtm_newton_schulz(san_mod.covariance_pool(px), 5).mean(axis=1)
    (pdesc * paddle.to_tensor(g)).sum().backward()
    np.testing.assert_allclose(pdesc.numpy(), tdesc.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(px.grad.numpy(), tx.grad.numpy(), rtol=1e-3, atol=1e-5)
    assert np.abs(tx.grad.numpy()).max() > 1e-3


def test_soca_crops_large_maps_like_official():
    torch.manual_seed(2)
    tsoca = ref.SOCA(4, reduction=2).eval()
    soca = san_mod.SOCA(4, reduction=2)
    load_torch_state(soca, tsoca)
    x = np.random.default_rng(3).normal(size=(1, 4, 3, 1003)).astype("float32")  # width cropped to 1000
    x[:, :2, :, 0] = 300.0  # outliers the crop [1, 1001) leaves out: pooling them would change the gate
    x[:, 2:, :, 1001:] = -300.0
    with torch.no_grad():
        expected = tsoca(torch.from_numpy(x)).numpy()
    with paddle.no_grad():
        got = soca(paddle.to_tensor(x)).numpy()
        centre = soca(paddle.to_tensor(x[..., 1:1001])).numpy()  # the window the official code pools
        left = soca(paddle.to_tensor(x[..., :1000])).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[..., 1:1001], centre, rtol=1e-5, atol=1e-6)
    assert np.abs(left - got[..., :1000]).max() > 1e-4  # another window gives another gate: the test can tell
