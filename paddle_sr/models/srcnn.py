"""SRCNN — Image Super-Resolution Using Deep Convolutional Networks (Dong et al., TPAMI 2016,
arXiv:1501.00092; extends "Learning a Deep Convolutional Network for Image Super-Resolution", ECCV 2014).

Port of the 9-5-5 network (n1 = 64, n2 = 32, the paper's best setting, Sec. 4.3) with the names of
the widely used PyTorch port yjn870/SRCNN-pytorch (``conv1``, ``conv2``, ``conv3``), which has
converted x2/x3/x4 weights; the official code is Caffe (training) + MATLAB (``SRCNN.m``, testing).
Parameters: 57,281 (paper: 57,184 weights, i.e. without the 97 biases).

The network works on the luminance of a bicubic-upsampled image (Sec. 4.1: "we only consider the
luminance channel (in YCbCr colour space)"); here the model takes the LR RGB image like every suite
model, converts it to YCbCr (BT.601, MATLAB ``rgb2ycbcr``), upsamples all three channels with
MATLAB's bicubic (``common.MatlabBicubicUpsample``), runs the network on Y and returns RGB. A
1-channel input is treated as Y. ``forward_y`` is the official forward (upsampled Y in, Y out).

Differences from the paper / official code:
- Native range [0, 1] (``im2double``), the default ``value_range``; ``forward(lr)`` takes [-1, 1].
- 'same' zero padding as in the PyTorch port (the Caffe training used no padding and a 21x21 loss
  window; the official MATLAB test pads by replication: ``padding_mode='replicate'`` for it).
- Initialisation as the paper (Sec. 4: N(0, 0.001^2) weights, zero biases); the PyTorch port keeps
  PyTorch's defaults. The last layer's learning rate is 1/10 of the others' (Sec. 4, a Paddle
  ``ParamAttr`` multiplier: it applies to whatever optimizer trains the model).
- One network serves any integer scale (the input is pre-upsampled); the paper trains one per scale.
"""
import paddle
import paddle.nn as nn

from paddle_sr.models._registry import register
from paddle_sr.models.common import MatlabBicubicUpsample, PreUpsampledYModel, normal_


class SRCNN(PreUpsampledYModel):
    """SRCNN f1-f2-f3 with n1/n2 filters (9-5-5, 64/32 by default).

    Args:
        scale: upscaling factor of the internal bicubic pre-upsampling.
        num_channels: channels the network sees (1 = Y, as the paper).
        n1, n2: filters of the first two layers.
        f1, f2, f3: kernel sizes.
        padding_mode: 'zeros' (PyTorch port) or 'replicate' (official MATLAB test code).
        value_range: range the weights work on (see ``common.SRModel``).
    """


    def __init__(self, scale=3, num_channels=1, n1=64, n2=32, f1=9, f2=5, f3=5, padding_mode="zeros",
                 value_range=(0.0, 1.0)):
        super().__init__(value_range)
        self.upsample = MatlabBicubicUpsample(scale)
        conv = lambda i, o, k, lr=1.0: nn.Conv2D(  # noqa: E731
            i, o, k, padding=k // 2, padding_mode=padding_mode,
            weight_attr=paddle.ParamAttr(learning_rate=lr), bias_attr=paddle.ParamAttr(learning_rate=lr))
        self.conv1 = conv(num_channels, n1, f1)
        self.conv2 = conv(n1, n2, f2)
        # Sec. 4: "the learning rate is 10^-4 for the first two layers, and 10^-5 for the last layer".
        self.conv3 = conv(n2, num_channels, f3, lr=0.1)
        for layer in (self.conv1, self.conv2, self.conv3):
            normal_(layer.weight, 0.001)
            layer.bias.set_value(paddle.zeros_like(layer.bias))
        self.relu = nn.ReLU()

    def forward_y(self, y):
        """Official forward: bicubic-upsampled Y (native range) -> SR Y."""
        x = self.relu(self.conv1(y))
        x = self.relu(self.conv2(x))
        return self.conv3(x)


@register("srcnn", scales=(2, 3, 4))
def srcnn(scale=3, **kwargs):
    return SRCNN(scale=scale, **kwargs)
