"""Classic zoo (SRCNN, ESPCN, VDSR, DRCN, DRRN) and their shared helpers (MATLAB bicubic layer,
BT.601 YCbCr): official names and counts, and parity with re-typed PyTorch references
(tests/reference/classic_torch.py) plus a numpy MATLAB pipeline for the RGB-in/RGB-out wrapper."""
import numpy as np
import paddle
import pytest

from paddle_sr import models
from paddle_sr.image.imresize import imresize
from paddle_sr.image.metrics import rgb_to_y
from paddle_sr.models.common import MatlabBicubicUpsample, rgb_to_ycbcr, ycbcr_to_rgb

torch = pytest.importorskip("torch")
from tests.reference import classic_torch as ref  # noqa: E402

TOL = 1e-3  # max abs difference on the 0-255 scale
M = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]]) / 255.0
OFFSET = np.array([16.0, 128.0, 128.0]) / 255.0


def _np_upsample(x, scale):
    """NCHW float -> MATLAB imresize of every channel (float64)."""
    return np.stack([imresize(im.transpose(1, 2, 0).astype(np.float64), scale).reshape(
        im.shape[1] * scale, im.shape[2] * scale, -1).transpose(2, 0, 1) for im in x])


def _np_rgb_to_ycbcr(rgb):  # NCHW on [0, 1], MATLAB rgb2ycbcr for double input
    return np.einsum("ij,njhw->nihw", M, rgb) + OFFSET.reshape(1, 3, 1, 1)


def _np_ycbcr_to_rgb(ycc):
    return np.einsum("ij,njhw->nihw", np.linalg.inv(M), ycc - OFFSET.reshape(1, 3, 1, 1))


def _rand(shape, seed=0, lo=0.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype("float32")


# ------------------------------------------------------------------------------------------ helpers
@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("shape", [(2, 3, 7, 11), (1, 1, 2, 2), (1, 2, 5, 3)])
def test_matlab_bicubic_upsample_equals_imresize(scale, shape):
    x = _rand(shape, seed=scale)
    got = MatlabBicubicUpsample(scale)(paddle.to_tensor(x)).numpy()
    np.testing.assert_allclose(got, _np_upsample(x, scale), atol=1e-5, rtol=0)


def test_matlab_bicubic_differs_from_paddle_bicubic():
    """The reason the layer exists: Paddle's bicubic (a = -0.75) is not MATLAB's."""
    x = paddle.to_tensor(_rand((1, 1, 8, 8), seed=3))
    ours = MatlabBicubicUpsample(2)(x).numpy()
    theirs = paddle.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False).numpy()
    assert np.abs(ours - theirs).max() > 1e-3


def test_matlab_bicubic_upsample_is_differentiable_and_stateless():
    layer = MatlabBicubicUpsample(3)
    assert len(layer.state_dict()) == 0  # the kernel is a non-persistable buffer
    x = paddle.to_tensor(_rand((1, 1, 9, 9)), stop_gradient=False)
    layer(x).sum().backward()
    # Every output row's weights sum to 1 and each input feeds 3x3 outputs' worth of weight in
    # the interior, so d(sum)/dx = scale^2 away from the mirrored border.
    np.testing.assert_allclose(x.grad.numpy()[0, 0, 3:6, 3:6], 9.0, atol=1e-5)
    with pytest.raises(ValueError):
        MatlabBicubicUpsample(2.5)


def test_rgb_to_ycbcr_is_matlab_bt601():
    rgb = _rand((2, 3, 4, 5), seed=1)
    ycc = rgb_to_ycbcr(paddle.to_tensor(rgb)).numpy()
    np.testing.assert_allclose(ycc, _np_rgb_to_ycbcr(rgb), atol=1e-6)
    # The metric's Y (0-255 scale, image HWC) is the same formula.
    ycc255 = rgb_to_ycbcr(paddle.to_tensor(rgb * 255), (0, 255)).numpy()
    np.testing.assert_allclose(ycc255[:, 0], rgb_to_y(rgb.transpose(0, 2, 3, 1).astype(np.float64) * 255), atol=1e-4)
    # Known points: black and white map to the studio-swing limits 16 and 235, chroma 128.
    ends = rgb_to_ycbcr(paddle.to_tensor(np.array([0.0, 1.0], "float32").reshape(2, 1, 1, 1).repeat(3, 1))).numpy()
    np.testing.assert_allclose(ends.reshape(2, 3) * 255, [[16, 128, 128], [235, 128, 128]], atol=1e-3)
    # On the suite's [-1, 1] the conversion is the same map, expressed on that range.
    suite = rgb_to_ycbcr(paddle.to_tensor(rgb * 2 - 1), (-1.0, 1.0)).numpy()
    np.testing.assert_allclose(suite, ycc * 2 - 1, atol=1e-6)
    back = ycbcr_to_rgb(paddle.to_tensor(ycc)).numpy()
    np.testing.assert_allclose(back, rgb, atol=1e-5)


