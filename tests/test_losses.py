"""Losses against values computed by hand."""
import math

import numpy as np
import paddle
import pytest

from paddle_sr.training import losses
from paddle_sr.core.errors import SRError


def t(x):
    return paddle.to_tensor(np.asarray(x, dtype="float32"))


def test_pixel_losses_known_values():
    sr, hr = t([[1.0, -2.0], [0.5, 0.0]]), t([[0.0, 0.0], [0.0, 0.0]])
    assert float(losses.l1_loss(sr, hr)) == pytest.approx((1 + 2 + 0.5) / 4)
    assert float(losses.mse_loss(sr, hr)) == pytest.approx((1 + 4 + 0.25) / 4)
    eps = 1e-3
    want = np.mean([math.sqrt(v * v + eps * eps) for v in (1, -2, 0.5, 0)])
    assert float(losses.charbonnier_loss(sr, hr, eps=eps)) == pytest.approx(want, rel=1e-6)
    assert float(losses.charbonnier_loss(hr, hr, eps=eps)) == pytest.approx(eps, rel=1e-5)
    assert losses.pixel_loss("mse") is losses.mse_loss
    with pytest.raises(SRError, match="l1, mse, charbonnier"):
        losses.pixel_loss("l3")


class Double(paddle.nn.Layer):
    """A stand-in feature extractor with one (trainable-looking) parameter: phi(x) = w * x, w = 2."""

    def __init__(self):
        super().__init__()
        self.w = self.create_parameter([1], default_initializer=paddle.nn.initializer.Constant(2.0))

    def forward(self, x):
        return x * self.w


def test_perceptual_loss_scales_features_and_freezes_extractor():
    loss = losses.PerceptualLoss(Double(), feature_scale=0.5)
    assert loss.extractor.w.stop_gradient  # frozen by the loss
    sr = t(np.full((1, 3, 2, 2), 1.0))
    sr.stop_gradient = False
    hr = t(np.zeros((1, 3, 2, 2)))
    value = loss(sr, hr)
    # features 2*sr and 0, both times 0.5 -> MSE of 1.0 - 0 = 1
    assert float(value) == pytest.approx(1.0)
    value.backward()
    assert sr.grad is not None and np.allclose(sr.grad.numpy(), 2 * 1.0 * 0.5 * 2 / 12)


def test_perceptual_loss_with_vgg19_random_weights():
    from paddle_sr.models.vgg import VGG19FeatureExtractor

    paddle.seed(0)
    loss = losses.PerceptualLoss(VGG19FeatureExtractor("conv2_2", allow_random=True), 1 / 12.75)
    x = t(np.random.default_rng(0).uniform(-1, 1, (1, 3, 16, 16)))
    assert float(loss(x, x)) == 0.0
    assert float(loss(x, x * 0.5)) > 0.0


def test_bce_adversarial_losses_known_values():
    zero = t([[0.0], [0.0]])
    assert float(losses.generator_adversarial_loss("bce", zero)) == pytest.approx(math.log(2))
    assert float(losses.generator_adversarial_loss("bce", t([[2.0]]))) == pytest.approx(math.log(1 + math.exp(-2)))
    # D: real logit 2 (wants 1), fake logit -1 (wants 0): mean of the two cross-entropies
    want = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))) / 2
    assert float(losses.discriminator_loss("bce", t([[2.0]]), t([[-1.0]]))) == pytest.approx(want, rel=1e-6)
    # the notebook's sigmoid form gives the same value (up to its 1e-8)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    notebook = (-math.log(sig(2.0) + 1e-8) - math.log(1 - sig(-1.0) + 1e-8)) / 2
    assert want == pytest.approx(notebook, abs=1e-6)


def test_relativistic_losses_known_values():
    real, fake = t([[1.0], [3.0]]), t([[0.0], [2.0]])  # mean real 2, mean fake 1
    softplus = lambda v: math.log(1 + math.exp(v))  # noqa: E731  BCE(logit v, 0) = softplus(v); (v, 1) = softplus(-v)
    rr = [1.0 - 1, 3.0 - 1]   # C(real) - mean C(fake)
    fr = [0.0 - 2, 2.0 - 2]   # C(fake) - mean C(real)
    d_want = (np.mean([softplus(-v) for v in rr]) + np.mean([softplus(v) for v in fr])) / 2
    g_want = (np.mean([softplus(v) for v in rr]) + np.mean([softplus(-v) for v in fr])) / 2
    assert float(losses.discriminator_loss("ragan", real, fake)) == pytest.approx(d_want, rel=1e-6)
    assert float(losses.generator_adversarial_loss("ragan", fake, real)) == pytest.approx(g_want, rel=1e-6)
    with pytest.raises(SRError, match="gan_type"):
        losses.discriminator_loss("wgan", real, fake)


