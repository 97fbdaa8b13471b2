"""CARN — Fast, Accurate, and Lightweight Super-Resolution with Cascading Residual Network (Ahn et al.,
ECCV 2018, arXiv:1803.08664).

Port of the official nmhkahn/CARN-pytorch code (``carn/model/carn.py``, ``carn_m.py``, ``ops.py``)
with its parameter names (``sub_mean.shifter``, ``entry``, ``b{1,2,3}.b{1,2,3}.body.*``,
``b{i}.c{1,2,3}.body.0``, ``c{1,2,3}.body.0``, ``upsample.up{2,3,4}.body.*``, ``exit``,
``add_mean.shifter``), so the official ``carn.pth`` / ``carn_m.pth`` convert with an identity key map.

Registered variants:
- ``carn``: three cascading blocks of three residual blocks (1,591,963 parameters, multi-scale).
- ``carn_m``: the mobile variant: 4-group efficient residual blocks, one shared per cascading block
  (recursive), group convs in the upsamplers (414,811 parameters, multi-scale, = the official file).

One model for x2/x3/x4: the official network (``multi_scale=True``, how both released files were
trained and saved) holds an upsampler per scale, ``upsample.up2/up3/up4``, and ``forward(x, scale)``
picks one. A port built for ``scale`` builds all three too, so the official file loads whole and the
parameter count is the official one, and its forward uses ``up{scale}``. The other two branches are
frozen (``stop_gradient``): they are not on this model's forward path, so training at one scale
leaves them as loaded. ``multi_scale=False`` builds the official single-scale layout
(``upsample.up``, the code's ``--scale 2|3|4`` training).

Differences from the paper / official code:
- The scale is fixed when the model is built (``forward_native(x)``, not ``forward(x, scale)``).
- ``n_feats`` (the official code writes 64 everywhere) makes small test configurations possible.
- In-place ReLUs are plain ``nn.ReLU``; the frozen mean shifts are ``common.MeanShift`` convs
  inside a ``shifter`` attribute, as the official ``ops.MeanShift``.
- Initialisation follows PyTorch's defaults (the official ``init_weights`` is a no-op).
- ``forward(lr)`` takes the suite's [-1, 1]; the official weights work on RGB in [0, 1] (``sample.py``
  feeds ``ToTensor()`` images and subtracts the DIV2K mean on that range), the default
  ``value_range`` here, so ``forward_native`` is exactly the official forward.
"""
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_sr.models._registry import register
from paddle_sr.models.common import MeanShift as _Shift
from paddle_sr.models.common import SRModel, init_like_torch

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


class MeanShift(nn.Layer):
    """Frozen 1x1 conv ``shifter`` that subtracts (``sub``) or adds the DIV2K mean on [0, 1]."""

    def __init__(self, mean_rgb, sub):
        super().__init__()
        self.shifter = _Shift(rgb_range=1.0, rgb_mean=mean_rgb, sign=-1 if sub else 1)

    def forward(self, x):
        return self.shifter(x)


class BasicBlock(nn.Layer):
    """conv + ReLU, under ``body`` (official ``ops.BasicBlock``; the 1x1 cascading fusions)."""

    def __init__(self, in_channels, out_channels, ksize=3, stride=1, pad=1):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2D(in_channels, out_channels, ksize, stride, pad), nn.ReLU())

    def forward(self, x):
        return self.body(x)


