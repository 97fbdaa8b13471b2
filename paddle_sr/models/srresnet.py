"""SRResNet and the SRGAN discriminator — Photo-Realistic Single Image Super-Resolution Using a
Generative Adversarial Network (Ledig et al., CVPR 2017, arXiv:1609.04802).

The generator (paper Fig. 4, top) keeps the parameter names of the AI Studio SRGAN notebook (``conv1``,
``prelu``, ``rb_{i}.conv1/bn1/prelu/conv2/bn2``, ``conv2``, ``bn``, ``us{k}.conv/prelu``, ``conv3``),
so the notebook's ``srresnet.pdparams`` / ``srgan_g.pdparams`` load with ``set_state_dict`` into
``create('srresnet', scale=4, act='relu')``.

Differences from the paper / notebook:
- Inputs and outputs are the suite's [-1, 1] for LR and SR (the notebook's convention). The paper fed
  LR in [0, 1] and trained on HR in [-1, 1]; the output has no final activation in either.
- ``act='prelu'`` (default) is the paper. ``prelu='channel'`` (default) learns one slope per channel, as
  the paper's framework (Theano/Lasagne ``ParametricRectifierLayer``, shared_axes 'auto') and Keras'
  ``PReLU(shared_axes=[1, 2])`` do: a real SRResNet trained on DIV2K has slopes that differ by up to 1.8
  within a layer, which one shared slope cannot hold (Set5 x4 32.0 -> 11.9 dB when forced to one).
  ``prelu='shared'`` is PyTorch's ``nn.PReLU()`` (one slope per layer), which the suite used before and
  which ``.pdparams`` trained with it need (slopes initialised to 0.25 either way). ``act='relu'`` is the
  notebook's variant (its author swapped PReLU for ReLU); it has no activation parameters, which is what
  makes its files load.
- ``bn_eps``: BatchNorm epsilon (PyTorch / Paddle 1e-5; Keras 1e-3, Lasagne 1e-4), for converted weights.
- ``norm=False`` drops every BatchNorm (the BN-free variant popularised by EDSR); the paper uses BN.
- ``scale=2`` uses one upsampling block (``us1``), ``scale=4`` two, as the paper's x4 network.
- ``SRGANDiscriminator`` follows the paper (LeakyReLU slope 0.2, symmetric padding 1) where the notebook
  used Paddle's default slope 0.01 and padding [1, 0, 1, 0] on the strided convs, and it derives the
  dense layer's input size from the HR patch size instead of a global constant.
"""
import paddle
import paddle.nn as nn

from paddle_sr.core.errors import SRError
from paddle_sr.models._registry import register
from paddle_sr.models.common import SRModel


def _act(act, channels, prelu):
    if act == "prelu":
        if prelu not in ("channel", "shared"):
            raise SRError(f"SRResNet prelu must be 'channel' (one slope per channel, the paper) or 'shared' "
                          f"(one per layer, torch nn.PReLU()), got {prelu!r}")
        return nn.PReLU(num_parameters=channels if prelu == "channel" else 1, init=0.25)
    if act == "relu":
        return nn.ReLU()
    raise SRError(f"SRResNet act must be 'prelu' (paper) or 'relu' (SRGAN notebook), got {act!r}")


def _norm(channels, norm, eps):
    return nn.BatchNorm2D(channels, epsilon=eps) if norm else nn.Identity()


class RB(nn.Layer):
    """Residual block: conv-BN-act-conv-BN plus identity (paper: k3n64s1)."""

    def __init__(self, channels=64, act="prelu", norm=True, prelu="channel", bn_eps=1e-5):
        super().__init__()
        self.conv1 = nn.Conv2D(channels, channels, 3, 1, 1)
        self.bn1 = _norm(channels, norm, bn_eps)
        self.prelu = _act(act, channels, prelu)  # the notebook names this sub-layer ``prelu`` even when it is a ReLU
        self.conv2 = nn.Conv2D(channels, channels, 3, 1, 1)
        self.bn2 = _norm(channels, norm, bn_eps)

    def forward(self, x):
        return x + self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(x)))))


class US(nn.Layer):
    """Upsampling block: conv to 4C channels, PixelShuffle(2), activation (paper: k3n256s1)."""

    def __init__(self, channels=64, act="prelu", prelu="channel"):
        super().__init__()
        self.conv = nn.Conv2D(channels, channels * 4, 3, 1, 1)
        self.ps = nn.PixelShuffle(2)
        self.prelu = _act(act, channels, prelu)  # after the shuffle: ``channels`` slopes

    def forward(self, x):
        return self.prelu(self.ps(self.conv(x)))