def test_contrastive_ratio_of_l1_distances():
    loss = losses.ContrastiveLoss()
    loss.extractor = paddle.nn.Identity()  # check the formula on raw pixels
    sr = t(np.zeros((1, 3, 8, 8)))
    hr = t(np.full((1, 3, 8, 8), 0.5))
    lr = t(np.full((1, 3, 4, 4), -0.25))  # bicubic of a constant stays constant
    assert float(loss(sr, hr, lr)) == pytest.approx(0.5 / 0.25, rel=1e-5)


def test_contrastive_extractor_is_fixed_random_conv_tanh_conv():
    a, b = losses.ShallowFeatureExtractor(seed=0), losses.ShallowFeatureExtractor(seed=0)
    c = losses.ShallowFeatureExtractor(seed=1)
    assert [type(m).__name__ for m in a.children()] == ["Conv2D", "Tanh", "Conv2D"]
    assert a.conv1.weight.shape == [64, 3, 3, 3] and a.conv2.weight.shape == [64, 64, 3, 3]
    assert all(p.stop_gradient for p in a.parameters())
    assert np.array_equal(a.conv1.weight.numpy(), b.conv1.weight.numpy())
    assert not np.array_equal(a.conv1.weight.numpy(), c.conv1.weight.numpy())
    bound = 1 / math.sqrt(3 * 9)
    assert np.abs(a.conv1.weight.numpy()).max() <= bound

    loss = losses.ContrastiveLoss()
    rng = np.random.default_rng(0)
    hr = t(rng.uniform(-1, 1, (2, 3, 16, 16)))
    lr = t(rng.uniform(-1, 1, (2, 3, 8, 8)))
    assert float(loss(hr, hr, lr)) == 0.0  # SR equal to HR: zero distance to the positive
    sr = t(rng.uniform(-1, 1, (2, 3, 16, 16)))
    sr.stop_gradient = False
    value = loss(sr, hr, lr)
    value.backward()
    assert float(value) > 0 and sr.grad is not None and float(paddle.abs(sr.grad).sum()) > 0
    assert all(p.grad is None for p in loss.extractor.parameters())


# ---- recipe options and multi-output supervision (the zoo, issue 8) ----------------------------------
def _ycbcr(x):
    from paddle_sr.models.common import rgb_to_ycbcr
    return rgb_to_ycbcr(x, (-1.0, 1.0))


def test_y_loss_ignores_chroma_and_sees_luma():
    from paddle_sr.models.common import ycbcr_to_rgb

    rng = np.random.default_rng(0)
    hr = t(rng.uniform(-0.5, 0.5, (2, 3, 6, 6)))
    ycc = _ycbcr(hr)
    chroma_only = ycbcr_to_rgb(paddle.concat([ycc[:, :1], ycc[:, 1:] + 0.2], axis=1), (-1.0, 1.0))
    luma_only = ycbcr_to_rgb(paddle.concat([ycc[:, :1] + 0.1, ycc[:, 1:]], axis=1), (-1.0, 1.0))
    y_l1 = losses.make_pixel_loss("l1", y_only=True)
    rgb_l1 = losses.make_pixel_loss("l1")
    assert float(rgb_l1(chroma_only, hr)) > 0.05  # the RGB loss sees the chroma change ...
    assert float(y_l1(chroma_only, hr)) < 1e-5     # ... the Y loss does not
    assert float(y_l1(luma_only, hr)) == pytest.approx(0.1, rel=1e-4)
    # Y as the metric computes it: 16 + (65.481 R + 128.553 G + 24.966 B) / 255 on 0-255
    rgb01 = (hr.numpy() + 1) / 2
    y255 = 16 + (65.481 * rgb01[:, 0] + 128.553 * rgb01[:, 1] + 24.966 * rgb01[:, 2])
    assert np.allclose((losses.luma(hr).numpy()[:, 0] + 1) / 2 * 255, y255, atol=1e-3)
    one = t(rng.uniform(-1, 1, (1, 1, 4, 4)))
    assert losses.luma(one) is one  # a 1-channel image is already Y


