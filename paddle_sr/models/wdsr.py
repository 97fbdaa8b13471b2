"""WDSR — Wide Activation for Efficient and Accurate Image Super-Resolution (Yu et al., 2018,
arXiv:1808.08718; NTIRE 2018 winning entry).

Port of the official JiahuiYu/wdsr_ntire2018 ``wdsr_a.py`` (WDSR-A: wide activation, 3x3 conv to
``block_feats`` channels, ReLU, 3x3 conv back) and ``wdsr_b.py`` (WDSR-B: 1x1 conv to 6x width, ReLU,
linear low-rank 1x1 conv to 0.8x, 3x3 conv back) with their parameter names: ``head.0``,
``body.{i}.body.{0,2[,3]}``, ``tail.0`` (+ PixelShuffle), ``skip.0`` (5x5 conv + its own
PixelShuffle), every conv weight-normalised with PyTorch's ``weight_g`` / ``weight_v`` / ``bias``, so
official ``.pt`` files load by identity.

Registered defaults (the official "WDSR baseline", README table and issues #6 / #12: 16 residual blocks,
``n_feats`` 32; WDSR-A ``block_feats`` 128 = 4x expansion, 1,190,100 parameters at x2; WDSR-B's
expansion 6 and low-rank ratio 0.8 are fixed in ``wdsr_b.py``). ``res_scale`` 1 (EDSR-PyTorch's
option default; 0.1 for deep / wide models, official issues #21 / #31). RGB mean as the official
``--r_mean/--g_mean/--b_mean`` defaults (DIV2K, 0.4488 / 0.4371 / 0.4040).

Differences from the paper / official code:
- ``forward`` takes and returns the suite's [-1, 1]; the official network works on [0, 255]
  (``value_range=(0, 255)``) and normalises with ``(x - 255 mean) / 127.5`` inside, as here.
- The official ``rgb_mean`` is a plain tensor (not in the state dict); here a non-persistable buffer,
  so it follows the device and the state dict keys stay official.
- Weight normalisation is ``WNConv2D`` rather than ``paddle.nn.utils.weight_norm``: Paddle's stores
  ``weight_g`` as shape [out] where PyTorch's (``dim=0``) is [out, 1, 1, 1], which would break
  checkpoint conversion, and Paddle's works through a forward pre-hook.
"""
import math

import paddle
import paddle.nn as nn

from paddle_sr.models._registry import register
from paddle_sr.models.common import SRModel

RGB_MEAN = (0.4488, 0.4371, 0.4040)


class WNConv2D(nn.Conv2D):
    """Conv2D with weight normalisation as ``torch.nn.utils.weight_norm(conv)`` (dim 0).

    ``weight = weight_g * weight_v / ||weight_v||`` (norm over in, kh, kw per output channel). Initialised
    as PyTorch does: v and bias from the conv's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)), g = ||v||.
    ``weight`` is computed on access, so ``nn.Conv2D.forward`` and FLOP counters see the effective weight.
    """

    def __init__(self, in_channels, out_channels, kernel_size, padding=0):
        super().__init__(in_channels, out_channels, kernel_size, padding=padding)
        v = self._parameters.pop("weight")
        bound = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        v.set_value(paddle.uniform(v.shape, min=-bound, max=bound))
        self.bias.set_value(paddle.uniform(self.bias.shape, min=-bound, max=bound))
        g = self.create_parameter([out_channels, 1, 1, 1])
        g.set_value(self._norm(v))
        self.weight_g = g  # registration order as PyTorch's state dict: bias, weight_g, weight_v
        self.weight_v = v

    @staticmethod
    def _norm(v):
        return paddle.sqrt(paddle.sum(paddle.square(v), axis=[1, 2, 3], keepdim=True))

    @property
    def weight(self):
        return self.weight_g * self.weight_v / self._norm(self.weight_v)

    @weight.setter
    def weight(self, value):
        # nn.Conv2D.__init__ assigns its raw weight here; Layer.__setattr__ has registered it as a
        # parameter by then, and __init__ above turns it into ``weight_v``.
        pass


