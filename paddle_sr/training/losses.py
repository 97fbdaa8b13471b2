"""Training losses: pixel (L1 / MSE / Euclidean / Charbonnier), perceptual (VGG19), adversarial,
contrastive (RLFN), and the multi-output supervision of LapSRN (pyramid levels) and DRCN (recursions).

All take suite tensors (float32 NCHW in [-1, 1]) and return a scalar tensor. Plain functions where a
loss has no state; ``nn.Layer`` where it owns a (frozen) network. No registry: ``train.py`` picks the
loss by name through ``make_pixel_loss``.
"""
import math

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_sr.core.errors import SRError


def l1_loss(sr, hr):
    """Mean absolute error (EDSR / RDN / RCAN / RLFN training loss)."""
    return paddle.mean(paddle.abs(sr - hr))


def mse_loss(sr, hr):
    """Mean squared error (SRResNet; the SRGAN notebook's content term)."""
    return paddle.mean(paddle.square(sr - hr))


def charbonnier_loss(sr, hr, eps=1e-3):
    """mean(sqrt((sr - hr)^2 + eps^2)) — a differentiable L1 (LapSRN, Lai et al. 2017)."""
    return paddle.mean(paddle.sqrt(paddle.square(sr - hr) + eps * eps))


def euclidean_loss(sr, hr):
    """Half the mean squared error: the element term of Caffe's ``EuclideanLoss`` (SRCNN, DRRN) and of
    VDSR's / DRCN's ``1/2 ||y - f(x)||^2``."""
    return 0.5 * mse_loss(sr, hr)


PIXEL_LOSSES = {"l1": l1_loss, "mse": mse_loss, "charbonnier": charbonnier_loss, "euclidean": euclidean_loss}
REDUCTIONS = ("mean", "sum", "total")


def pixel_loss(name):
    """The pixel loss function called ``name`` ('l1', 'mse', 'charbonnier' or 'euclidean')."""
    if name not in PIXEL_LOSSES:
        raise SRError(f"unknown pixel loss {name!r}; use one of {', '.join(PIXEL_LOSSES)}")
    return PIXEL_LOSSES[name]


def luma(x):
    """BT.601 Y (MATLAB ``rgb2ycbcr``) of suite RGB images, on the suite range; 1-channel input is Y."""
    from paddle_sr.models.common import rgb_to_ycbcr

    return x if x.shape[1] == 1 else rgb_to_ycbcr(x, (-1.0, 1.0))[:, :1]


LOSS_RANGES = {"-1,1": (-1.0, 1.0), "0,1": (0.0, 1.0), "0,255": (0.0, 255.0)}


def to_loss_range(x, value_range):
    """Suite tensors (on [-1, 1]) mapped affinely onto ``value_range`` ('-1,1', '0,1' or '0,255')."""
    lo, hi = LOSS_RANGES[value_range]
    return x if (lo, hi) == (-1.0, 1.0) else (x + 1.0) * ((hi - lo) / 2.0) + lo