def test_sum_reduction_is_caffes_euclidean_loss_on_unit_range():
    sr, hr = t(np.full((2, 1, 3, 4), 0.2)), t(np.zeros((2, 1, 3, 4)))
    # [0, 1]: difference 0.1; Caffe EuclideanLoss = sum over the batch / (2N) = 12 pixels * 0.01 / 2 per sample
    unit = dict(reduction="sum", value_range="0,1")
    assert float(losses.make_pixel_loss("euclidean", **unit)(sr, hr)) == pytest.approx(12 * 0.01 / 2)
    assert float(losses.make_pixel_loss("euclidean")(sr, hr)) == pytest.approx(0.04 / 2)  # suite range, mean
    # LapSRN's Charbonnier: sum of sqrt(d^2 + 1e-6) over a sample's pixels
    assert float(losses.make_pixel_loss("charbonnier", **unit)(sr, hr)) == pytest.approx(
        12 * math.sqrt(0.01 + 1e-6), rel=1e-5)
    # 'total': summed over the batch too, torch MSELoss(size_average=False) (twtygqyy/pytorch-vdsr main_vdsr.py)
    assert float(losses.make_pixel_loss("mse", reduction="total", value_range="0,1")(sr, hr)) == pytest.approx(
        2 * 12 * 0.01)
    with pytest.raises(SRError, match="mean, sum, total"):
        losses.make_pixel_loss("l1", reduction="batch")


def test_loss_range_maps_both_images_as_the_official_trainer_sees_them():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(-1, 1, (2, 3, 5, 5)), rng.uniform(-1, 1, (2, 3, 5, 5))
    sr, hr = t(a), t(b)
    l1 = np.abs(a - b).mean()
    assert float(losses.make_pixel_loss("l1")(sr, hr)) == pytest.approx(l1, rel=1e-5)
    assert float(losses.make_pixel_loss("l1", value_range="0,1")(sr, hr)) == pytest.approx(l1 / 2, rel=1e-5)
    assert float(losses.make_pixel_loss("l1", value_range="0,255")(sr, hr)) == pytest.approx(l1 * 127.5, rel=1e-5)
    assert float(losses.make_pixel_loss("mse", value_range="0,255")(sr, hr)) == pytest.approx(
        np.square((a - b) * 127.5).mean(), rel=1e-5)
    with pytest.raises(SRError, match="loss_range"):
        losses.make_pixel_loss("l1", value_range="0,65535")


def test_pyramid_targets_are_matlab_bicubic_downscales_of_the_hr_patch():
    from paddle_sr.image.imresize import imresize

    hr = np.random.default_rng(1).uniform(-1, 1, (2, 3, 16, 16)).astype("float32")
    targets = losses.pyramid_targets(hr, [(2, 3, 4, 4), (2, 3, 8, 8), (2, 3, 16, 16)])
    assert [x.shape for x in targets] == [(2, 3, 4, 4), (2, 3, 8, 8), (2, 3, 16, 16)]
    assert targets[-1] is hr and all(x.dtype == np.float32 for x in targets)
    for k, factor in ((0, 0.25), (1, 0.5)):
        for i in range(2):
            want = imresize(hr[i].transpose(1, 2, 0).astype("float64"), factor).transpose(2, 0, 1)
            assert np.abs(targets[k][i] - want).max() < 1e-5
    # bicubic (not box) downscaling: differs from a 2x2 mean
    assert np.abs(targets[1] - hr.reshape(2, 3, 8, 2, 8, 2).mean(axis=(3, 5))).max() > 1e-3
    with pytest.raises(SRError, match="does not divide"):
        losses.pyramid_targets(hr, [(2, 3, 5, 5)])
    levels = [t(targets[0]), t(targets[1] + 0.5)]
    assert float(losses.multi_level_loss(levels, [t(x) for x in targets[:2]], losses.l1_loss)) == pytest.approx(0.5)


def test_drcn_alpha_schedule_and_recursive_supervision():
    assert [losses.recursive_alpha(it, 4) for it in (1, 2, 3, 5, 9)] == [1.0, 0.75, 0.5, 0.0, 0.0]
    assert losses.recursive_alpha(1, 0) == 0.0
    hr = t(np.zeros((1, 1, 2, 2)))
    sr = t(np.full((1, 1, 2, 2), 1.0))
    preds = [t(np.full((1, 1, 2, 2), 2.0)), t(np.full((1, 1, 2, 2), 4.0))]  # L1: 2 and 4, mean 3
    f = losses.l1_loss
    assert float(losses.recursive_supervision_loss(sr, preds, hr, f, 1.0)) == pytest.approx(3.0)
    assert float(losses.recursive_supervision_loss(sr, preds, hr, f, 0.25)) == pytest.approx(0.25 * 3 + 0.75 * 1)
    assert float(losses.recursive_supervision_loss(sr, preds, hr, f, 0.0)) == pytest.approx(1.0)


def test_perceptual_l1_criterion():
    loss = losses.PerceptualLoss(Double(), criterion="l1")
    sr, hr = t(np.full((1, 3, 2, 2), 1.0)), t(np.zeros((1, 3, 2, 2)))
    assert float(loss(sr, hr)) == pytest.approx(2.0)  # |2 * 1 - 0|
    with pytest.raises(SRError, match="criterion"):
        losses.PerceptualLoss(Double(), criterion="l2")
