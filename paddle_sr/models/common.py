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
import paddle.nn.functional as F

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


def set_mean_shift_trainable(model, trainable):
    """Train (or freeze) every ``MeanShift`` in ``model``; returns how many were found.

    RCAN's official code (yulunzhang/RCAN ``model/common.py``) sets ``self.requires_grad = False`` on the
    module, which freezes no parameter, so its mean shifts are trained with everything else; current
    EDSR-PyTorch freezes them (``p.requires_grad = False`` on each parameter). Training recipes choose
    with ``train_mean_shift``.
    """
    found = [layer for layer in model.sublayers(include_self=True) if isinstance(layer, MeanShift)]
    for layer in found:
        layer.weight.stop_gradient = layer.bias.stop_gradient = not trainable
    return len(found)


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


# --- MATLAB bicubic upsampling and BT.601 YCbCr: the pre-upsampled, Y-channel classics (SRCNN, VDSR,
# DRCN, DRRN; ESPCN for colour) need both inside the model so every model is LR-in, SR-out.

def _bicubic_phase_weights(scale):
    """(scale, 5) float64: MATLAB's x``scale`` bicubic weights on input offsets -2..2 per output phase.

    Taken from ``imresize.contributions`` on an interior pixel, so they are MATLAB's by construction;
    for an integer scale they repeat with period ``scale`` (output pixel ``i*scale + p`` uses phase p).
    """
    import numpy as np

    from paddle_sr.image.imresize import contributions

    n, i = 8, 4  # an interior input pixel: no tap reaches the border
    weights, indices = contributions(n, n * scale, float(scale))
    phases = np.zeros((scale, 5))
    for p in range(scale):
        row = i * scale + p
        for w, j in zip(weights[row], indices[row]):
            phases[p, j - i + 2] += w
    return phases


class MatlabBicubicUpsample(nn.Layer):
    """MATLAB ``imresize(x, scale, 'bicubic')`` for an integer ``scale`` as a differentiable layer.

    Input NCHW (any C, H and W >= 2) -> N x C x scale*H x scale*W; equals ``paddle_sr.image.imresize`` on
    float input. MATLAB's cubic (a = -0.5) differs from Paddle's / PyTorch's ``bicubic`` (a = -0.75,
    replicate border), which is why the pre-upsampling models cannot use ``F.interpolate``: their
    weights were trained on MATLAB-upsampled inputs. For an integer scale output pixel
    ``i*scale + p`` is a fixed 4-tap filter (phase p) of inputs i-2..i+2, so both separable passes
    are one depthwise transposed convolution (stride ``scale``, kernel 5*scale: the phase filters
    interleaved, outer product for 2-D) of the symmetrically padded input. A transposed conv rather
    than conv + pixel shuffle because Paddle's static shape inference turns pixel shuffle's unknown
    H/W into -2, which a following BatchNorm rejects on export. No parameters (a non-persistable
    buffer, not in the state dict).
    """

    def __init__(self, scale):
        super().__init__()
        if int(scale) != scale or scale < 1:
            raise ValueError(f"MatlabBicubicUpsample needs an integer scale >= 1, got {scale}")
        import numpy as np

        self.scale = s = int(scale)
        phases = _bicubic_phase_weights(s)
        # Input j reaches output o = (j - k + 2) * s + p through tap k of phase p: kernel index
        # o - j*s + 2s = (4 - k) * s + p (with padding 4s = 2s for the pad rows + 2s for the offset).
        k1 = np.zeros(5 * s)
        for p in range(s):
            for k in range(5):
                k1[(4 - k) * s + p] = phases[p, k]
        self.register_buffer("kernel", paddle.to_tensor(np.outer(k1, k1)[None, None].astype("float32")),
                             persistable=False)

    @staticmethod
    def _symmetric_pad2(x, axis):
        # MATLAB's border: mirror including the edge pixel (x1 x0 | x0 x1 ... xn-1 | xn-1 xn-2).
        # Two-pixel slices put in mirror order (not paddle.flip: ONNX export cannot flip an axis of
        # dynamic length, and these are the same values).
        x0, x1 = paddle.slice(x, [axis], [0], [1]), paddle.slice(x, [axis], [1], [2])
        y1, y0 = paddle.slice(x, [axis], [-2], [-1]), paddle.slice(x, [axis], [-1], [2 ** 31 - 1])
        return paddle.concat([x1, x0, x, y0, y1], axis=axis)

    def forward(self, x):
        if self.scale == 1:
            return x
        channels = x.shape[1]
        x = self._symmetric_pad2(self._symmetric_pad2(x, 2), 3)
        weight = paddle.tile(self.kernel, [channels, 1, 1, 1])
        return F.conv2d_transpose(x, weight, stride=self.scale, padding=4 * self.scale, groups=channels)


