"""MATLAB-compatible ``imresize(img, scale, 'bicubic')`` in numpy.

Benchmark LR images are made with MATLAB's bicubic; PIL/OpenCV bicubic differs (no antialiasing
when shrinking, other border rule) and shifts PSNR by tenths of a dB. This follows MATLAB's
``imresize.m`` / ``imresizemex``:

- cubic kernel with a = -0.5; when shrinking (scale < 1) it is stretched to width 4/scale and
  scaled by ``scale`` (antialiasing), exactly as ``contributions()`` in ``imresize.m``;
- output size ``ceil(scale * size)`` per dimension (a scale given for an output size is
  ``out / in``);
- symmetric border (mirror including the edge pixel: ``[1:n, n:-1:1]``);
- one dimension after the other, the one with the smaller scale first (MATLAB sorts the scales;
  ties keep rows, i.e. height, first);
- uint8 input is rounded (half away from zero) and saturated to uint8 after *each* pass, as the
  MEX does, and a uint8 array is returned; float input is computed and returned in its own float
  dtype (float16 -> float32) without clipping.

Each pass is a gather of ``P = ceil(kernel width) + 2`` rows with precomputed weights (P is 18 for
x1/4), so a 2K image takes a fraction of a second.
"""
import math

import numpy as np


def cubic(x):
    """MATLAB's bicubic kernel (Keys, a = -0.5)."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2)))


def contributions(in_length, out_length, scale, kernel_width=4.0, antialiasing=True):
    """Weights (out_length, P) and 0-based source indices (out_length, P) of one resize pass.

    A line-by-line transcription of ``contributions`` in MATLAB's ``imresize.m``.
    """
    if scale < 1 and antialiasing:
        kernel = lambda x: scale * cubic(scale * x)  # noqa: E731 - wider kernel = low-pass filter
        kernel_width = kernel_width / scale
    else:
        kernel = cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)
    # Output pixel x (1-based) maps to input position u; 0.5*(1 - 1/scale) keeps pixel centres aligned.
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    p = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(p, dtype=np.float64)[None, :]  # 1-based, may leave [1, n]
    weights = kernel(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Symmetric padding: index sequence 1..n, n..1 repeated.
    aux = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices = aux[np.mod(indices.astype(np.int64) - 1, aux.size)]
    # MATLAB drops columns whose weights are all zero (does not change the result, only P).
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], indices[:, keep]


def output_size(in_shape, scale=None, output_shape=None):
    """(scale_h, scale_w), (out_h, out_w) by MATLAB's rules."""
    h, w = in_shape
    if output_shape is not None:
        oh, ow = (int(v) for v in output_shape)
        if oh < 1 or ow < 1:
            raise ValueError(f"output_shape must be positive, got {output_shape}")
        return (oh / h, ow / w), (oh, ow)
    if scale is None:
        raise ValueError("imresize needs scale or output_shape")
    sh, sw = (float(scale), float(scale)) if np.isscalar(scale) else (float(scale[0]), float(scale[1]))
    if sh <= 0 or sw <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    # MATLAB: ceil(scale * size). The 1e-9 guard only absorbs floating noise such as
    # 3 * (1/3) * 255 != 255 exactly, which would otherwise add a spurious row.
    return (sh, sw), (int(math.ceil(sh * h - 1e-9)), int(math.ceil(sw * w - 1e-9)))


def _resize_axis(img, axis, out_length, scale, to_uint8):
    weights, indices = contributions(img.shape[axis], out_length, scale)
    x = np.moveaxis(img, axis, 0)
    shape = (out_length,) + (1,) * (x.ndim - 1)
    out = np.zeros((out_length,) + x.shape[1:], dtype=np.float64)  # accumulate in double, as the MEX
    for j in range(weights.shape[1]):  # P taps, each a vectorised gather over the whole image
        out += weights[:, j].reshape(shape) * x[indices[:, j]]
    if to_uint8:
        # The MEX rounds half away from zero and saturates after each pass.
        out = np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)
    else:
        out = out.astype(img.dtype, copy=False)
    return np.moveaxis(out, 0, axis)


def imresize(img, scale=None, output_shape=None):
    """Resize an HxW or HxWxC array like MATLAB ``imresize(img, scale, 'bicubic')``.

    Args:
        img: uint8 or float array, HxW or HxWxC.
        scale: one factor for both dimensions, or (scale_h, scale_w); e.g. 1/4 for x4 LR.
        output_shape: (out_h, out_w) instead of ``scale``.

    Returns:
        uint8 for uint8 input (rounded after each pass, as MATLAB), else the input's float dtype.
    """
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise ValueError(f"imresize expects HxW or HxWxC, got shape {img.shape}")
    is_uint8 = img.dtype == np.uint8
    if is_uint8:
        x = img
    elif np.issubdtype(img.dtype, np.floating):
        x = img.astype(np.float32) if img.dtype == np.float16 else img
    else:
        raise TypeError(f"imresize supports uint8 and float arrays, got {img.dtype}")
    (sh, sw), (oh, ow) = output_size(img.shape[:2], scale, output_shape)
    # MATLAB resizes the dimension with the smaller scale first (stable sort: rows on ties).
    order = [(0, oh, sh), (1, ow, sw)] if sh <= sw else [(1, ow, sw), (0, oh, sh)]
    for axis, length, s in order:
        x = _resize_axis(x, axis, length, s, is_uint8)
    return x