# ----------------------------------------------------------------------------- names and counts
def _torch_keys(module):
    """Torch state-dict keys as Paddle names them (BN running stats are _mean/_variance)."""
    out = {}
    for k, v in module.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        k = k.replace("running_mean", "_mean").replace("running_var", "_variance")
        out[k] = tuple(v.shape)
    return out


def _paddle_keys(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if k != "value_range"}


# (name, create kwargs, torch reference factory, {scale: official parameter count}, paper's weight count)
COUNTS = [
    ("srcnn", {}, lambda s: ref.SRCNN(), {2: 57_281, 3: 57_281, 4: 57_281}, 57_184),
    ("espcn", {}, lambda s: ref.ESPCN(s), {2: 21_284, 3: 22_729, 4: 24_752}, None),
    ("vdsr", {}, lambda s: ref.VDSR(), {2: 664_704, 3: 664_704, 4: 664_704}, 664_704),
    ("drcn", {}, lambda s: ref.DRCN(), {2: 1_775_121}, 1_774_080),
    ("drrn", {}, lambda s: ref.DRRNCaffe(), {4: 310_659}, 297_216),
    ("drrn", dict(variant="pytorch"), lambda s: ref.DRRNPort(), {4: 297_216}, 297_216),
]


@pytest.mark.parametrize("name,kwargs,factory,counts,paper", COUNTS,
                         ids=[f"{c[0]}{'-port' if c[1] else ''}" for c in COUNTS])
def test_names_shapes_and_counts_match_official(name, kwargs, factory, counts, paper):
    for scale, count in counts.items():
        model = models.create(name, scale=scale, **kwargs)
        assert _paddle_keys(model) == _torch_keys(factory(scale))
        assert models.count_parameters(model) == count
        if paper is not None:  # the papers count convolution weights only
            conv_weights = sum(int(l.weight.numel()) for l in model.sublayers() if isinstance(l, paddle.nn.Conv2D))
            assert conv_weights == paper