class BlockA(nn.Layer):
    """WDSR-A residual block: wn 3x3 conv n_feats -> block_feats, ReLU, wn 3x3 conv back; x res_scale."""

    def __init__(self, n_feats, kernel_size, block_feats, res_scale=1.0):
        super().__init__()
        self.res_scale = res_scale
        self.body = nn.Sequential(WNConv2D(n_feats, block_feats, kernel_size, padding=kernel_size // 2), nn.ReLU(),
                                  WNConv2D(block_feats, n_feats, kernel_size, padding=kernel_size // 2))

    def forward(self, x):
        return self.body(x) * self.res_scale + x


class BlockB(nn.Layer):
    """WDSR-B residual block: wn 1x1 to 6x width, ReLU, wn 1x1 low-rank to 0.8x, wn 3x3 back; x res_scale."""

    def __init__(self, n_feats, kernel_size, res_scale=1.0, expand=6, linear=0.8):
        super().__init__()
        self.res_scale = res_scale
        self.body = nn.Sequential(WNConv2D(n_feats, n_feats * expand, 1), nn.ReLU(),
                                  WNConv2D(n_feats * expand, int(n_feats * linear), 1),
                                  WNConv2D(int(n_feats * linear), n_feats, kernel_size, padding=kernel_size // 2))

    def forward(self, x):
        return self.body(x) * self.res_scale + x


class WDSR(SRModel):
    """WDSR-A / WDSR-B (official ``MODEL`` of ``wdsr_a.py`` / ``wdsr_b.py``).

    Args:
        scale: upscaling factor (2, 3 or 4): one PixelShuffle(scale) in the body tail and in the skip.
        variant: 'A' (wide activation) or 'B' (wider activation + linear low-rank convolution).
        n_resblocks: residual blocks (16).
        n_feats: channels outside the blocks (32).
        block_feats: WDSR-A's channels inside a block (128); unused by WDSR-B (fixed 6x / 0.8x).
        res_scale: residual scaling of each block (1).
        n_colors: image channels (the mean subtraction assumes 3).
        rgb_mean: dataset mean on [0, 1] (DIV2K).
        value_range: range the weights work on; (0, 255) as the official code.
    """

    def __init__(self, scale=2, variant="A", n_resblocks=16, n_feats=32, block_feats=128, res_scale=1.0,
                 n_colors=3, rgb_mean=RGB_MEAN, value_range=(0.0, 255.0)):
        super().__init__(value_range)
        k = 3
        self.register_buffer("rgb_mean", paddle.to_tensor(rgb_mean, dtype="float32").reshape([1, 3, 1, 1]),
                             persistable=False)
        self.head = nn.Sequential(WNConv2D(n_colors, n_feats, 3, padding=1))
        if variant == "A":
            blocks = [BlockA(n_feats, k, block_feats, res_scale) for _ in range(n_resblocks)]
        elif variant == "B":
            blocks = [BlockB(n_feats, k, res_scale) for _ in range(n_resblocks)]
        else:
            raise ValueError(f"WDSR variant must be 'A' or 'B', got {variant!r}")
        self.body = nn.Sequential(*blocks)
        out_feats = scale * scale * n_colors
        self.tail = nn.Sequential(WNConv2D(n_feats, out_feats, 3, padding=1), nn.PixelShuffle(scale))
        self.skip = nn.Sequential(WNConv2D(n_colors, out_feats, 5, padding=2), nn.PixelShuffle(scale))

    def forward_native(self, x):
        x = (x - self.rgb_mean * 255) / 127.5
        s = self.skip(x)
        x = self.tail(self.body(self.head(x))) + s
        return x * 127.5 + self.rgb_mean * 255


@register("wdsr_a", scales=(2, 3, 4))
def wdsr_a(scale=2, **kwargs):
    return WDSR(scale=scale, variant="A", **kwargs)


@register("wdsr_b", scales=(2, 3, 4))
def wdsr_b(scale=2, **kwargs):
    return WDSR(scale=scale, variant="B", **kwargs)
