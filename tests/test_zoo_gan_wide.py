"""ESRGAN, WDSR-A/B and LapSRN against their official definitions (tests/reference/esrgan_wdsr_lapsrn_torch.py).

Key sets and shapes as the official state dicts; parameter counts as the official code / README;
parity: random official-layout weights copied into the Paddle port, same input on the native range
-> outputs agree to 1e-3 on the 0-255 scale. Reduced depths (ESRGAN 2 RRDBs) keep CPU time small;
WDSR and LapSRN run at full size.
"""
import numpy as np
import paddle
import pytest

torch = pytest.importorskip("torch", reason="torch is the test-only reference for the parity tests")

from paddle_sr import models  # noqa: E402
from paddle_sr.image.imresize import imresize  # noqa: E402
from paddle_sr.models.esrgan import VGGStyleDiscriminator  # noqa: E402
from paddle_sr.models.lapsrn import bilinear_kernel  # noqa: E402
from tests.reference import load_torch_state  # noqa: E402
from tests.reference import esrgan_wdsr_lapsrn_torch as ref  # noqa: E402

TOL = 1e-3  # max abs difference on the 0-255 scale


def _shapes(state):
    return {k: tuple(v.shape) for k, v in state.items()}


def _paddle_shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if k != "value_range"}


def _run(torch_model, paddle_model, x):
    torch_model.eval()
    paddle_model.eval()
    with torch.no_grad():
        want = torch_model(torch.from_numpy(x))
    with paddle.no_grad():
        got = paddle_model.forward_native(paddle.to_tensor(x)).numpy()
    return got, want.numpy() if isinstance(want, torch.Tensor) else want


# ---- ESRGAN ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale,count", [(4, 16_697_987), (2, 16_703_171)])
def test_esrgan_full_size_keys_and_count(scale, count):
    with torch.device("meta"):  # shapes only: skips PyTorch's 16.7M-parameter initialisation
        official = ref.RRDBNet(3, 3, scale=scale)
    model = models.create("esrgan", scale=scale)
    assert _paddle_shapes(model) == _shapes(official.state_dict())
    assert models.count_parameters(model) == sum(p.numel() for p in official.parameters()) == count
    assert {"conv_first.weight", "body.22.rdb3.conv5.bias", "conv_body.weight", "conv_up1.weight",
            "conv_up2.bias", "conv_hr.weight", "conv_last.bias"} <= set(model.state_dict())
    assert model.value_range.numpy().tolist() == [0.0, 1.0]  # official weights work on [0, 1]


@pytest.mark.parametrize("scale", [4, 2])
def test_esrgan_parity(scale):
    torch.manual_seed(scale)
    official = ref.RRDBNet(3, 3, scale=scale, num_block=2)
    with torch.no_grad():  # BasicSR's init leaves dense blocks and output nearly silent; make them count
        for name, p in official.named_parameters():
            if (".rdb" in name or name.startswith("conv_last")) and name.endswith("weight"):
                p.mul_(10.0)
    model = load_torch_state(models.create("esrgan", scale=scale, num_block=2), official)
    x = np.random.default_rng(scale).uniform(0, 1, (2, 3, 10, 14)).astype("float32")
    got, want = _run(official, model, x)
    assert got.shape == want.shape == (2, 3, 10 * scale, 14 * scale)
    assert np.abs(want).max() > 0.1 and np.abs(got - want).max() * 255 < TOL
    # The suite entry point: [-1, 1] in and out, through the (0, 1) value range.
    with paddle.no_grad():
        suite = model(paddle.to_tensor(x * 2 - 1)).numpy()
    assert np.abs((suite + 1) / 2 - want).max() * 255 < TOL