# ---------------------------------------------------------------------------------------- parity
def _copy(tmodel, model, randomize_bias=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in tmodel.named_parameters():
            if randomize_bias and n.endswith("bias"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.2 - 0.1)
        for m in tmodel.modules():  # BN: non-trivial statistics and affine so eval mode is tested
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=gen) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
    state = {k.replace("running_mean", "_mean").replace("running_var", "_variance"): v.detach().numpy()
             for k, v in tmodel.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert set(state) == set(model.state_dict()) - {"value_range"}
    model.set_state_dict(state)
    tmodel.eval()
    model.eval()


PARITY = [  # reduced depth/width where the full model is slow on CPU; structure is unchanged
    ("srcnn", {}, lambda s: ref.SRCNN(), 3),
    ("srcnn", dict(padding_mode="replicate"), lambda s: ref.SRCNN(padding_mode="replicate"), 2),
    ("espcn", {}, lambda s: ref.ESPCN(s), 4),
    ("vdsr", {}, lambda s: ref.VDSR(), 2),
    ("drrn", dict(num_units=3, num_features=16), lambda s: ref.DRRNCaffe(units=3, channels=16), 4),
    ("drrn", dict(num_units=3, num_features=16, variant="pytorch"),
     lambda s: ref.DRRNPort(units=3, channels=16), 3),
]


@pytest.mark.parametrize("name,kwargs,factory,scale", PARITY, ids=[f"{p[0]}-x{p[3]}-{i}" for i, p in enumerate(PARITY)])
def test_network_matches_reference(name, kwargs, factory, scale):
    """``forward_y`` (the official network on its native Y input) equals the PyTorch reference."""
    torch.manual_seed(scale)
    tmodel = factory(scale)
    model = models.create(name, scale=scale, **kwargs)
    _copy(tmodel, model, seed=scale)
    lr_side = 6 if name != "espcn" else 9
    y = _rand((2, 1, lr_side * scale, lr_side * scale), seed=scale) if name != "espcn" \
        else _rand((2, 1, lr_side, lr_side), seed=scale)
    with torch.no_grad():
        want = tmodel(torch.from_numpy(y)).numpy()
    with paddle.no_grad():
        got = model.forward_y(paddle.to_tensor(y)).numpy()
    assert got.shape == want.shape
    assert np.abs(want).max() > 0.05  # not a degenerate comparison
    assert np.abs(got - want).max() * 255 < TOL


@pytest.mark.parametrize("name,kwargs,factory,scale", [PARITY[0], PARITY[2], PARITY[4]],
                         ids=["srcnn-x3", "espcn-x4", "drrn-x4"])
def test_rgb_wrapper_matches_matlab_pipeline(name, kwargs, factory, scale):
    """Suite RGB LR in [-1, 1] -> the papers' test pipeline: rgb2ycbcr, MATLAB bicubic (Y for the
    pre-upsampling models, Cb/Cr always), network on Y, ycbcr2rgb — numpy + the torch reference."""
    torch.manual_seed(scale)
    tmodel = factory(scale)
    model = models.create(name, scale=scale, **kwargs)
    _copy(tmodel, model, seed=scale)
    lr01 = _rand((2, 3, 7, 6), seed=10 + scale)
    ycc = _np_rgb_to_ycbcr(lr01.astype(np.float64))
    y_in = ycc[:, :1] if name == "espcn" else _np_upsample(ycc[:, :1], scale)
    with torch.no_grad():
        y_sr = tmodel(torch.from_numpy(y_in.astype("float32"))).numpy()
    want = _np_ycbcr_to_rgb(np.concatenate([y_sr, _np_upsample(ycc[:, 1:], scale)], axis=1))
    with paddle.no_grad():
        got = model(paddle.to_tensor(lr01 * 2 - 1)).numpy()
        y_only = model.forward_native(paddle.to_tensor(ycc[:, :1].astype("float32"))).numpy()
    np.testing.assert_array_less(np.abs((got + 1) / 2 - want) * 255, TOL)
    np.testing.assert_array_less(np.abs(y_only - y_sr) * 255, TOL)  # a 1-channel input is Y


def test_drcn_ensemble_and_intermediates_match_reference():
    torch.manual_seed(0)
    tmodel = ref.DRCN(recursions=4, features=16)
    with torch.no_grad():  # unequal ensemble weights, so the weighting itself is tested
        tmodel.layer_weight.copy_(torch.tensor([0.1, 0.4, -0.2, 0.9]))
    model = models.create("drcn", scale=2, num_recursions=4, num_features=16)
    _copy(tmodel, model)
    lr01 = _rand((2, 3, 6, 7), seed=5)
    ycc = _np_rgb_to_ycbcr(lr01.astype(np.float64))
    with torch.no_grad():
        y_out, y_preds = tmodel(torch.from_numpy(_np_upsample(ycc[:, :1], 2).astype("float32")))
    cbcr = _np_upsample(ycc[:, 1:], 2)
    to_suite = lambda y: _np_ycbcr_to_rgb(np.concatenate([y.numpy(), cbcr], axis=1)) * 2 - 1  # noqa: E731
    with paddle.no_grad():
        x = paddle.to_tensor(lr01 * 2 - 1)
        out, preds = model.forward_all(x)
        plain = model(x).numpy()
    assert len(preds) == 4
    np.testing.assert_array_less(np.abs(out.numpy() - to_suite(y_out)) * 127.5, TOL)
    for got, want in zip(preds, y_preds):
        np.testing.assert_array_less(np.abs(got.numpy() - to_suite(want)) * 127.5, TOL)
    np.testing.assert_allclose(plain, out.numpy(), atol=1e-6)  # forward returns the ensemble
    # The intermediates differ (recursion changes the prediction) and the ensemble is their weighted sum.
    assert np.abs(preds[0].numpy() - preds[-1].numpy()).max() > 1e-3
    weights = [0.1, 0.4, -0.2, 0.9]
    with paddle.no_grad():
        y_all, y_list = model.forward_y_all(paddle.to_tensor(_np_upsample(ycc[:, :1], 2).astype("float32")))
    np.testing.assert_allclose(y_all.numpy(), sum(w * p.numpy() for w, p in zip(weights, y_list)), atol=1e-5)


def test_drcn_initialisation_is_the_papers():
    """Recursive conv starts as the identity (Sec. 4.2), ensemble weights at 1/D, zero biases."""
    model = models.create("drcn", scale=2, num_recursions=4, num_features=8)
    w = model.inference_net[0].weight.numpy()
    expected = np.zeros_like(w)
    expected[np.arange(8), np.arange(8), 1, 1] = 1.0
    np.testing.assert_array_equal(w, expected)
    np.testing.assert_allclose(model.layer_weight.numpy(), 0.25)
    assert all(float(l.bias.abs().sum()) == 0 for l in model.sublayers() if isinstance(l, paddle.nn.Conv2D))