def make_pixel_loss(name, y_only=False, reduction="mean", value_range="-1,1"):
    """The pixel loss ``name`` with the recipe's options, as ``f(sr, hr)`` on suite tensors.

    y_only: compare the BT.601 luma only (models trained on Y: SRCNN, ESPCN, VDSR, DRCN, DRRN, LapSRN);
        with RGB in/out the Cb/Cr of such models are fixed bicubic, and an RGB loss would pull Y
        towards cancelling their error.
    reduction: 'mean' — the per-pixel mean (PyTorch ``reduction='mean'``); 'sum' — Caffe / MatConvNet:
        summed over each sample's pixels and averaged over the batch (Caffe ``EuclideanLoss`` = sum / 2N;
        MatConvNet divides the summed gradient by the batch size); 'total' — summed over the pixels AND
        the batch (PyTorch ``reduction='sum'`` / ``size_average=False``: twtygqyy/pytorch-vdsr).
    value_range: the range the official trainer computes the loss on: '0,255' (EDSR-PyTorch and the
        code built on it: EDSR, RDN, RCAN, SAN, WDSR), '0,1' (BasicSR, KAIR, IMDN, CARN, Caffe /
        MatConvNet, pytorch-vdsr), '-1,1' (the suite's own range; LIIF's normalised gt). Both images are
        mapped onto it before the loss, so the loss value, its gradient and therefore Adam's epsilon,
        SGD's weight decay and any gradient-clip threshold act exactly as in the official code. (Adam is
        blind to a constant gradient scale except through epsilon: an L1 on [-1, 1] instead of [0, 255]
        makes epsilon act 127.5x larger.)
    """
    fn = pixel_loss(name)
    if reduction not in REDUCTIONS:
        raise SRError(f"unknown loss_reduction {reduction!r}; use one of {', '.join(REDUCTIONS)}")
    if value_range not in LOSS_RANGES:
        raise SRError(f"unknown loss_range {value_range!r}; use one of {', '.join(LOSS_RANGES)}")

    def loss(sr, hr):
        if y_only:
            sr, hr = luma(sr), luma(hr)
        value = fn(to_loss_range(sr, value_range), to_loss_range(hr, value_range))
        if reduction == "total":
            return value * math.prod(sr.shape)
        return value if reduction == "mean" else value * math.prod(sr.shape[1:])

    return loss


# ---- models with several supervised outputs ------------------------------------------------------

def pyramid_targets(hr, shapes):
    """Targets of a Laplacian pyramid's levels: the HR batch ``hr`` (numpy N x C x H x W) downscaled by
    MATLAB bicubic to each level's spatial size (LapSRN ``getBatch_LapSRN.m``: ``imresize(HR, 1/2^k)``).

    ``shapes``: the levels' output shapes; a level at full size gets ``hr`` itself. Returns float32
    numpy arrays, a pure function of ``hr`` (so a resumed run sees the same targets).
    """
    from paddle_sr.image.imresize import imresize

    out = []
    for shape in shapes:
        h, w = int(shape[-2]), int(shape[-1])
        if (h, w) == hr.shape[-2:]:
            out.append(hr)
            continue
        if hr.shape[-1] % w or hr.shape[-2] % h or hr.shape[-1] // w != hr.shape[-2] // h:
            raise SRError(f"a pyramid level of {h}x{w} does not divide the HR patch {hr.shape[-2]}x{hr.shape[-1]}")
        factor = w / hr.shape[-1]
        out.append(np.stack([imresize(x.transpose(1, 2, 0), factor).transpose(2, 0, 1) for x in hr]).astype("float32"))
    return out


def multi_level_loss(levels, targets, fn):
    """LapSRN (Lai et al. 2017, Eq. 2): the pixel loss of every pyramid level against its target, summed
    (official ``derOutputs``: weight 1 per level)."""
    return sum(fn(o, t) for o, t in zip(levels, targets))


def recursive_alpha(iteration, decay_iterations):
    """DRCN's alpha at ``iteration`` (1-based): 1 at the start, linearly to 0 after ``decay_iterations``
    (0 = no recursive supervision: alpha 0 throughout)."""
    if decay_iterations <= 0:
        return 0.0
    return max(0.0, 1.0 - (iteration - 1) / decay_iterations)


def recursive_supervision_loss(sr, preds, hr, fn, alpha):
    """DRCN (Kim et al. 2016, Sec. 3.3): alpha * mean_d fn(pred_d, hr) + (1 - alpha) * fn(sr, hr), the
    D intermediate predictions and the final ensemble output all against the HR; the paper's
    beta ||W||^2 is the optimizer's ``weight_decay``."""
    final = fn(sr, hr)
    if alpha <= 0:
        return final
    return alpha * (sum(fn(p, hr) for p in preds) / len(preds)) + (1 - alpha) * final


