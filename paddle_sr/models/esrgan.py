"""ESRGAN — Enhanced Super-Resolution Generative Adversarial Networks (Wang et al., ECCV Workshops 2018,
arXiv:1809.00219).

Port of the official generator ``RRDBNet`` and discriminator ``VGGStyleDiscriminator`` of
XPixelGroup/BasicSR (``basicsr/archs/rrdbnet_arch.py``, ``discriminator_arch.py``; the code base of
xinntao/ESRGAN's current release) with their parameter names: ``conv_first``,
``body.{i}.rdb{1,2,3}.conv{1..5}``, ``conv_body``, ``conv_up1``, ``conv_up2``, ``conv_hr``, ``conv_last``
and ``conv{k}_{0,1}`` / ``bn{k}_{0,1}`` / ``linear{1,2}``, so BasicSR ``.pth`` files convert by identity
(Linear weights transposed; BatchNorm ``running_mean``/``running_var`` are Paddle's ``_mean``/``_variance``).
The paper's x4 generator: 23 RRDBs, 64 features, growth 32, LeakyReLU 0.2, residual scaling 0.2 in each
dense block and each RRDB, two nearest-neighbour x2 upsamplings each followed by a conv (16,697,987
parameters). The relativistic average GAN loss and the pre-activation VGG19 conv5_4 perceptual loss
(``VGG19FeatureExtractor('conv5_4', use_relu=False)``) belong to the training recipe.

Differences from the paper / official code:
- ``forward`` takes and returns the suite's [-1, 1]; the official weights work on [0, 1]
  (``value_range=(0, 1)``, see ``common.SRModel``).
- Scale 2 follows BasicSR's extension (pixel-unshuffle of the input by 2, 12 input channels); the
  paper is x4 only. For an odd LR side at x2 the input is reflect-padded at the bottom/right to even
  and the output cropped back, as Real-ESRGAN's inference does (BasicSR's network alone would fail).
- Initialisation as BasicSR: the dense-block convs kaiming-normal x 0.1 with zero bias, every other
  conv PyTorch's default (``common.init_like_torch``).
"""
import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddle_sr.core.errors import SRError
from paddle_sr.models._registry import register
from paddle_sr.models.common import SRModel, init_like_torch


def _kaiming_scaled(conv, scale=0.1):
    """BasicSR ``default_init_weights``: kaiming_normal (fan_in, ReLU gain) x ``scale``, bias 0."""
    shape = conv.weight.shape
    std = math.sqrt(2.0 / (shape[1] * shape[2] * shape[3]))
    conv.weight.set_value(paddle.normal(0.0, std, shape) * scale)
    conv.bias.set_value(paddle.zeros_like(conv.bias))


def pixel_unshuffle2(x):
    """BasicSR ``pixel_unshuffle(x, 2)``: channel ``c * 4 + 2 * i + j`` holds ``x[c, 2y + i, 2x + j]``.

    Built from strided slices rather than ``F.pixel_unshuffle``, whose shape inference rejects the
    unknown H/W of an exported graph.
    """
    phases = [x[:, :, i::2, j::2] for i in (0, 1) for j in (0, 1)]
    return paddle.flatten(paddle.stack(phases, axis=2), start_axis=1, stop_axis=2)


class ResidualDenseBlock(nn.Layer):
    """Five densely connected 3x3 convs (growth ``num_grow_ch``); output x 0.2 plus the input."""

    def __init__(self, num_feat=64, num_grow_ch=32):
        super().__init__()
        g = num_grow_ch
        self.conv1 = nn.Conv2D(num_feat, g, 3, 1, 1)
        self.conv2 = nn.Conv2D(num_feat + g, g, 3, 1, 1)
        self.conv3 = nn.Conv2D(num_feat + 2 * g, g, 3, 1, 1)
        self.conv4 = nn.Conv2D(num_feat + 3 * g, g, 3, 1, 1)
        self.conv5 = nn.Conv2D(num_feat + 4 * g, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2)

    def forward(self, x):
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(paddle.concat([x, x1], 1)))
        x3 = self.lrelu(self.conv3(paddle.concat([x, x1, x2], 1)))
        x4 = self.lrelu(self.conv4(paddle.concat([x, x1, x2, x3], 1)))
        x5 = self.conv5(paddle.concat([x, x1, x2, x3, x4], 1))
        return x5 * 0.2 + x