def test_esrgan_x2_odd_input_is_reflect_padded_then_cropped():
    """BasicSR's x2 network needs even sides; Real-ESRGAN pads odd ones (reflect) and crops the output."""
    torch.manual_seed(7)
    official = ref.RRDBNet(3, 3, scale=2, num_block=1)
    model = load_torch_state(models.create("esrgan", scale=2, num_block=1), official)
    x = np.random.default_rng(7).uniform(0, 1, (1, 3, 9, 12)).astype("float32")
    padded = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 0)), mode="reflect")
    with torch.no_grad():
        want = official(torch.from_numpy(padded)).numpy()[:, :, :18, :24]
    with paddle.no_grad():
        got = model.forward_native(paddle.to_tensor(x)).numpy()
    assert got.shape == (1, 3, 18, 24)
    assert np.abs(got - want).max() * 255 < TOL


def test_esrgan_init_as_basicsr():
    """Dense-block convs: kaiming-normal x 0.1, zero bias; the rest PyTorch's default uniform."""
    paddle.seed(0)
    model = models.create("esrgan", scale=4, num_block=3)
    conv = model.body[1].rdb2.conv5  # fan_in 192 * 9
    std = float(conv.weight.numpy().std())
    assert abs(std / (0.1 * np.sqrt(2 / (192 * 9))) - 1) < 0.05
    assert not conv.bias.numpy().any()
    bound = 1 / np.sqrt(64 * 9)
    w = model.conv_body.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound and model.conv_body.bias.numpy().any()


def _torch_disc_state_for_paddle(official):
    """BasicSR discriminator state -> this port's: BN running stats renamed, Linear weights transposed."""
    out = {}
    for k, v in official.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        a = v.detach().numpy()
        k = k.replace("running_mean", "_mean").replace("running_var", "_variance")
        out[k] = np.ascontiguousarray(a.T) if k.startswith("linear") and k.endswith("weight") else a
    return out


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_vgg_style_discriminator_parity(train):
    torch.manual_seed(3)
    official = ref.VGGStyleDiscriminator(3, 64, input_size=128)
    with torch.no_grad():  # non-trivial BN statistics and affine parameters
        for m in official.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    disc = VGGStyleDiscriminator(3, 64, input_size=128)
    state = _torch_disc_state_for_paddle(official)
    assert _shapes(state) == {k: tuple(v.shape) for k, v in disc.state_dict().items()}
    disc.set_state_dict(state)
    official.train(train)
    disc.train() if train else disc.eval()
    x = np.random.default_rng(3).uniform(0, 1, (2, 3, 128, 128)).astype("float32")
    with torch.no_grad():
        want = official(torch.from_numpy(x)).numpy()
    with paddle.no_grad():
        got = disc(paddle.to_tensor(x)).numpy()
    assert got.shape == (2, 1) and np.abs(want).max() > 1e-3
    assert np.abs(got - want).max() < 1e-4
    if train:  # batch statistics updated as PyTorch does (momentum 0.1 there = 0.9 here)
        np.testing.assert_allclose(disc.bn2_1._mean.numpy(), official.bn2_1.running_mean.numpy(), atol=1e-5)


def test_vgg_style_discriminator_rejects_other_patch_sizes():
    from paddle_sr.core.errors import SRError

    with pytest.raises(SRError, match="128"):
        VGGStyleDiscriminator(input_size=96)
    with pytest.raises(SRError, match="96x96"):
        VGGStyleDiscriminator(num_feat=8)(paddle.zeros([1, 3, 96, 96]))


