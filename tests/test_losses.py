"""Losses against values computed by hand."""
import math

import numpy as np
import paddle
import pytest

from paddle_sr import losses
from paddle_sr.errors import SRError


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
