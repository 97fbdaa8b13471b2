"""DRCN — Deeply-Recursive Convolutional Network for Image Super-Resolution (Kim et al., CVPR 2016,
arXiv:1511.04491). Not the domain-adaptation "DRCN" whose code the survey shows.

The advanced model (Sec. 3.2, Fig. 3): embedding net (two 3x3 conv + ReLU), an inference net of one
3x3 conv + ReLU applied D = 16 times with shared weights, a reconstruction net (3x3 conv + ReLU,
3x3 conv to the image) shared by all recursions, a skip connection adding the interpolated input
to every intermediate prediction, and the final output as the learned weighted sum of the D
intermediate predictions, y = sum_d w_d * y_d. F = 256 filters. Recursive supervision (Sec. 3.3):
    L = alpha / (2DN) sum_d sum_i ||y_i - y_d,i||^2 + (1 - alpha) / (2N) sum_i ||y_i - y_i'||^2 + beta ||W||^2
needs the intermediate predictions: ``forward_all(lr) -> (sr, [sr_1 .. sr_D])`` (suite range) and
``forward_y_all(y)`` (native Y); ``forward`` returns the ensemble only. Parameters: 1,775,121 =
the paper's 1,774,080 weights + 1,025 biases + 16 ensemble weights.

The official code is MatConvNet and not public as PyTorch; names are the paper's sub-networks
(``embedding_net.{0,2}``, ``inference_net.0``, ``reconstruction_net.{0,2}``) and the ensemble
weights ``layer_weight`` (the name of the widely used TF reimplementation jiny2001/deeply-recursive-cnn-tf).

Y channel (trained and evaluated on luminance): RGB LR in, YCbCr (BT.601), MATLAB-bicubic
upsampling of all channels inside the model (``common.MatlabBicubicUpsample``), network on Y, RGB
out; a 1-channel input is treated as Y.

Differences from the paper / official code:
- Native range [0, 1] (the default ``value_range``); ``forward(lr)`` takes [-1, 1].
- No ReLU after the last reconstruction convolution: with the skip connection it predicts a
  residual, which must be able to be negative (the paper's Eq. for the basic model, without skip,
  ends in a ReLU).
- Ensemble weights are used as learned, not renormalised to sum 1 (the paper's y = sum w_d y_d);
  initialised to 1/D so the untrained ensemble is the mean.
- Initialisation as the paper (Sec. 4.2): He normal (fan-in) for the non-recursive convolutions,
  zero except self-connections (identity) for the recursive one, zero biases.
"""
import math

import paddle
import paddle.nn as nn

from paddle_sr.models._registry import register
from paddle_sr.models.common import MatlabBicubicUpsample, PreUpsampledYModel, normal_, rgb_to_ycbcr, ycbcr_to_rgb


def _conv(in_channels, out_channels):
    return nn.Conv2D(in_channels, out_channels, 3, padding=1)


class DRCN(PreUpsampledYModel):
    """Deeply-recursive CNN with recursive supervision and skip connection.

    Args:
        scale: upscaling factor of the internal bicubic pre-upsampling.
        num_recursions: D, recursions of the shared inference convolution (16).
        num_features: F, filters of every hidden layer (256).
        num_channels: channels the network sees (1 = Y).
        value_range: range the weights work on (see ``common.SRModel``).
    """


    def __init__(self, scale=2, num_recursions=16, num_features=256, num_channels=1, value_range=(0.0, 1.0)):
        super().__init__(value_range)
        self.num_recursions = num_recursions
        self.upsample = MatlabBicubicUpsample(scale)
        self.embedding_net = nn.Sequential(_conv(num_channels, num_features), nn.ReLU(),
                                           _conv(num_features, num_features), nn.ReLU())
        self.inference_net = nn.Sequential(_conv(num_features, num_features), nn.ReLU())
        self.reconstruction_net = nn.Sequential(_conv(num_features, num_features), nn.ReLU(),
                                                _conv(num_features, num_channels))
        self.layer_weight = self.create_parameter(
            [num_recursions], default_initializer=nn.initializer.Constant(1.0 / num_recursions))
        for layer in self.sublayers():
            if isinstance(layer, nn.Conv2D):
                _, in_channels, kh, kw = layer.weight.shape
                normal_(layer.weight, math.sqrt(2.0 / (in_channels * kh * kw)))
                layer.bias.set_value(paddle.zeros_like(layer.bias))
        # Recursive conv: identity (each filter passes its own channel through its centre tap).
        eye = paddle.eye(num_features).reshape([num_features, num_features, 1, 1])
        self.inference_net[0].weight.set_value(nn.functional.pad(eye, [1, 1, 1, 1]))

    def forward_y_all(self, y):
        """Bicubic-upsampled Y (native range) -> (ensemble prediction, [D intermediate predictions])."""
        h = self.embedding_net(y)
        preds = []
        for _ in range(self.num_recursions):
            h = self.inference_net(h)
            preds.append(self.reconstruction_net(h) + y)  # skip connection on every prediction
        stacked = paddle.stack(preds, axis=0)
        out = (self.layer_weight.reshape([-1, 1, 1, 1, 1]) * stacked).sum(axis=0)
        return out, preds

    def forward_y(self, y):
        """Official forward: bicubic-upsampled Y -> ensemble Y."""
        return self.forward_y_all(y)[0]


    def forward_all(self, lr):
        """Suite LR -> (SR, [SR_1 .. SR_D]) in the suite range, for the recursive-supervision loss.

        Colour inputs share one bicubic Cb/Cr; the intermediates differ only in Y.
        """
        x = self.to_native(lr)
        if x.shape[1] == 1:
            out, preds = self.forward_y_all(self.upsample(x))
        else:
            ycc = rgb_to_ycbcr(x, self.value_range)
            cbcr = self.upsample(ycc[:, 1:])
            out, preds = self.forward_y_all(self.upsample(ycc[:, :1]))
            out, preds = self._to_rgb(out, cbcr), [self._to_rgb(p, cbcr) for p in preds]
        return self.from_native(out), [self.from_native(p) for p in preds]

    def _to_rgb(self, y, cbcr):
        return ycbcr_to_rgb(paddle.concat([y, cbcr], axis=1), self.value_range)


@register("drcn", scales=(2, 3, 4))
def drcn(scale=2, **kwargs):
    return DRCN(scale=scale, **kwargs)
