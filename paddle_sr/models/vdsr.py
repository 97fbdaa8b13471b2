"""VDSR — Accurate Image Super-Resolution Using Very Deep Convolutional Networks (Kim et al.,
CVPR 2016, arXiv:1511.04587).

20 convolutional layers of 64 3x3 filters with ReLU (no activation after the last), predicting the
residual that is added to the bicubic-upsampled input (Sec. 3.1-3.2); one network for x2/x3/x4
(multi-scale training, Sec. 3.3). The official code is MatConvNet/Caffe; names follow the widely
used PyTorch port twtygqyy/pytorch-vdsr (``input``, ``residual_layer.{0..17}.conv``, ``output``;
bias-free convolutions), whose released ``model_epoch_50.pth`` converts by identity.
Parameters: 664,704 (paper: "about 665k").

Y channel (Sec. 4.1 evaluation, trained on luminance): the model takes RGB LR, converts it to
YCbCr (BT.601), upsamples with MATLAB's bicubic (``common.MatlabBicubicUpsample``), runs the
network on Y and returns RGB; a 1-channel input is treated as Y. ``forward_y`` is the official
forward (upsampled Y in, Y out).

Differences from the paper / official code:
- Native range [0, 1] (``im2double``, the default ``value_range``); ``forward(lr)`` takes [-1, 1].
- No biases (as the PyTorch port; the paper does not mention them and counts ~665k weights).
- Initialisation as the port: N(0, 2 / (9 * out_channels)) (He et al., as Sec. 4.1 cites).
"""
import math

import paddle
import paddle.nn as nn

from paddle_sr.models._registry import register
from paddle_sr.models.common import MatlabBicubicUpsample, PreUpsampledYModel, normal_


class Conv_ReLU_Block(nn.Layer):
    """3x3 conv (no bias) + ReLU (the port's ``Conv_ReLU_Block``)."""

    def __init__(self, channels=64):
        super().__init__()
        self.conv = nn.Conv2D(channels, channels, 3, padding=1, bias_attr=False)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.conv(x))


class VDSR(PreUpsampledYModel):
    """Very deep residual network on the bicubic-upsampled image.

    Args:
        scale: upscaling factor of the internal bicubic pre-upsampling.
        num_layers: depth d including the first and last convolutions (20).
        num_features: filters per layer (64).
        num_channels: channels the network sees (1 = Y).
        value_range: range the weights work on (see ``common.SRModel``).
    """


    def __init__(self, scale=4, num_layers=20, num_features=64, num_channels=1, value_range=(0.0, 1.0)):
        super().__init__(value_range)
        self.upsample = MatlabBicubicUpsample(scale)
        self.residual_layer = nn.Sequential(*[Conv_ReLU_Block(num_features) for _ in range(num_layers - 2)])
        self.input = nn.Conv2D(num_channels, num_features, 3, padding=1, bias_attr=False)
        self.output = nn.Conv2D(num_features, num_channels, 3, padding=1, bias_attr=False)
        self.relu = nn.ReLU()
        for layer in self.sublayers():
            if isinstance(layer, nn.Conv2D):
                out_channels, _, kh, kw = layer.weight.shape
                normal_(layer.weight, math.sqrt(2.0 / (kh * kw * out_channels)))

    def forward_y(self, y):
        """Official forward: bicubic-upsampled Y (native range) -> SR Y."""
        out = self.relu(self.input(y))
        out = self.output(self.residual_layer(out))
        return paddle.add(out, y)


@register("vdsr", scales=(2, 3, 4))
def vdsr(scale=4, **kwargs):
    return VDSR(scale=scale, **kwargs)