class RRDB(nn.Layer):
    """Residual in residual dense block: three dense blocks, output x 0.2 plus the input."""

    def __init__(self, num_feat, num_grow_ch=32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x):
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(SRModel):
    """ESRGAN generator.

    Args:
        scale: 4 (paper) or 2 (BasicSR: pixel-unshuffled input, same x4 upsampling tail).
        num_feat: feature channels (64).
        num_block: RRDBs in the trunk (23).
        num_grow_ch: growth channels of each dense block (32).
        num_in_ch, num_out_ch: image channels.
        value_range: range the weights work on; (0, 1) as the official code.
    """

    def __init__(self, scale=4, num_feat=64, num_block=23, num_grow_ch=32, num_in_ch=3, num_out_ch=3,
                 value_range=(0.0, 1.0)):
        super().__init__(value_range)
        if scale not in (2, 4):
            raise SRError(f"ESRGAN (RRDBNet) supports scale 2 or 4, got {scale}")
        self.scale = scale
        in_ch = num_in_ch * 4 if scale == 2 else num_in_ch
        self.conv_first = nn.Conv2D(in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2D(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2D(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2D(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2D(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2D(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2)
        init_like_torch(self)
        for block in self.body:
            for rdb in (block.rdb1, block.rdb2, block.rdb3):
                for conv in (rdb.conv1, rdb.conv2, rdb.conv3, rdb.conv4, rdb.conv5):
                    _kaiming_scaled(conv, 0.1)

    def forward_native(self, x):
        if self.scale == 2:
            h, w = paddle.shape(x)[2], paddle.shape(x)[3]
            # Reflect-pad an odd side to even (Real-ESRGAN inference); a no-op pad for even sides.
            x = F.pad(x, paddle.stack([paddle.zeros_like(w), w % 2, paddle.zeros_like(h), h % 2]).astype("int32"),
                      mode="reflect")
            feat = pixel_unshuffle2(x)
        else:
            feat = x
        feat = self.conv_first(feat)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        out = self.conv_last(self.lrelu(self.conv_hr(feat)))
        if self.scale == 2:
            out = out[:, :, :2 * h, :2 * w]
        return out


@register("esrgan", scales=(2, 4))
def esrgan(scale=4, **kwargs):
    return RRDBNet(scale=scale, **kwargs)


class VGGStyleDiscriminator(nn.Layer):
    """ESRGAN's discriminator (BasicSR ``VGGStyleDiscriminator``): one raw score per HR patch.

    Trained with the relativistic average loss (paper Eq. 1-2), so it returns logits. Input in the
    generator's native range as BasicSR feeds it ([0, 1] for official weights).

    Args:
        num_in_ch: image channels.
        num_feat: channels of the first conv (64); the stages use 1x, 2x, 4x, 8x, 8x (and 8x at 256).
        input_size: HR patch side, 128 (paper) or 256.
    """

    def __init__(self, num_in_ch=3, num_feat=64, input_size=128):
        super().__init__()
        if input_size not in (128, 256):
            raise SRError(f"VGGStyleDiscriminator takes 128x128 or 256x256 HR patches, got {input_size}; "
                          f"train with an HR patch (LR patch x scale) of 128 or 256")
        self.input_size = input_size
        c = num_feat
        plan = [(c, c), (c, 2 * c), (2 * c, 4 * c), (4 * c, 8 * c), (8 * c, 8 * c)]
        if input_size == 256:
            plan.append((8 * c, 8 * c))
        self.conv0_0 = nn.Conv2D(num_in_ch, c, 3, 1, 1)
        self.conv0_1 = nn.Conv2D(c, c, 4, 2, 1, bias_attr=False)
        self.bn0_1 = nn.BatchNorm2D(c)
        for k, (cin, cout) in enumerate(plan[1:], 1):
            setattr(self, f"conv{k}_0", nn.Conv2D(cin, cout, 3, 1, 1, bias_attr=False))
            setattr(self, f"bn{k}_0", nn.BatchNorm2D(cout))
            setattr(self, f"conv{k}_1", nn.Conv2D(cout, cout, 4, 2, 1, bias_attr=False))
            setattr(self, f"bn{k}_1", nn.BatchNorm2D(cout))
        self.num_stages = len(plan)
        self.linear1 = nn.Linear(8 * c * 4 * 4, 100)
        self.linear2 = nn.Linear(100, 1)
        self.lrelu = nn.LeakyReLU(0.2)
        init_like_torch(self)  # BasicSR builds it with PyTorch's default init

    def forward(self, x):
        if x.shape[2] != self.input_size or x.shape[3] != self.input_size:
            raise SRError(f"VGGStyleDiscriminator was built for {self.input_size}x{self.input_size} HR patches, "
                          f"got {x.shape[2]}x{x.shape[3]}")
        feat = self.lrelu(self.conv0_0(x))
        feat = self.lrelu(self.bn0_1(self.conv0_1(feat)))
        for k in range(1, self.num_stages):
            feat = self.lrelu(getattr(self, f"bn{k}_0")(getattr(self, f"conv{k}_0")(feat)))
            feat = self.lrelu(getattr(self, f"bn{k}_1")(getattr(self, f"conv{k}_1")(feat)))
        feat = self.lrelu(self.linear1(paddle.flatten(feat, 1)))
        return self.linear2(feat)


class UnitRangeVGGStyleDiscriminator(VGGStyleDiscriminator):
    """ESRGAN's discriminator fed as BasicSR feeds it: [0, 1] images (from the suite's [-1, 1])."""

    def forward(self, x):
        return super().forward((x + 1) / 2)
