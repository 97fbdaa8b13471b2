"""DRRN — Image Super-Resolution via Deep Recursive Residual Network (Tai et al., CVPR 2017).

B1U25 by default (the paper's best, Sec. 4): one recursive block of U = 25 residual units whose two
3x3 convolutions (128 filters) are shared by all units, pre-activation units (BN-ReLU-conv, Fig. 3,
after He et al.'s identity mappings), every unit adding the block's first convolution (multi-path
local residual learning), and a global residual to the bicubic-upsampled input: depth 2U + 2 = 52.

The official code (tyshiwo/DRRN_CVPR17) is Caffe; its prototxt has a BatchNorm + Scale before every
ReLU (including one on the 1-channel input), each unit with its own BN (only the convolutions are
shared) and biased convolutions. That is the default here (``variant='official'``, 310,659
parameters). The widely used PyTorch port (jt827859032/DRRN-pytorch and its copies, names
``input``, ``conv1``, ``conv2``, ``output``) drops BN and biases: ``variant='pytorch'`` reproduces
it key for key and output for output (297,216 parameters = the paper's "297K", which counts
convolution weights only). The port's in-place ``ReLU`` on ``out`` in the first unit also rectifies
``inputs``, which every unit then adds; its trained weights depend on that, so that variant adds
``relu(inputs)``. BN names: ``bn_input``, ``bn1.{u}``, ``bn2.{u}``, ``bn_output``
(Caffe ``bn_conv1``, ``bn_conv1_{u}a``, ``bn_conv1_{u}b``, ``bn_conv_end`` with their Scale).

Y channel (trained on luminance, evaluated on Y): RGB LR in, YCbCr (BT.601), MATLAB-bicubic
upsampling inside the model (``common.MatlabBicubicUpsample``), network on Y, RGB out; a 1-channel
input is treated as Y. ``forward_y`` is the official forward (upsampled Y in, Y out).

Differences from the paper / official code:
- Native range [0, 1] (``im2double``, the default ``value_range``); ``forward(lr)`` takes [-1, 1].
- Only B = 1 recursive block (B1U9 and B1U25, the released models); B > 1 is not built.
- BN running statistics use Paddle's momentum 0.9 (PyTorch 0.1); Caffe's BatchNorm keeps a
  normalised moving average (fraction 0.999). Eval-mode outputs for given statistics are equal.
- Initialisation as the official prototxt: MSRA (He normal, fan-in), zero biases, BN scale 1 / shift 0;
  its bias ``lr_mult: 0.1`` is a Paddle ``ParamAttr`` learning-rate multiplier on the biases.
"""
import math

import paddle
import paddle.nn as nn

from paddle_sr.models._registry import register
from paddle_sr.models.common import MatlabBicubicUpsample, PreUpsampledYModel, normal_


class DRRN(PreUpsampledYModel):
    """Deep recursive residual network, one recursive block.

    Args:
        scale: upscaling factor of the internal bicubic pre-upsampling.
        num_units: U, residual units sharing the two convolutions (25; 9 for B1U9).
        num_features: filters per convolution (128).
        num_channels: channels the network sees (1 = Y).
        variant: 'official' (Caffe prototxt: pre-activation BN, biased convs) or 'pytorch' (the
            PyTorch port: no BN, no biases, rectified unit residual).
        value_range: range the weights work on (see ``common.SRModel``).
    """


    def __init__(self, scale=4, num_units=25, num_features=128, num_channels=1, variant="official",
                 value_range=(0.0, 1.0)):
        super().__init__(value_range)
        if variant not in ("official", "pytorch"):
            raise ValueError(f"DRRN variant must be 'official' or 'pytorch', got {variant!r}")
        self.num_units, self.variant = num_units, variant
        batch_norm = bias = variant == "official"
        self.upsample = MatlabBicubicUpsample(scale)
        # Official prototxt: bias lr_mult 0.1 (a ParamAttr multiplier here).
        conv = lambda i, o: nn.Conv2D(  # noqa: E731
            i, o, 3, padding=1, bias_attr=paddle.ParamAttr(learning_rate=0.1) if bias else False)
        self.input = conv(num_channels, num_features)
        self.conv1 = conv(num_features, num_features)
        self.conv2 = conv(num_features, num_features)
        self.output = conv(num_features, num_channels)
        self.relu = nn.ReLU()
        bn = (lambda c: nn.BatchNorm2D(c)) if batch_norm else (lambda c: nn.Identity())  # noqa: E731
        self.bn_input = bn(num_channels)
        self.bn1 = nn.LayerList([bn(num_features) for _ in range(num_units)])
        self.bn2 = nn.LayerList([bn(num_features) for _ in range(num_units)])
        self.bn_output = bn(num_features)
        for layer in (self.input, self.conv1, self.conv2, self.output):
            _, in_channels, kh, kw = layer.weight.shape
            normal_(layer.weight, math.sqrt(2.0 / (in_channels * kh * kw)))
            if layer.bias is not None:
                layer.bias.set_value(paddle.zeros_like(layer.bias))

    def forward_y(self, y):
        """Official forward: bicubic-upsampled Y (native range) -> SR Y."""
        inputs = self.input(self.relu(self.bn_input(y)))
        out = inputs
        if self.variant == "pytorch":
            inputs = self.relu(inputs)  # the port's in-place ReLU in unit 1 rectifies its residual too
        for u in range(self.num_units):
            out = self.conv1(self.relu(self.bn1[u](out)))
            out = self.conv2(self.relu(self.bn2[u](out)))
            out = paddle.add(out, inputs)
        out = self.output(self.relu(self.bn_output(out)))
        return paddle.add(out, y)


@register("drrn", scales=(2, 3, 4))
def drrn(scale=4, **kwargs):
    return DRRN(scale=scale, **kwargs)