# MATLAB rgb2ycbcr for double RGB in [0, 1] (ITU-R BT.601, studio swing): ycbcr = offset + M @ rgb.
_YCBCR_M = ((65.481, 128.553, 24.966), (-37.797, -74.203, 112.0), (112.0, -93.786, -18.214))
_YCBCR_OFFSET = (16.0, 128.0, 128.0)


def _value_span(value_range):
    lo, hi = (value_range[0], value_range[1]) if value_range is not None else (0.0, 1.0)
    return lo, hi - lo


def rgb_to_ycbcr(x, value_range=None):
    """NCHW RGB -> YCbCr as MATLAB ``rgb2ycbcr`` (BT.601), both on the same value range.

    ``value_range`` (lo, hi) is the range of ``x`` (numbers or 0-d/1-element tensors, e.g. a model's
    ``value_range`` buffer); default (0, 1). The input is mapped to [0, 1], converted with MATLAB's
    double-precision formula (Y in [16/255, 235/255]) and mapped back, so Y on (0, 255) is
    ``16 + (65.481 R + 128.553 G + 24.966 B) / 255`` with R, G, B in [0, 1] — the suite's metric Y.
    """
    lo, span = _value_span(value_range)
    m = paddle.to_tensor(_YCBCR_M, dtype=x.dtype).reshape([3, 3, 1, 1]) / 255.0
    offset = paddle.to_tensor(_YCBCR_OFFSET, dtype=x.dtype) / 255.0
    ycc = F.conv2d((x - lo) / span, m, offset)  # a 1x1 conv: exports and runs under oneDNN as is
    return ycc * span + lo


def ycbcr_to_rgb(x, value_range=None):
    """Inverse of ``rgb_to_ycbcr`` (MATLAB ``ycbcr2rgb``), no clipping."""
    import numpy as np

    lo, span = _value_span(value_range)
    inv = np.linalg.inv(np.array(_YCBCR_M) / 255.0)  # float64, as MATLAB inverts its matrix
    bias = -inv @ (np.array(_YCBCR_OFFSET) / 255.0)
    rgb = F.conv2d((x - lo) / span, paddle.to_tensor(inv.reshape(3, 3, 1, 1).astype("float32"), dtype=x.dtype),
                   paddle.to_tensor(bias.astype("float32"), dtype=x.dtype))
    return rgb * span + lo


def sr_on_y(x, sr_y, upsample, value_range=None):
    """Super-resolve a Y-channel model's input: ``sr_y`` on luma, ``upsample`` (bicubic) on chroma.

    ``x``: NCHW with 1 channel (already Y: returned as ``sr_y(x)``) or 3 channels (RGB on
    ``value_range``): Y goes through ``sr_y`` (LR Y -> SR Y), Cb/Cr through ``upsample`` (the
    papers' evaluation protocol: the networks are trained on Y of YCbCr), and the result is
    converted back to RGB on the same range.
    """
    if x.shape[1] == 1:
        return sr_y(x)
    ycc = rgb_to_ycbcr(x, value_range)
    y = sr_y(ycc[:, :1])
    return ycbcr_to_rgb(paddle.concat([y, upsample(ycc[:, 1:])], axis=1), value_range)


class PreUpsampledYModel(SRModel):
    """Base of the Y-channel models whose network takes a bicubic-upsampled Y (SRCNN, VDSR, DRCN, DRRN).

    A subclass sets ``self.upsample`` (``MatlabBicubicUpsample``) and implements ``forward_y`` (the
    official network: upsampled Y -> SR Y); RGB in, RGB out comes from ``sr_on_y``.
    """

    y_channel = True  # trained on Y: a faithful training loss compares Y, not RGB

    def _sr_y(self, y_lr):
        return self.forward_y(self.upsample(y_lr))

    def forward_native(self, x):
        return sr_on_y(x, self._sr_y, self.upsample, self.value_range)


def normal_(param, std, mean=0.0):
    """Fill ``param`` in place from N(mean, std^2) (``torch.nn.init.normal_``), drawn with Paddle's seed."""
    param.set_value(paddle.normal(mean, std, param.shape).astype(param.dtype))
    return param