class PerceptualLoss(nn.Layer):
    """Distance between VGG19 feature maps of SR and HR: MSE (SRGAN, Ledig et al. 2017, Sec. 2.2.1, Eq. 5)
    or L1 (ESRGAN, Wang et al. 2018, Sec. 3.3 / BasicSR ``criterion: l1``, on pre-activation features).

    Args:
        extractor: a frozen feature network (``paddle_sr.models.vgg.VGG19FeatureExtractor``).
        feature_scale: multiplies both feature maps before the MSE. SRGAN Sec. 3.2 rescales the VGG
            feature maps by 1/12.75 "to obtain VGG losses of a scale that is comparable to the MSE
            loss"; the notebook used 1 (no rescale).
        criterion: 'mse' or 'l1'.
    """

    def __init__(self, extractor, feature_scale=1.0, criterion="mse"):
        super().__init__()
        if criterion not in ("mse", "l1"):
            raise SRError(f"unknown perceptual criterion {criterion!r}; use 'mse' (SRGAN) or 'l1' (ESRGAN)")
        self.extractor = extractor
        self.feature_scale = float(feature_scale)
        self.criterion = mse_loss if criterion == "mse" else l1_loss
        for p in self.extractor.parameters():
            p.stop_gradient = True
        self.extractor.eval()

    def forward(self, sr, hr):
        with paddle.no_grad():
            target = self.extractor(hr)
        return self.criterion(self.extractor(sr) * self.feature_scale, target * self.feature_scale)


def _bce_logits(logits, real):
    label = paddle.full_like(logits, 1.0 if real else 0.0)
    return F.binary_cross_entropy_with_logits(logits, label)


GAN_TYPES = ("bce", "vanilla", "ragan")


def _check_gan(kind):
    if kind not in GAN_TYPES:
        raise SRError(f"unknown gan_type {kind!r}; use 'vanilla' (SRGAN, BasicSR), 'bce' (the SRGAN notebook) or "
                      f"'ragan' (ESRGAN)")


def generator_adversarial_loss(kind, d_fake, d_real=None):
    """Adversarial loss of the generator from discriminator *logits* on SR (and HR for 'ragan').

    kind='bce': the standard GAN of SRGAN (Sec. 2.2.2, Eq. 6), -log D(G(lr)) (the notebook's sigmoid +
    ``-log(d + 1e-8)``, computed stably from logits). kind='ragan': relativistic average GAN of ESRGAN
    (Wang et al. 2018, Sec. 3.2): D_Ra(a, b) = sigma(C(a) - mean C(b)); the official code averages the
    real and fake terms. ``d_real`` (needed for 'ragan') should be detached by the caller.
    """
    _check_gan(kind)
    if kind in ("bce", "vanilla"):
        return _bce_logits(d_fake, True)
    if d_real is None:
        raise ValueError("the relativistic ('ragan') generator loss needs d_real")
    return (_bce_logits(d_real - paddle.mean(d_fake), False) + _bce_logits(d_fake - paddle.mean(d_real), True)) / 2


def discriminator_loss(kind, d_real, d_fake):
    """Discriminator loss from logits on HR (real) and detached SR (fake): the mean of the real and fake
    cross-entropies (SRGAN notebook: ``(-log d_real - log(1 - d_fake)) / 2``), or its relativistic form."""
    _check_gan(kind)
    if kind == "bce":
        return (_bce_logits(d_real, True) + _bce_logits(d_fake, False)) / 2
    if kind == "vanilla":
        return _bce_logits(d_real, True) + _bce_logits(d_fake, False)
    return (_bce_logits(d_real - paddle.mean(d_fake), True) + _bce_logits(d_fake - paddle.mean(d_real), False)) / 2