class SRResNet(SRModel):
    """SRResNet generator (also SRGAN's generator).

    Args:
        scale: 2 or 4 (one x2 pixel-shuffle block per factor of two).
        channels: feature channels (paper: 64).
        num_blocks: residual blocks B (paper: 16).
        act: 'prelu' (paper) or 'relu' (SRGAN notebook variant).
        prelu: 'channel' (one PReLU slope per channel, the paper's framework) or 'shared' (one per layer).
        norm: BatchNorm in the residual blocks and after ``conv2`` (paper: True).
        bn_eps: BatchNorm epsilon.
        n_colors: image channels.
        value_range: range the weights work on (see ``common.SRModel``).
    """

    def __init__(self, scale=4, channels=64, num_blocks=16, act="prelu", norm=True, n_colors=3,
                 value_range=(-1.0, 1.0), prelu="channel", bn_eps=1e-5):
        super().__init__(value_range)
        if scale not in (2, 4):
            raise SRError(f"SRResNet supports scale 2 or 4, got {scale}")
        self.conv1 = nn.Conv2D(n_colors, channels, 9, 1, 4)
        self.prelu = _act(act, channels, prelu)
        # add_sublayer with the notebook's names rb_0 ... rb_{B-1} (not a LayerList, whose keys differ).
        self.rb_list = [self.add_sublayer(f"rb_{i}", RB(channels, act, norm, prelu, bn_eps)) for i in range(num_blocks)]
        self.conv2 = nn.Conv2D(channels, channels, 3, 1, 1)
        self.bn = _norm(channels, norm, bn_eps)
        self.us_list = [self.add_sublayer(f"us{k + 1}", US(channels, act, prelu)) for k in range(scale // 2)]
        self.conv3 = nn.Conv2D(channels, n_colors, 9, 1, 4)

    def forward_native(self, x):
        x = self.prelu(self.conv1(x))
        y = x
        for rb in self.rb_list:
            y = rb(y)
        y = x + self.bn(self.conv2(y))
        for us in self.us_list:
            y = us(y)
        return self.conv3(y)


@register("srresnet", scales=(2, 4))
def srresnet(scale=4, **kwargs):
    return SRResNet(scale=scale, **kwargs)


class CNA(nn.Layer):
    """conv-BN-LeakyReLU(0.2), the discriminator's repeated block."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv = nn.Conv2D(in_channels, out_channels, 3, stride, 1)
        self.bn = nn.BatchNorm2D(out_channels)
        self.lrelu = nn.LeakyReLU(0.2)

    def forward(self, x):
        return self.lrelu(self.bn(self.conv(x)))


class SRGANDiscriminator(nn.Layer):
    """SRGAN discriminator (paper Fig. 4, bottom): real/fake probability of an HR patch.

    The notebook's ``srgan_d.pdparams`` cannot be loaded faithfully: its ``D`` registers two different
    Linear layers under the one name ``fc1`` (``add_sublayer`` replaces the first), so the 1024-unit
    dense layer is used in ``forward`` but absent from ``parameters()`` and ``state_dict()``. Checked in
    Paddle 3.0: the saved file holds only ``fc1.weight`` [1024, 1] / ``fc1.bias`` [1] (the last layer),
    and the first dense layer was never updated by the optimizer and never saved, so its weights are
    lost (test_srresnet_vgg.py::test_notebook_discriminator_loses_first_dense_layer).

    Args:
        hr_patch_size: HR patch side (int) or (height, width); must be divisible by 16 (four stride-2 convs).
        channels: channels of the first conv (paper: 64); blocks use 1x, 2x, 2x, 4x, 4x, 8x, 8x.
        logits: return raw scores (for BCE-with-logits) instead of sigmoid probabilities.
        n_colors: image channels.
    """

    def __init__(self, hr_patch_size=96, channels=64, logits=False, n_colors=3):
        super().__init__()
        h, w = (hr_patch_size, hr_patch_size) if isinstance(hr_patch_size, int) else tuple(hr_patch_size)
        if h % 16 or w % 16 or h <= 0 or w <= 0:
            raise SRError(f"SRGANDiscriminator needs an HR patch size divisible by 16 (it halves the patch four "
                          f"times), got {h}x{w}; set the recipe's HR patch (LR patch x scale) to e.g. 96 or 128")
        self.patch, self.logits = (h, w), logits
        c = channels
        self.conv = nn.Conv2D(n_colors, c, 3, 1, 1)
        self.lrelu1 = nn.LeakyReLU(0.2)
        plan = [(c, c, 2), (c, 2 * c, 1), (2 * c, 2 * c, 2), (2 * c, 4 * c, 1),
                (4 * c, 4 * c, 2), (4 * c, 8 * c, 1), (8 * c, 8 * c, 2)]
        self.cnas = [self.add_sublayer(f"cna{i + 1}", CNA(*p)) for i, p in enumerate(plan)]
        self.fc1 = nn.Linear((h // 16) * (w // 16) * 8 * c, 16 * c)
        self.lrelu2 = nn.LeakyReLU(0.2)
        self.fc2 = nn.Linear(16 * c, 1)

    def forward(self, hr):
        if tuple(hr.shape[-2:]) != self.patch:
            raise SRError(f"SRGANDiscriminator was built for {self.patch[0]}x{self.patch[1]} HR patches, got "
                          f"{hr.shape[-2]}x{hr.shape[-1]}; build it with hr_patch_size equal to the training patch")
        x = self.lrelu1(self.conv(hr))
        for cna in self.cnas:
            x = cna(x)
        x = self.fc2(self.lrelu2(self.fc1(paddle.flatten(x, 1))))
        return x if self.logits else nn.functional.sigmoid(x)
