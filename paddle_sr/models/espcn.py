"""ESPCN — Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel
Convolutional Neural Network (Shi et al., CVPR 2016, arXiv:1609.05158).

The paper's image network (Sec. 3.1): l = 3, (f1, n1) = (5, 64), (f2, n2) = (3, 32), f3 = 3, tanh
activations, and a last convolution to r^2 channels rearranged by the periodic shuffle (sub-pixel
convolution) — all in LR space. No official code was released; names follow the widely used
PyTorch port yjn870/ESPCN-pytorch (``first_part.0``, ``first_part.2``, ``last_part.0``), whose
checkpoints therefore load unchanged. Parameters: 21,284 / 22,729 / 24,752 at x2 / x3 / x4.

Y channel: "we only consider the luminance channel in YCbCr colour space" (Sec. 3.1); the model
takes RGB LR, super-resolves Y with the network and Cb/Cr with MATLAB bicubic
(``common.sr_on_y``); a 1-channel input is treated as Y. ``forward_y`` is the port's forward.

Differences from the paper / official code:
- Native range [0, 1] (the default ``value_range``); ``forward(lr)`` takes [-1, 1].
- Initialisation as the port (He normal with fan-out for the first two layers, N(0, 0.001^2) for
  the last, zero biases); the paper does not state one.
"""
import math

import paddle
import paddle.nn as nn

from paddle_sr.models._registry import register
from paddle_sr.models.common import MatlabBicubicUpsample, SRModel, normal_, sr_on_y


class ESPCN(SRModel):
    """Efficient sub-pixel CNN.

    Args:
        scale: upscaling factor r (the last layer has num_channels * r^2 outputs).
        num_channels: channels the network sees (1 = Y, as the paper).
        value_range: range the weights work on (see ``common.SRModel``).
    """

    y_channel = True

    def __init__(self, scale=3, num_channels=1, value_range=(0.0, 1.0)):
        super().__init__(value_range)
        self.first_part = nn.Sequential(
            nn.Conv2D(num_channels, 64, 5, padding=2), nn.Tanh(),
            nn.Conv2D(64, 32, 3, padding=1), nn.Tanh())
        self.last_part = nn.Sequential(nn.Conv2D(32, num_channels * scale ** 2, 3, padding=1),
                                       nn.PixelShuffle(scale))
        self.upsample = MatlabBicubicUpsample(scale)  # chroma only
        for layer in (self.first_part[0], self.first_part[2], self.last_part[0]):
            out_channels, _, kh, kw = layer.weight.shape
            normal_(layer.weight, 0.001 if layer is self.last_part[0] else math.sqrt(2 / (out_channels * kh * kw)))
            layer.bias.set_value(paddle.zeros_like(layer.bias))

    def forward_y(self, y):
        """The port's forward: LR Y (native range) -> SR Y."""
        return self.last_part(self.first_part(y))

    def forward_native(self, x):
        return sr_on_y(x, self.forward_y, self.upsample, self.value_range)


@register("espcn", scales=(2, 3, 4))
def espcn(scale=3, **kwargs):
    return ESPCN(scale=scale, **kwargs)