def discriminator_step_loss(kind, disc, hr, sr):
    """The discriminator's loss of one training step, with its forwards in the order of the official code
    (BatchNorm's running statistics are updated by every forward in train mode). ``sr`` must be detached.

    'vanilla' (BasicSR ``SRGANModel``, the SRGAN paper's Eq. 2): BCE(D(hr), 1) + BCE(D(sr), 0), summed (BasicSR's
    ``GANLoss`` weighs only the generator). 'ragan' (BasicSR ``ESRGANModel``): 0.5 BCE(C(hr) - mean C(sr), 1) +
    0.5 BCE(C(sr) - mean C(hr), 0) where each term's *other* mean is a constant: BasicSR detaches it
    (``net_d(output).detach()``, ``real_d_pred.detach()``), so the real term's gradient reaches D only through
    C(hr) and the fake term's only through C(sr); it also runs D on the SR once more first, for that constant.
    'bce' (the SRGAN notebook): the mean of the two cross-entropies.
    """
    _check_gan(kind)
    if kind == "ragan":
        fake_mean = paddle.mean(disc(sr)).detach()
        d_real = disc(hr)
        d_fake = disc(sr)
        return (_bce_logits(d_real - fake_mean, True) + _bce_logits(d_fake - paddle.mean(d_real).detach(), False)) / 2
    return discriminator_loss(kind, disc(hr), disc(sr))


class ShallowFeatureExtractor(nn.Layer):
    """RLFN's contrastive-loss feature extractor: Conv k3s1 - Tanh - Conv k3s1, random and frozen.

    RLFN (Kong et al. 2022, arXiv:2205.07514) Sec. 3.3 finds that deep VGG features hurt PSNR and uses
    the features of a randomly initialised two-layer network instead (Conv k3s1 - Tanh - Conv k3s1).
    The paper does not give the width; 64 channels (VGG's first-layer width that AECR-Net / CSD
    contrast on) is our choice. Weights are drawn from a numpy generator with a fixed ``seed`` with
    the PyTorch default conv init U(-1/sqrt(fan_in), 1/sqrt(fan_in)), so the extractor is identical in
    every run and on resume, and building it consumes none of Paddle's global random state.
    """

    def __init__(self, channels=64, seed=0):
        super().__init__()
        self.conv1 = nn.Conv2D(3, channels, 3, padding=1)
        self.act = nn.Tanh()
        self.conv2 = nn.Conv2D(channels, channels, 3, padding=1)
        rng = np.random.default_rng(seed)
        for conv in (self.conv1, self.conv2):
            bound = 1.0 / math.sqrt(conv.weight.shape[1] * 9)
            conv.weight.set_value(rng.uniform(-bound, bound, conv.weight.shape).astype("float32"))
            conv.bias.set_value(rng.uniform(-bound, bound, conv.bias.shape).astype("float32"))
            conv.weight.stop_gradient = True
            conv.bias.stop_gradient = True

    def forward(self, x):
        return self.conv2(self.act(self.conv1(x)))


class ContrastiveLoss(nn.Layer):
    """RLFN's contrastive loss (Sec. 3.3, Eq. 3, after AECR-Net): d(phi(sr), phi(hr)) / d(phi(sr), phi(neg)).

    Anchor = SR, positive = HR, negative = the LR image bicubic-upsampled to the HR size (as CSD for
    SR); d is the mean L1 distance and phi the output of ``ShallowFeatureExtractor``. Minimising it
    pulls SR towards HR and pushes it away from the blurry bicubic image. The negative uses Paddle's
    bicubic interpolation (a = -0.75, no antialiasing) — it only has to be "the blurry answer".
    """

    def __init__(self, channels=64, seed=0, eps=1e-7):
        super().__init__()
        self.extractor = ShallowFeatureExtractor(channels, seed)
        self.eps = eps

    def forward(self, sr, hr, lr):
        with paddle.no_grad():
            neg = F.interpolate(lr, size=sr.shape[-2:], mode="bicubic", align_corners=False)
            f_pos = self.extractor(hr)
            f_neg = self.extractor(neg)
        f_sr = self.extractor(sr)
        d_ap = paddle.mean(paddle.abs(f_sr - f_pos))
        d_an = paddle.mean(paddle.abs(f_sr - f_neg))
        return d_ap / (d_an + self.eps)


# ------------------------------------------------------------------------------------------------
# A recipe's generator objective: which outputs are supervised, and every weighted term
# ------------------------------------------------------------------------------------------------

