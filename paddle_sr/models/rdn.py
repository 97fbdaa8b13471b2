"""RDN — Residual Dense Network for Image Super-Resolution (Zhang et al., CVPR 2018, arXiv:1802.08797).

Port of the official EDSR-PyTorch ``rdn.py`` (also LIIF's encoder, yinboc/liif ``models/rdn.py``) and
of the AI Studio RDN notebook, with their parameter names (``SFENet1``, ``SFENet2``,
``RDBs.{d}.convs.{c}.conv.0``, ``RDBs.{d}.LFF``, ``GFF.{0,1}``, ``UPNet.*``) so the notebook's
``Model.pdparams`` and converted official checkpoints load with ``set_state_dict``.

Differences from the paper / official code:
- Inputs and outputs are the suite's [-1, 1] (the notebook's range). Official EDSR-PyTorch weights
  work on [0, 255]; a converted checkpoint stores that in ``value_range`` (see ``common.SRModel``).
- ``no_upsampling=True`` drops ``UPNet`` and returns the G0-channel feature map (LIIF encoder);
  the official code has the same switch.
"""
import paddle
import paddle.nn as nn

from paddle_sr.models._registry import register
from paddle_sr.models.common import SRModel, init_like_torch

CONFIGS = {"A": (20, 6, 32), "B": (16, 8, 64)}  # (D, C, G) from the paper, Sec. 5.1


class RDB_Conv(nn.Layer):
    """One densely connected 3x3 conv + ReLU; its output is concatenated to its input."""

    def __init__(self, in_channels, grow_rate, kernel_size=3):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2D(in_channels, grow_rate, kernel_size, padding=(kernel_size - 1) // 2),
                                  nn.ReLU())

    def forward(self, x):
        return paddle.concat([x, self.conv(x)], axis=1)


class RDB(nn.Layer):
    """Residual dense block: C dense convs, local feature fusion (1x1 ``LFF``), local residual."""

    def __init__(self, grow_rate0, grow_rate, num_conv_layers, kernel_size=3):
        super().__init__()
        self.convs = nn.Sequential(*[RDB_Conv(grow_rate0 + c * grow_rate, grow_rate, kernel_size)
                                     for c in range(num_conv_layers)])
        self.LFF = nn.Conv2D(grow_rate0 + num_conv_layers * grow_rate, grow_rate0, 1)

    def forward(self, x):
        return self.LFF(self.convs(x)) + x


class RDN(SRModel):
    """Residual Dense Network.

    Args:
        scale: upscaling factor r (2, 3 or 4).
        num_features: G0, channels of the shallow features and of each RDB's output (64).
        config: 'A' (D=20, C=6, G=32) or 'B' (D=16, C=8, G=64, the paper's final model); the
            explicit ``num_blocks`` (D), ``num_layers`` (C), ``growth_rate`` (G) override it.
        kernel_size: size of the 3x3 convolutions.
        n_colors: image channels.
        no_upsampling: return G0 features without ``UPNet`` (LIIF encoder).
        value_range: range the weights work on (see ``common.SRModel``).
    """

    def __init__(self, scale=4, num_features=64, config="B", num_blocks=None, num_layers=None, growth_rate=None,
                 kernel_size=3, n_colors=3, no_upsampling=False, value_range=(-1.0, 1.0)):
        super().__init__(value_range)
        D, C, G = CONFIGS[config]
        D, C, G = num_blocks or D, num_layers or C, growth_rate or G
        G0, k, pad = num_features, kernel_size, (kernel_size - 1) // 2
        self.D, self.no_upsampling = D, no_upsampling
        self.SFENet1 = nn.Conv2D(n_colors, G0, k, padding=pad)
        self.SFENet2 = nn.Conv2D(G0, G0, k, padding=pad)
        self.RDBs = nn.LayerList([RDB(G0, G, C, k) for _ in range(D)])
        self.GFF = nn.Sequential(nn.Conv2D(D * G0, G0, 1), nn.Conv2D(G0, G0, k, padding=pad))
        self.out_dim = G0 if no_upsampling else n_colors
        if not no_upsampling:
            self.UPNet = self._upnet(scale, G0, G, k, pad, n_colors)
        # The official code trains from PyTorch's default init; Paddle's He-normal default makes the
        # untrained 16-block network's output explode (std ~8e3 on [-1, 1] input).
        init_like_torch(self)

    @staticmethod
    def _upnet(scale, G0, G, k, pad, n_colors):
        if scale in (2, 3):
            return nn.Sequential(nn.Conv2D(G0, G * scale * scale, k, padding=pad), nn.PixelShuffle(scale),
                                 nn.Conv2D(G, n_colors, k, padding=pad))
        if scale == 4:
            return nn.Sequential(nn.Conv2D(G0, G * 4, k, padding=pad), nn.PixelShuffle(2),
                                 nn.Conv2D(G, G * 4, k, padding=pad), nn.PixelShuffle(2),
                                 nn.Conv2D(G, n_colors, k, padding=pad))
        raise ValueError(f"RDN supports scale 2, 3 or 4, got {scale}")

    def forward_native(self, x):
        f_1 = self.SFENet1(x)
        x = self.SFENet2(f_1)
        outs = []
        for block in self.RDBs:
            x = block(x)
            outs.append(x)
        x = self.GFF(paddle.concat(outs, axis=1)) + f_1
        return x if self.no_upsampling else self.UPNet(x)

    def forward(self, lr):
        # The encoder returns features, which have no image range to map back to.
        if self.no_upsampling:
            return self.forward_native(self.to_native(lr))
        return super().forward(lr)


@register("rdn", scales=(2, 3, 4))
def rdn(scale=4, **kwargs):
    return RDN(scale=scale, **kwargs)

