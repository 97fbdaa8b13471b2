"""RCAN — Image Super-Resolution Using Very Deep Residual Channel Attention Networks (Zhang et al.,
ECCV 2018, arXiv:1807.02758).

Port of the official code (yulunzhang/RCAN, identical to EDSR-PyTorch ``src/model/rcan.py``) with
its parameter names: ``sub_mean``, ``head.0``, residual groups ``body.{g}`` of RCABs
``body.{g}.body.{b}.body.{0,2}`` (convs) and ``body.{g}.body.{b}.body.3.conv_du.{0,2}`` (channel
attention), the group's tail conv ``body.{g}.body.{n_resblocks}``, the long-skip conv
``body.{n_resgroups}``, ``tail.0.*``, ``tail.1``, ``add_mean`` — so converted official ``.pt`` files
load with ``set_state_dict``.

Initialisation is PyTorch's default (``common.init_like_torch``), which the official code trains
from; Paddle's own default (He-normal, zero bias) makes the untrained output of deep
residual stacks like these explode (EDSR-baseline x4: std ~1e6 on the 0-255 scale; RCAN: overflow).

Differences from the paper / official code:
- ``forward`` takes and returns the suite's [-1, 1]; ``forward_native`` is the official forward on
  [0, rgb_range] (see ``common.SRModel``).
- The official RCAB accepts ``res_scale`` but its forward has the scaling commented out (the
  residual is added unscaled); this port has no ``res_scale`` argument rather than one that does
  nothing.
- The official ``load_state_dict`` (strict=False by default) ignores unknown keys and skips
  mismatching ``tail`` weights; here a mismatch is an error (``weights.state.check_state_dict``).
"""
import paddle.nn as nn

from paddle_sr.models._registry import register
from paddle_sr.models.common import MeanShift, SRModel, Upsampler, default_conv, init_like_torch


class CALayer(nn.Layer):
    """Channel attention: global average pool -> 1x1 squeeze (C/r) -> ReLU -> 1x1 excite -> sigmoid gate."""

    def __init__(self, channel, reduction=16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2D(1)
        self.conv_du = nn.Sequential(nn.Conv2D(channel, channel // reduction, 1), nn.ReLU(),
                                     nn.Conv2D(channel // reduction, channel, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.conv_du(self.avg_pool(x))


class RCAB(nn.Layer):
    """Residual channel attention block: conv-ReLU-conv-CA plus the input."""

    def __init__(self, conv, n_feat, kernel_size, reduction):
        super().__init__()
        self.body = nn.Sequential(conv(n_feat, n_feat, kernel_size), nn.ReLU(), conv(n_feat, n_feat, kernel_size),
                                  CALayer(n_feat, reduction))

    def forward(self, x):
        return self.body(x) + x


class ResidualGroup(nn.Layer):
    """``n_resblocks`` RCABs and a conv, with a short skip connection around them."""

    def __init__(self, conv, n_feat, kernel_size, reduction, n_resblocks):
        super().__init__()
        self.body = nn.Sequential(*[RCAB(conv, n_feat, kernel_size, reduction) for _ in range(n_resblocks)],
                                  conv(n_feat, n_feat, kernel_size))

    def forward(self, x):
        return self.body(x) + x


class RCAN(SRModel):
    """Residual channel attention network (residual in residual).

    Args:
        scale: upscaling factor (2, 3, 4 or 8).
        n_resgroups: G, number of residual groups (10).
        n_resblocks: B, RCABs per group (20).
        n_feats: C, feature channels (64).
        reduction: r, channel-attention reduction ratio (16).
        n_colors: image channels.
        rgb_range: the range the DIV2K mean is scaled to in ``sub_mean``/``add_mean``.
        value_range: range the weights work on. Defaults to (0, 255) because the mean shift subtracts
            ``rgb_range`` x the DIV2K mean, i.e. the network expects inputs on [0, 255], as the official
            weights were trained.
    """

    def __init__(self, scale=4, n_resgroups=10, n_resblocks=20, n_feats=64, reduction=16, n_colors=3,
                 rgb_range=255, value_range=(0, 255)):
        super().__init__(value_range)
        conv, k = default_conv, 3
        self.sub_mean = MeanShift(rgb_range)  # DIV2K RGB mean
        self.head = nn.Sequential(conv(n_colors, n_feats, k))
        self.body = nn.Sequential(*[ResidualGroup(conv, n_feats, k, reduction, n_resblocks)
                                    for _ in range(n_resgroups)],
                                  conv(n_feats, n_feats, k))
        self.tail = nn.Sequential(Upsampler(conv, scale, n_feats), conv(n_feats, n_colors, k))
        self.add_mean = MeanShift(rgb_range, sign=1)
        init_like_torch(self)  # the official code trains from PyTorch's default init

    def forward_native(self, x):
        x = self.head(self.sub_mean(x))
        x = self.body(x) + x
        return self.add_mean(self.tail(x))


@register("rcan", scales=(2, 3, 4, 8))
def rcan(scale=4, **kwargs):
    return RCAN(scale=scale, **kwargs)