def supervision(model):
    """Which outputs the pixel loss supervises: 'levels' for a model with ``forward_levels`` (LapSRN:
    every pyramid level against the HR downscaled to its size), 'recursive' for one with
    ``forward_all`` (DRCN: the ensemble and its D intermediate predictions), None for the SR only."""
    for kind, method in (("levels", "forward_levels"), ("recursive", "forward_all")):
        if callable(getattr(model, method, None)):
            return kind
    return None


class AllOutputs(nn.Layer):
    """A model's training forward with every supervised output, as a layer DataParallel can wrap:
    lr -> [outputs] (pyramid levels, smallest first; or the ensemble followed by the recursions)."""

    def __init__(self, model, kind):
        super().__init__()
        self.model, self.kind = model, kind

    def forward(self, lr):
        if self.kind == "levels":
            return list(self.model.forward_levels(lr))
        sr, preds = self.model.forward_all(lr)
        return [sr] + list(preds)


class Objective:
    """The generator loss of a recipe: ``terms(out, batch, it, disc)`` -> {name: weighted scalar}.

    Pixel loss (the recipe's function, on Y only or summed as Caffe/MatConvNet when asked) on the
    outputs ``supervision`` names, plus the perceptual (VGG19), contrastive (RLFN) and adversarial
    terms whose weights are non-zero. ``forward_layer(model)`` is the layer the trainer runs (and
    DataParallel wraps); ``sr(out)`` picks the final SR from its output.
    """

    def __init__(self, cfg, model, liif=False):
        self.cfg, self.liif = cfg, liif
        self.pixel = make_pixel_loss(cfg.pixel_loss, y_only=cfg.y_loss, reduction=cfg.loss_reduction,
                                     value_range=cfg.loss_range)
        self.kind = None if liif else supervision(model)
        self.perceptual = self.contrastive = None
        if cfg.perceptual_weight > 0:
            from paddle_sr.models.vgg import VGG19FeatureExtractor
            vgg = VGG19FeatureExtractor(cfg.perceptual_layer, use_relu=cfg.perceptual_relu,
                                        weights=cfg.vgg_weights or None, allow_random=cfg.allow_random_vgg)
            self.perceptual = PerceptualLoss(vgg, cfg.perceptual_scale, cfg.perceptual_criterion)
        if cfg.contrastive_weight > 0:
            self.contrastive = ContrastiveLoss()

    def forward_layer(self, model):
        if self.liif:
            from paddle_sr.models.liif import LiifQuery
            return LiifQuery(model)
        return AllOutputs(model, self.kind) if self.kind else model

    def sr(self, out):
        return out if self.kind is None else out[-1] if self.kind == "levels" else out[0]

    def _pixel(self, out, hr, hr_np, it):
        if self.kind == "levels":
            targets = pyramid_targets(hr_np, [o.shape for o in out])
            return multi_level_loss(out, [paddle.to_tensor(t) for t in targets], self.pixel)
        if self.kind == "recursive":
            alpha = recursive_alpha(it, self.cfg.recursive_alpha_iters)
            return recursive_supervision_loss(out[0], out[1:], hr, self.pixel, alpha)
        return self.pixel(out, hr)

    def terms(self, out, lr, hr, hr_np, it, disc=None):
        """Weighted terms for one training forward ``out`` of the batch (``hr_np``: the HR as numpy)."""
        cfg, sr, terms = self.cfg, self.sr(out), {}
        if cfg.pixel_weight > 0:
            terms["pixel"] = cfg.pixel_weight * self._pixel(out, hr, hr_np, it)
        if self.perceptual is not None:
            terms["perceptual"] = cfg.perceptual_weight * self.perceptual(sr, hr)
        if self.contrastive is not None:
            terms["contrastive"] = cfg.contrastive_weight * self.contrastive(sr, hr, lr)
        if disc is not None:
            d_real = disc(hr).detach() if cfg.gan_type == "ragan" else None
            terms["adversarial"] = cfg.adversarial_weight * generator_adversarial_loss(cfg.gan_type, disc(sr), d_real)
        return terms
