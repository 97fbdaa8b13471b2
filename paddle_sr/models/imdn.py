"""IMDN — Lightweight Image Super-Resolution with Information Multi-distillation Network (Hui et al.,
ACM MM 2019, arXiv:1909.11856).

Port of the official Zheng222/IMDN code (``model/architecture.py`` class ``IMDN``; ``model/block.py``:
``IMDModule``, ``CCALayer``, ``conv_layer``, ``conv_block``, ``activation``, ``pixelshuffle_block``)
with its parameter names (``fea_conv``, ``IMDB{1..6}.c1..c5``, ``IMDB{i}.cca.conv_du.{0,2}``,
``c.0``, ``LR_conv``, ``upsampler.0``), so the official ``IMDN_x{2,3,4}.pth`` files convert with an
identity key map (their ``module.`` prefix is stripped by ``python -m paddle_sr.convert``).
Official parameter counts: x2 694,404; x3 703,059; x4 715,176.

Differences from the paper / official code:
- ``num_modules`` also sets how many IMDBs are built (the official class always builds six and
  uses ``num_modules`` only for the width of the fusion conv ``c``); at the default 6 they agree.
- The official ``activation('lrelu')`` modules are in-place LeakyReLU(0.05); here plain
  ``nn.LeakyReLU(0.05)``. CCA's contrast is a global average pool of the squared deviation and a
  ``sqrt`` instead of ``pow(2)``, two sums and ``pow(0.5)`` (same values within float rounding;
  oneDNN-friendly, see ``stdv_channels``).
- Initialisation follows PyTorch's defaults (``common.init_like_torch``): the official code has no
  init of its own.
- ``forward(lr)`` takes the suite's [-1, 1]; the official weights work on RGB in [0, 1]
  (``test_IMDN.py`` feeds ``im_l / 255.0``), the default ``value_range`` here, so
  ``forward_native`` is exactly the official forward.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_sr.models._registry import register
from paddle_sr.models.common import SRModel, init_like_torch


def conv_layer(in_channels, out_channels, kernel_size, stride=1, dilation=1, groups=1):
    """'same' convolution with bias (official ``block.conv_layer``)."""
    padding = int((kernel_size - 1) / 2) * dilation
    return nn.Conv2D(in_channels, out_channels, kernel_size, stride, padding=padding, dilation=dilation,
                     groups=groups)


def stdv_channels(x, mean):
    """Per-channel standard deviation over H, W (population: divided by H*W), the 'contrast'.

    Written as a global average pool of ``d * d`` and ``sqrt`` rather than the official
    ``pow(2).sum(3).sum(2) / (H*W)`` and ``pow(0.5)`` (same values within float rounding): Paddle
    Inference runs pool2d, multiply and sqrt in oneDNN, while ``mean`` over H, W and ``**`` took
    a third of IMDN's time there (``benchmarks/README.md``, IMDN row).
    """
    d = x - mean
    return paddle.sqrt(F.adaptive_avg_pool2d(d * d, 1))


class CCALayer(nn.Layer):
    """Contrast-aware channel attention: sigmoid(MLP(std + mean)) scales the channels.

    Args:
        channel: channels of the attended map.
        reduction: squeeze ratio of the 1x1-conv MLP (16).
    """

    def __init__(self, channel, reduction=16):
        super().__init__()
        self.conv_du = nn.Sequential(nn.Conv2D(channel, channel // reduction, 1), nn.ReLU(),
                                     nn.Conv2D(channel // reduction, channel, 1), nn.Sigmoid())

    def forward(self, x):
        mean = F.adaptive_avg_pool2d(x, 1)  # the official AdaptiveAvgPool2d(1)
        y = stdv_channels(x, mean) + mean
        return x * self.conv_du(y)


class IMDModule(nn.Layer):
    """Information multi-distillation block: three 3x3 convs each split off ``distilled`` channels,
    a fourth makes the last ``distilled`` ones; concat -> CCA -> 1x1 ``c5`` -> + input.

    Args:
        in_channels: block width (nf = 64).
        distillation_rate: share of channels distilled at each step (0.25).
    """

    def __init__(self, in_channels, distillation_rate=0.25):
        super().__init__()
        self.distilled_channels = int(in_channels * distillation_rate)
        self.remaining_channels = int(in_channels - self.distilled_channels)
        self.c1 = conv_layer(in_channels, in_channels, 3)
        self.c2 = conv_layer(self.remaining_channels, in_channels, 3)
        self.c3 = conv_layer(self.remaining_channels, in_channels, 3)
        self.c4 = conv_layer(self.remaining_channels, self.distilled_channels, 3)
        self.act = nn.LeakyReLU(0.05)
        self.c5 = conv_layer(in_channels, in_channels, 1)
        self.cca = CCALayer(self.distilled_channels * 4)

    def forward(self, x):
        sizes = [self.distilled_channels, self.remaining_channels]
        distilled_c1, remaining_c1 = paddle.split(self.act(self.c1(x)), sizes, axis=1)
        distilled_c2, remaining_c2 = paddle.split(self.act(self.c2(remaining_c1)), sizes, axis=1)
        distilled_c3, remaining_c3 = paddle.split(self.act(self.c3(remaining_c2)), sizes, axis=1)
        out_c4 = self.c4(remaining_c3)
        out = paddle.concat([distilled_c1, distilled_c2, distilled_c3, out_c4], axis=1)
        return self.c5(self.cca(out)) + x


class IMDN(SRModel):
    """Information Multi-distillation Network.

    Args:
        scale: upscaling factor (2, 3 or 4).
        in_nc, out_nc: image channels.
        nf: feature channels (64).
        num_modules: number of IMDBs (6).
        value_range: range the weights work on; (0, 1) as the official weights.
    """

    def __init__(self, scale=4, in_nc=3, nf=64, num_modules=6, out_nc=3, value_range=(0.0, 1.0)):
        super().__init__(value_range)
        self.num_modules = num_modules
        self.fea_conv = conv_layer(in_nc, nf, 3)
        for i in range(1, num_modules + 1):
            self.add_sublayer(f"IMDB{i}", IMDModule(in_channels=nf))  # the official key names
        self.c = nn.Sequential(nn.Conv2D(nf * num_modules, nf, 1), nn.LeakyReLU(0.05))  # conv_block(act='lrelu')
        self.LR_conv = conv_layer(nf, nf, 3)
        self.upsampler = nn.Sequential(conv_layer(nf, out_nc * scale ** 2, 3), nn.PixelShuffle(scale))
        init_like_torch(self)

    def forward_native(self, x):
        out_fea = self.fea_conv(x)
        outs, out = [], out_fea
        for i in range(1, self.num_modules + 1):
            out = getattr(self, f"IMDB{i}")(out)
            outs.append(out)
        out_lr = self.LR_conv(self.c(paddle.concat(outs, axis=1))) + out_fea
        return self.upsampler(out_lr)


@register("imdn", scales=(2, 3, 4))
def imdn(scale=4, **kwargs):
    return IMDN(scale=scale, **kwargs)