class ResidualBlock(nn.Layer):
    """conv-ReLU-conv, + input, ReLU (official ``ops.ResidualBlock``, CARN)."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2D(in_channels, out_channels, 3, 1, 1), nn.ReLU(),
                                  nn.Conv2D(out_channels, out_channels, 3, 1, 1))

    def forward(self, x):
        return F.relu(self.body(x) + x)


class EResidualBlock(nn.Layer):
    """Efficient residual block (CARN-M): two 3x3 group convs + a 1x1 conv, + input, ReLU."""

    def __init__(self, in_channels, out_channels, group=1):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2D(in_channels, out_channels, 3, 1, 1, groups=group), nn.ReLU(),
                                  nn.Conv2D(out_channels, out_channels, 3, 1, 1, groups=group), nn.ReLU(),
                                  nn.Conv2D(out_channels, out_channels, 1, 1, 0))

    def forward(self, x):
        return F.relu(self.body(x) + x)


class _UpsampleBlock(nn.Layer):
    """Per x2 stage (or one x3 stage): group conv to r^2 n channels, ReLU, PixelShuffle(r)."""

    def __init__(self, n_channels, scale, group=1):
        super().__init__()
        stages = [2] * {2: 1, 4: 2, 8: 3}[scale] if scale in (2, 4, 8) else [3]
        layers = []
        for r in stages:
            layers += [nn.Conv2D(n_channels, r * r * n_channels, 3, 1, 1, groups=group), nn.ReLU(),
                       nn.PixelShuffle(r)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class UpsampleBlock(nn.Layer):
    """``up2``/``up3``/``up4`` (``multi_scale``) or one ``up``; ``forward(x, scale)`` picks the branch."""

    def __init__(self, n_channels, scale, multi_scale, group=1):
        super().__init__()
        self.multi_scale = multi_scale
        for s in (2, 3, 4) if multi_scale else (scale,):
            self.add_sublayer(f"up{s}" if multi_scale else "up", _UpsampleBlock(n_channels, s, group))

    def forward(self, x, scale):
        return getattr(self, f"up{scale}" if self.multi_scale else "up")(x)


class Block(nn.Layer):
    """Cascading block: three residual blocks (CARN) or one shared efficient block applied three times
    (CARN-M, ``efficient=True``), each output concatenated and fused by a 1x1 ``c{k}``."""

    def __init__(self, n_feats=64, group=1, efficient=False):
        super().__init__()
        self.efficient = efficient
        if efficient:
            self.b1 = EResidualBlock(n_feats, n_feats, group=group)
        else:
            self.b1, self.b2, self.b3 = (ResidualBlock(n_feats, n_feats) for _ in range(3))
        for k in (1, 2, 3):
            setattr(self, f"c{k}", BasicBlock(n_feats * (k + 1), n_feats, 1, 1, 0))

    def forward(self, x):
        c = o = x
        for k in (1, 2, 3):
            b = (self.b1 if self.efficient else getattr(self, f"b{k}"))(o)
            c = paddle.concat([c, b], axis=1)
            o = getattr(self, f"c{k}")(c)
        return o


class CARN(SRModel):
    """Cascading Residual Network (``efficient=True``: CARN-M).

    Args:
        scale: upscaling factor this model runs at (2, 3 or 4).
        multi_scale: build the up2/up3/up4 branches, as the released files (True), or one (``up``).
        group: groups of the efficient blocks' and upsamplers' 3x3 convs (1 CARN, 4 CARN-M).
        efficient: CARN-M's shared efficient residual block instead of three residual blocks.
        n_feats: feature channels (64 in the official code).
        value_range: range the weights work on; (0, 1) as the official weights.
    """

    def __init__(self, scale=4, multi_scale=True, group=1, efficient=False, n_feats=64, value_range=(0.0, 1.0)):
        super().__init__(value_range)
        self.scale = scale
        self.sub_mean = MeanShift(DIV2K_MEAN, sub=True)
        self.add_mean = MeanShift(DIV2K_MEAN, sub=False)
        self.entry = nn.Conv2D(3, n_feats, 3, 1, 1)
        self.b1, self.b2, self.b3 = (Block(n_feats, group=group, efficient=efficient) for _ in range(3))
        for k in (1, 2, 3):
            setattr(self, f"c{k}", BasicBlock(n_feats * (k + 1), n_feats, 1, 1, 0))
        self.upsample = UpsampleBlock(n_feats, scale, multi_scale, group=group)
        self.exit = nn.Conv2D(n_feats, 3, 3, 1, 1)
        init_like_torch(self)
        for name, p in self.upsample.named_parameters():
            if multi_scale and not name.startswith(f"up{scale}."):
                p.stop_gradient = True  # another scale's branch: not on this model's path

    def forward_native(self, x):
        x = self.entry(self.sub_mean(x))
        c = o = x
        for k in (1, 2, 3):
            c = paddle.concat([c, getattr(self, f"b{k}")(o)], axis=1)
            o = getattr(self, f"c{k}")(c)
        return self.add_mean(self.exit(self.upsample(o, self.scale)))


@register("carn", scales=(2, 3, 4))
def carn(scale=4, **kwargs):
    return CARN(scale=scale, **kwargs)


@register("carn_m", scales=(2, 3, 4))
def carn_m(scale=4, **kwargs):
    kwargs.setdefault("group", 4)
    kwargs.setdefault("efficient", True)
    return CARN(scale=scale, **kwargs)
