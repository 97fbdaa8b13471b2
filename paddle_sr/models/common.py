"""Blocks shared by several papers, named as in the EDSR-PyTorch ``common.py`` they come from.

``SRModel`` is the base of every registered model. It owns the value-range convention: the suite
feeds tensors in [-1, 1]; a model whose weights were trained on another range (the official EDSR /
RCAN / RLFN weights work on [0, 255]) keeps that range in the persistable buffer ``value_range``, so
it travels inside the ``.pdparams`` and a caller never has to know. ``forward_native`` is the
paper's / official forward on the native range; ``forward`` wraps it.
"""
import math

import paddle
import paddle.nn as nn

SUITE_RANGE = (-1.0, 1.0)


class SRModel(nn.Layer):
    """Base class: ``forward(lr)`` takes and returns suite tensors in [-1, 1].

    Args:
        value_range: (lo, hi) the weights work on, e.g. (0, 255) for official EDSR-family weights.
    """

    def __init__(self, value_range=SUITE_RANGE):
        super().__init__()
        self.register_buffer("value_range", paddle.to_tensor([float(v) for v in value_range], dtype="float32"))

    def _affine(self):
        # x_native = a * x_suite + b; for the suite's own range a = 1, b = 0 exactly (no rounding).
        lo, hi = self.value_range[0], self.value_range[1]
        return (hi - lo) / 2, (hi + lo) / 2

    def to_native(self, x):
        a, b = self._affine()
        return x * a + b

    def from_native(self, y):
        a, b = self._affine()
        return (y - b) / a

    def forward(self, lr):
        return self.from_native(self.forward_native(self.to_native(lr)))

    def forward_native(self, x):  # pragma: no cover - every model overrides it
        raise NotImplementedError


def default_conv(in_channels, out_channels, kernel_size, bias=True):
    """'same' convolution (EDSR-PyTorch ``common.default_conv``)."""
    return nn.Conv2D(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias_attr=None if bias else False)


def init_like_torch(model):
    """Re-initialise every trainable ``Conv2D`` / ``Linear`` in ``model`` as PyTorch's defaults do.

    PyTorch draws weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with
    a = sqrt(5)); Paddle's default is He-normal weights and zero biases, about 2.4x larger. The official
    EDSR / RCAN code trains from the PyTorch defaults, and with Paddle's a 200-block RCAN's output
    overflows float32 already at 16x16. Frozen parameters (``MeanShift``) keep their values.
    Returns ``model``.
    """
    for layer in model.sublayers(include_self=True):
        if isinstance(layer, nn.Conv2D):
            shape = layer.weight.shape  # [out, in / groups, kh, kw], fan_in as PyTorch computes it
            fan_in = shape[1] * shape[2] * shape[3]
        elif isinstance(layer, nn.Linear):
            fan_in = layer.weight.shape[0]  # Paddle stores Linear weights as [in, out]
        else:
            continue
        bound = 1.0 / math.sqrt(fan_in)
        for param in (layer.weight, layer.bias):
            if param is not None and not param.stop_gradient:
                param.set_value(paddle.uniform(param.shape, dtype=param.dtype, min=-bound, max=bound))
    return model


class MeanShift(nn.Conv2D):
    """Subtract (sign=-1) or add (sign=+1) the dataset RGB mean, as a frozen 1x1 conv.

    Kept as a convolution with frozen parameters (not a buffer) because the official checkpoints
    store ``sub_mean.weight/bias`` and ``add_mean.weight/bias`` and the official parameter counts
    include them.
    """

    def __init__(self, rgb_range=255, rgb_mean=(0.4488, 0.4371, 0.4040), rgb_std=(1.0, 1.0, 1.0), sign=-1):
        super().__init__(3, 3, kernel_size=1)
        std = paddle.to_tensor(rgb_std, dtype="float32")
        self.weight.set_value((paddle.eye(3) / std.reshape([3, 1])).reshape([3, 3, 1, 1]))
        self.bias.set_value(sign * rgb_range * paddle.to_tensor(rgb_mean, dtype="float32") / std)
        self.weight.stop_gradient = True
        self.bias.stop_gradient = True


class Upsampler(nn.Sequential):
    """conv + PixelShuffle stages: log2(scale) x2-stages for powers of two, one x3 stage for 3."""

    def __init__(self, conv, scale, n_feats, bn=False, act=False, bias=True):
        layers = []
        if scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [conv(n_feats, 4 * n_feats, 3, bias), nn.PixelShuffle(2)]
                if bn:
                    layers.append(nn.BatchNorm2D(n_feats))
                if act:
                    layers.append(act())
        elif scale == 3:
            layers += [conv(n_feats, 9 * n_feats, 3, bias), nn.PixelShuffle(3)]
            if bn:
                layers.append(nn.BatchNorm2D(n_feats))
            if act:
                layers.append(act())
        else:
            raise ValueError(f"Upsampler supports scale 3 and powers of 2, got {scale}")
        super().__init__(*layers)


def make_coord(shape, ranges=None, flatten=True):
    """Pixel-centre coordinates of a grid (LIIF ``utils.make_coord``), as a numpy float32 array.

    ``shape`` (H, W) -> (H*W, 2) with (y, x) in (-1, 1) (or ``ranges``), or (H, W, 2) if not flattened.
    Numpy (not Paddle) so data workers can use it without touching the device. Bit-identical to the
    official ``v0 + r + (2 * r) * torch.arange(n).float()``: PyTorch rounds the two Python-float
    constants to float32 and computes in float32 (float64 arithmetic differs by 1 ulp at some sizes).
    """
    import numpy as np

    axes = []
    for i, n in enumerate(shape):
        v0, v1 = (-1.0, 1.0) if ranges is None else ranges[i]
        r = (v1 - v0) / (2 * n)
        axes.append(np.float32(v0 + r) + np.float32(2 * r) * np.arange(n).astype(np.float32))
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    return grid.reshape(-1, grid.shape[-1]) if flatten else grid