# ---- WDSR -----------------------------------------------------------------------------------------
def _perturb_weight_norm(official, seed):
    """Official init has g = ||v|| (weight = v); random g makes the normalisation itself matter."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in official.named_parameters():
            if name.endswith("weight_g"):
                p.mul_(torch.empty(p.shape).uniform_(0.5, 1.5, generator=gen))


@pytest.mark.parametrize("name,variant", [("wdsr_a", "A"), ("wdsr_b", "B")])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_wdsr_keys_shapes_and_counts(name, variant, scale):
    official = ref.make_wdsr(variant, scale)
    model = models.create(name, scale=scale)
    assert _paddle_shapes(model) == _shapes(official.state_dict())
    assert models.count_parameters(model) == sum(p.numel() for p in official.parameters())
    assert model.state_dict()["head.0.weight_g"].shape == [32, 1, 1, 1]  # PyTorch's, not Paddle's [32]
    assert "rgb_mean" not in model.state_dict()  # a plain tensor in the official code
    if (name, scale) == ("wdsr_a", 2):
        assert models.count_parameters(model) == 1_190_100  # official README, "WDSR Baseline"


@pytest.mark.parametrize("name,variant,scale,res_scale", [("wdsr_a", "A", 2, 1.0), ("wdsr_b", "B", 3, 1.0),
                                                          ("wdsr_a", "A", 4, 0.1), ("wdsr_b", "B", 4, 0.1)])
def test_wdsr_full_size_parity(name, variant, scale, res_scale):
    torch.manual_seed(scale)
    official = ref.make_wdsr(variant, scale, res_scale=res_scale)
    _perturb_weight_norm(official, scale)
    model = load_torch_state(models.create(name, scale=scale, res_scale=res_scale), official)
    x = np.random.default_rng(scale).uniform(0, 255, (2, 3, 9, 11)).astype("float32")
    got, want = _run(official, model, x)
    assert got.shape == want.shape == (2, 3, 9 * scale, 11 * scale)
    assert np.abs(want - 127.5).max() > 50 and np.abs(got - want).max() < TOL


def test_wdsr_weight_is_g_times_unit_v():
    conv = models.create("wdsr_b", scale=2).body[0].body[2]
    v, g = conv.weight_v.numpy(), conv.weight_g.numpy()
    np.testing.assert_allclose(g.ravel(), np.sqrt((v ** 2).sum(axis=(1, 2, 3))), rtol=1e-5)  # init g = ||v||
    conv.weight_g.set_value(paddle.full(conv.weight_g.shape, 2.0))
    w = conv.weight.numpy()
    np.testing.assert_allclose(np.sqrt((w ** 2).sum(axis=(1, 2, 3))), 2.0, rtol=1e-5)


# ---- LapSRN ---------------------------------------------------------------------------------------
# Depth per level of the released files: 10 in LapSRN_x2/x4.mat, 5 in LapSRN_x8.mat (the default follows them).
@pytest.mark.parametrize("scale,depth,count", [(2, 10, 407_441), (4, 10, 814_242), (8, 5, 667_123)])
def test_lapsrn_keys_and_counts(scale, depth, count):
    official = ref.LapSRNMatConvNet(scale, depth=depth)
    model = models.create("lapsrn", scale=scale)
    assert _paddle_shapes(model) == _shapes(official.state_dict())
    assert models.count_parameters(model) == sum(p.numel() for p in official.parameters()) == count
    top = {2: 1, 4: 2, 8: 3}[scale]
    assert {"input_conv.weight", f"level{top}_conv1.weight", f"level1_conv{depth}.bias", "level1_upconv.weight",
            "level1_residual_conv.bias", f"level{top}_img_up.weight"} <= set(model.state_dict())


def test_lapsrn_init_as_official():
    paddle.seed(0)
    model = models.create("lapsrn", scale=4)
    np.testing.assert_allclose(model.level2_img_up.weight.numpy()[0, 0], bilinear_kernel(4), atol=0)
    np.testing.assert_allclose(bilinear_kernel(4)[0], [0.0625, 0.1875, 0.1875, 0.0625])
    assert abs(float(model.input_conv.weight.numpy().std()) / 1e-3 - 1) < 0.2  # init_sigma
    assert abs(float(model.level1_conv5.weight.numpy().std()) / np.sqrt(2 / 576) - 1) < 0.05
    assert not model.level1_upconv.bias.numpy().any()


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_lapsrn_full_size_parity_every_level(scale):
    torch.manual_seed(scale)
    official = ref.LapSRNMatConvNet(scale, depth=5 if scale == 8 else 10)
    with torch.no_grad():  # non-zero biases so they are checked too
        for name, p in official.named_parameters():
            if name.endswith("bias"):
                p.uniform_(-0.05, 0.05)
    model = load_torch_state(models.create("lapsrn", scale=scale), official)
    model.eval()
    y = np.random.default_rng(scale).uniform(0, 1, (2, 1, 7, 9)).astype("float32")
    with torch.no_grad():
        want = [o.numpy() for o in official(torch.from_numpy(y))]
    with paddle.no_grad():
        levels = model.forward_levels(paddle.to_tensor(y * 2 - 1))  # suite range, 1 channel = Y
        final = model.forward_native(paddle.to_tensor(y)).numpy()
    assert len(levels) == len(want) == {2: 1, 4: 2, 8: 3}[scale]
    for k, (got, w) in enumerate(zip(levels, want), 1):
        assert tuple(got.shape) == w.shape == (2, 1, 7 * 2 ** k, 9 * 2 ** k)
        assert np.abs((got.numpy() + 1) / 2 - w).max() * 255 < TOL
    assert np.abs(final - want[-1]).max() * 255 < TOL
    assert np.abs(want[-1] - imresize(y[0, 0].astype(np.float64), scale)).max() > 0.01  # residuals matter


def _rgb2ycbcr(rgb):  # MATLAB rgb2ycbcr on [0, 1], HxWx3 float64
    m = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]])
    return (rgb @ m.T + [16, 128, 128]) / 255.0


def _ycbcr2rgb(ycc):
    m = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]]) / 255.0
    return (ycc - np.array([16, 128, 128]) / 255.0) @ np.linalg.inv(m).T


def test_lapsrn_rgb_input_runs_on_y_with_bicubic_chroma():
    """SR_LapSRN.m: Y of YCbCr through the network, Cb/Cr by MATLAB bicubic, back to RGB."""
    torch.manual_seed(0)
    official = ref.LapSRNMatConvNet(4, depth=2)
    model = load_torch_state(models.create("lapsrn", scale=4, depth=2), official)
    model.eval()
    rgb = np.random.default_rng(0).uniform(0, 1, (8, 10, 3))
    ycc = _rgb2ycbcr(rgb)
    with torch.no_grad():
        outs = official(torch.from_numpy(ycc[None, None, :, :, 0].astype("float32")))
    want = []
    for k, y in enumerate(outs, 1):
        chroma = imresize(ycc[:, :, 1:], 2 ** k)
        want.append(_ycbcr2rgb(np.concatenate([y.numpy()[0, 0][:, :, None], chroma], axis=2)))
    x = paddle.to_tensor(rgb.transpose(2, 0, 1)[None].astype("float32") * 2 - 1)
    with paddle.no_grad():
        levels = model.forward_levels(x)
        final = model(x).numpy()
    for got, w in zip(levels, want):
        assert np.abs((got.numpy()[0].transpose(1, 2, 0) + 1) / 2 - w).max() * 255 < TOL
    assert np.abs((final[0].transpose(1, 2, 0) + 1) / 2 - want[-1]).max() * 255 < TOL


def test_lapsrn_rgb_variant_has_three_channel_layers():
    model = models.create("lapsrn", scale=2, n_colors=3, depth=1)
    assert model.input_conv.weight.shape == [64, 3, 3, 3] and model.level1_img_up.weight.shape == [3, 3, 4, 4]
    w = model.level1_img_up.weight.numpy()
    assert not w[0, 1].any() and np.array_equal(w[1, 1], bilinear_kernel(4).astype("float32"))
    with paddle.no_grad():
        assert model(paddle.zeros([1, 3, 6, 6])).shape == [1, 3, 12, 12]
