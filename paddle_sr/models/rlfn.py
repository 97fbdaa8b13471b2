"""RLFN — Residual Local Feature Network for Efficient Super-Resolution (Kong et al., CVPRW 2022,
arXiv:2205.07514), winner of the NTIRE 2022 efficient SR challenge (runtime track).

Port of the official bytedance/RLFN code (``model/block.py``, ``rlfn.py``, ``rlfn_s.py``,
``rlfn_ntire.py``) with its parameter names (``conv_1``, ``block_{i}.c1_r/c2_r/c3_r/c5``,
``block_{i}.esa.conv1/conv_f/conv2/conv3/conv4``, ``conv_2``, ``upsampler.0``), so the official
``.pth`` checkpoints convert with an identity key map (``python -m paddle_sr.convert``).

Registered variants (official parameter counts at x4):
- ``rlfn``: 52 features, 6 RLFBs (543,740; x2 526,856).
- ``rlfn_s``: 48 features, 6 RLFBs (470,208).
- ``rlfn_ntire``: the challenge entry (official ``RLFN_Prune``): 46 features, 48 mid channels,
  4 RLFBs (317,218).

Differences from the paper / official code:
- One class ``RLFN`` with ``num_blocks``/``feature_channels``/``mid_channels`` instead of three
  copy-pasted classes; the official ``ESA.relu`` is created but never used and has no parameters,
  so it is left out.
- Initialisation follows PyTorch's defaults (``common.init_like_torch``), as the official training.
- LR inputs smaller than 15x15 pixels: the official code fails there (ESA's 7x7 max-pool gets a
  smaller map and torch raises); Paddle's pool then takes the maximum of the whole map, so the
  model still runs. From 15x15 up the two agree.
- ``forward(lr)`` takes the suite's [-1, 1]; the official weights work on [0, 255], which is the
  default ``value_range`` here, so ``forward_native`` is exactly the official forward.
"""
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_sr.models._registry import register
from paddle_sr.models.common import SRModel, init_like_torch


def conv_layer(in_channels, out_channels, kernel_size, bias=True):
    """'same' convolution (official ``block.conv_layer``)."""
    return nn.Conv2D(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2,
                     bias_attr=None if bias else False)


class ESA(nn.Layer):
    """Enhanced Spatial Attention (from RFANet), RLFN's lighter version without ``conv_max``/``conv3_``.

    Args:
        esa_channels: f, channels inside the attention branch (16).
        n_feats: channels of the attended feature map.
    """

    def __init__(self, esa_channels, n_feats):
        super().__init__()
        f = esa_channels
        self.conv1 = nn.Conv2D(n_feats, f, 1)
        self.conv_f = nn.Conv2D(f, f, 1)
        self.conv2 = nn.Conv2D(f, f, 3, stride=2, padding=0)
        self.conv3 = nn.Conv2D(f, f, 3, padding=1)
        self.conv4 = nn.Conv2D(f, n_feats, 1)

    def forward(self, x):
        c1_ = self.conv1(x)
        c1 = self.conv2(c1_)
        v_max = F.max_pool2d(c1, kernel_size=7, stride=3)
        c3 = self.conv3(v_max)
        # align_mode=0 is the half-pixel rule of torch's align_corners=False.
        c3 = F.interpolate(c3, size=x.shape[2:], mode="bilinear", align_corners=False, align_mode=0)
        cf = self.conv_f(c1_)
        return x * F.sigmoid(self.conv4(c3 + cf))


class RLFB(nn.Layer):
    """Residual Local Feature Block: three 3x3 conv + LeakyReLU(0.05), residual, 1x1 ``c5``, ESA.

    Args:
        in_channels: block input (and residual) channels.
        mid_channels: channels of ``c1_r``/``c2_r`` (default ``in_channels``; 48 in RLFN_ntire).
        out_channels: output channels of ``c5`` (default ``in_channels``).
        esa_channels: channels inside ESA (16).
    """

    def __init__(self, in_channels, mid_channels=None, out_channels=None, esa_channels=16):
        super().__init__()
        mid_channels = mid_channels or in_channels
        out_channels = out_channels or in_channels
        self.c1_r = conv_layer(in_channels, mid_channels, 3)
        self.c2_r = conv_layer(mid_channels, mid_channels, 3)
        self.c3_r = conv_layer(mid_channels, in_channels, 3)
        self.c5 = conv_layer(in_channels, out_channels, 1)
        self.esa = ESA(esa_channels, out_channels)
        self.act = nn.LeakyReLU(0.05)

    def forward(self, x):
        out = self.act(self.c1_r(x))
        out = self.act(self.c2_r(out))
        out = self.act(self.c3_r(out))
        return self.esa(self.c5(out + x))


class RLFN(SRModel):
    """Residual Local Feature Network.

    Args:
        scale: upscaling factor (2, 3 or 4).
        feature_channels: channels of the trunk (52 RLFN, 48 RLFN-S, 46 RLFN_ntire).
        mid_channels: channels inside each RLFB's first two convs (None = ``feature_channels``).
        num_blocks: number of RLFBs (6; 4 in RLFN_ntire).
        esa_channels: channels inside ESA (16).
        in_channels, out_channels: image channels.
        value_range: range the weights work on; (0, 255) as the official weights.
    """

    def __init__(self, scale=4, feature_channels=52, mid_channels=None, num_blocks=6, esa_channels=16,
                 in_channels=3, out_channels=3, value_range=(0.0, 255.0)):
        super().__init__(value_range)
        self.num_blocks = num_blocks
        self.conv_1 = conv_layer(in_channels, feature_channels, 3)
        for i in range(1, num_blocks + 1):
            # block_1 ... block_N as attributes: the official checkpoint's key names.
            self.add_sublayer(f"block_{i}", RLFB(feature_channels, mid_channels, esa_channels=esa_channels))
        self.conv_2 = conv_layer(feature_channels, feature_channels, 3)
        self.upsampler = nn.Sequential(conv_layer(feature_channels, out_channels * scale ** 2, 3),
                                       nn.PixelShuffle(scale))
        init_like_torch(self)  # the official code trains from PyTorch's default initialisation

    def forward_native(self, x):
        out_feature = self.conv_1(x)
        out = out_feature
        for i in range(1, self.num_blocks + 1):
            out = getattr(self, f"block_{i}")(out)
        return self.upsampler(self.conv_2(out) + out_feature)


@register("rlfn", scales=(2, 3, 4))
def rlfn(scale=4, **kwargs):
    return RLFN(scale=scale, **kwargs)


@register("rlfn_s", scales=(2, 3, 4))
def rlfn_s(scale=4, **kwargs):
    kwargs.setdefault("feature_channels", 48)
    return RLFN(scale=scale, **kwargs)


@register("rlfn_ntire", scales=(2, 3, 4))
def rlfn_ntire(scale=4, **kwargs):
    kwargs.setdefault("feature_channels", 46)
    kwargs.setdefault("mid_channels", 48)
    kwargs.setdefault("num_blocks", 4)
    return RLFN(scale=scale, **kwargs)
