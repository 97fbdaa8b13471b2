"""EDSR — Enhanced Deep Residual Networks for Single Image Super-Resolution (Lim et al., CVPRW 2017,
arXiv:1707.02921).

Port of the official EDSR-PyTorch ``src/model/edsr.py`` + ``common.ResBlock`` with its parameter
names (``sub_mean``, ``head.0``, ``body.{i}.body.{0,2}``, ``body.{n_resblocks}``, ``tail.0.*``,
``tail.1``, ``add_mean``), so converted official ``.pt`` files load with ``set_state_dict``.
``edsr`` is the paper's single-scale EDSR (32 blocks, 256 features, residual scaling 0.1);
``edsr_baseline`` the official baseline (16 blocks, 64 features, no residual scaling).

Initialisation is PyTorch's default (``common.init_like_torch``), which the official code trains
from; Paddle's own default (He-normal, zero bias) makes the untrained output of deep
residual stacks like these explode (EDSR-baseline x4: std ~1e6 on the 0-255 scale; RCAN: overflow).

Differences from the paper / official code:
- ``forward`` takes and returns the suite's [-1, 1]; ``forward_native`` is the official forward on
  [0, rgb_range] (see ``common.SRModel``).
- ``no_upsampling`` / ``mean_shift=False`` / ``out_dim`` come from LIIF's copy (yinboc/liif
  ``models/edsr.py``), whose encoder has no tail and skips the mean shift in ``forward``
  (the ``sub_mean``/``add_mean`` parameters stay in the state dict, as there).
- The official ``load_state_dict`` silently skips mismatching ``tail`` weights (to fine-tune x2 ->
  x4); here a mismatch is an error (``weights.state.check_state_dict``).
"""
import paddle.nn as nn

from paddle_sr.models._registry import register
from paddle_sr.models.common import MeanShift, SRModel, Upsampler, default_conv, init_like_torch


class ResBlock(nn.Layer):
    """conv-ReLU-conv, scaled by ``res_scale`` (0.1 for the 256-feature EDSR), plus the input."""

    def __init__(self, conv, n_feats, kernel_size, bias=True, res_scale=1.0):
        super().__init__()
        self.body = nn.Sequential(conv(n_feats, n_feats, kernel_size, bias=bias), nn.ReLU(),
                                  conv(n_feats, n_feats, kernel_size, bias=bias))
        self.res_scale = res_scale

    def forward(self, x):
        return self.body(x) * self.res_scale + x


class EDSR(SRModel):
    """Enhanced deep super-resolution network (single scale).

    Args:
        scale: upscaling factor (2, 3 or 4; any power of two builds).
        n_resblocks: B, number of residual blocks (32 for EDSR, 16 for the baseline).
        n_feats: F, feature channels (256 / 64).
        res_scale: residual scaling constant (0.1 / 1).
        n_colors: image channels.
        rgb_range: the range the DIV2K mean is scaled to in ``sub_mean``/``add_mean``.
        no_upsampling: return the F-channel body features without ``tail`` (LIIF encoder).
        mean_shift: apply ``sub_mean``/``add_mean`` in the forward (False: LIIF encoder).
        value_range: range the weights work on. Defaults to (0, 255) because the mean shift subtracts
            ``rgb_range`` x the DIV2K mean, i.e. the network expects inputs on [0, rgb_range] = [0, 255],
            and the official weights were trained so.
    """

    def __init__(self, scale=4, n_resblocks=32, n_feats=256, res_scale=0.1, n_colors=3, rgb_range=255,
                 no_upsampling=False, mean_shift=True, value_range=(0, 255)):
        super().__init__(value_range)
        conv, k = default_conv, 3
        self.no_upsampling, self.mean_shift = no_upsampling, mean_shift
        self.sub_mean = MeanShift(rgb_range)
        self.add_mean = MeanShift(rgb_range, sign=1)
        self.head = nn.Sequential(conv(n_colors, n_feats, k))
        self.body = nn.Sequential(*[ResBlock(conv, n_feats, k, res_scale=res_scale) for _ in range(n_resblocks)],
                                  conv(n_feats, n_feats, k))
        self.out_dim = n_feats if no_upsampling else n_colors
        if not no_upsampling:
            self.tail = nn.Sequential(Upsampler(conv, scale, n_feats), conv(n_feats, n_colors, k))
        init_like_torch(self)  # the official code trains from PyTorch's default init

    def forward_native(self, x):
        if self.mean_shift:
            x = self.sub_mean(x)
        x = self.head(x)
        x = self.body(x) + x
        if self.no_upsampling:
            return x
        x = self.tail(x)
        return self.add_mean(x) if self.mean_shift else x

    def forward(self, lr):
        # The encoder returns features, which have no image range to map back to.
        if self.no_upsampling:
            return self.forward_native(self.to_native(lr))
        return super().forward(lr)


@register("edsr", scales=(2, 3, 4))
def edsr(scale=4, **kwargs):
    return EDSR(scale=scale, **{"n_resblocks": 32, "n_feats": 256, "res_scale": 0.1, **kwargs})


@register("edsr_baseline", scales=(2, 3, 4))
def edsr_baseline(scale=4, **kwargs):
    return EDSR(scale=scale, **{"n_resblocks": 16, "n_feats": 64, "res_scale": 1.0, **kwargs})
