"""Memory-bounded super-resolution of one image: whole, or overlapping tiles blended on the host.

The image stays a numpy array on the host; only tiles (``tile + 2 * tile_overlap`` LR pixels a
side, at most) go to the device. Tiles are blended with linear ramps ``tile_overlap`` wide,
centred on the boundaries between tile cores, and every tile is fed ``tile_overlap`` pixels of real
context beyond its core, so every output pixel has at least ``tile_overlap / 2`` LR pixels of context
on each side (more where the weights are high). A model whose receptive field radius is at most
``tile_overlap / 2`` gives the whole-image result up to float rounding.

Models: anything with ``forward(lr)`` -> SR at an integer scale (every registered conv model), or
an arbitrary-scale model with ``render(lr, out_size)`` (LIIF). For a non-integer scale the tile
grid is aligned so that each tile's output grid is exactly a piece of the whole image's grid: tile
edges sit on multiples of ``p = in / gcd(in, out)`` LR pixels (p = 2 for x2.5 on even sizes).
Where that would make tiles larger than ``tile`` (an output size with no common factor, say) and the
model can be queried at coordinates (LIIF's ``gen_feat`` / ``query_rgb``), tiles are cut on the pixel
grid and each tile's encoder features are queried at the whole image's output pixel centres.
"""
import math

import numpy as np
import paddle

from .data import to_tensor_range
from .errors import SRError

# The 8 dihedral transforms of the self-ensemble (Lim et al., EDSR "+", Sec. 4.4): (flip, rot90 k).
ENSEMBLE = [(f, k) for f in (False, True) for k in range(4)]


def output_size(lr_hw, scale, out_size=None):
    """(H, W) of the SR image: ``out_size`` if given, else ``round(scale * size)`` per side.

    Python's ``round`` (half to even, as official LIIF ``test.py`` and ``LIIF.forward``, also in its
    exported graph), so an exported fixed-scale LIIF fits: 5 px at x2.5 -> 12.
    """
    if out_size is not None:
        oh, ow = (int(v) for v in out_size)
        if oh < 1 or ow < 1:
            raise SRError(f"output size must be positive, got {out_size}")
        return oh, ow
    return tuple(round(n * float(scale)) for n in lr_hw)


def _first_centre(i, n, out_n):
    """First output pixel j whose centre ``(j + 0.5) * n / out_n`` (LR pixels) is >= i; exact integers."""
    return -((n - 2 * i * out_n) // (2 * n))


def _axis_plan(n, out_n, tile, overlap, align=True):
    """Windows along one axis: [(in0, in1, out0, out1, weights over out0:out1)].

    ``align``: window edges on multiples of ``p = n / gcd(n, out_n)`` LR pixels, so every window
    maps onto exactly ``(in1 - in0) * out_n / n`` output pixels of the whole image's grid and all
    windows have the same size (batchable). Otherwise ``p = 1`` and a window covers the output
    pixels whose centres fall inside it (coordinate-queried models).
    """
    p = n // math.gcd(n, out_n) if align else 1
    cells = n // p
    tile_c = max(1, math.ceil(tile / p))
    ov_c = math.ceil(overlap / p)
    length = min(tile_c + 2 * ov_c, cells)
    k = 1 if length == cells else math.ceil(cells / tile_c)
    bounds = [round(i * cells / k) for i in range(k + 1)]
    plan = []
    for i in range(k):
        centre = (bounds[i] + bounds[i + 1]) / 2
        start = min(max(math.floor(centre - length / 2), 0), cells - length)
        i0, i1 = start * p, (start + length) * p
        o0, o1 = _first_centre(i0, n, out_n), _first_centre(i1, n, out_n)
        u = (np.arange(o0, o1, dtype=np.float64) + 0.5) * n / out_n  # output pixel centres in LR pixels
        w = np.ones(o1 - o0)
        for b, side in ((bounds[i] * p, 1.0), (bounds[i + 1] * p, -1.0)):
            if 0 < b < n:  # a boundary with a neighbour (image borders have none)
                d = side * (u - b)
                w *= np.clip(0.5 + d / overlap, 0.0, 1.0) if overlap > 0 else (d >= 0)
        plan.append((i0, i1, o0, o1, w.astype(np.float32)))
    return plan


def _runner(model):
    render = getattr(model, "render", None)

    def run(x, out_hw):
        y = render(x, tuple(out_hw)) if render is not None else model(x)
        if tuple(y.shape[-2:]) != tuple(out_hw):
            name = getattr(model, "sr_name", type(model).__name__)
            raise SRError(f"model {name!r} turned a {tuple(x.shape[-2:])} input into {tuple(y.shape[-2:])}, "
                          f"expected {tuple(out_hw)}; was it built for this --scale?")
        return y
    return run


def _query_runner(model, lr_hw, out_hw, bsize=30000):
    """For models with ``gen_feat`` / ``query_rgb`` (LIIF): SR of any window at whole-image coordinates."""
    def run(x, box):
        (iy0, iy1, oy0, oy1), (ix0, ix1, ox0, ox1) = box
        feat = model.gen_feat(model.to_native(x))
        axes = []
        for (i0, i1, o0, o1), n, out_n in (((iy0, iy1, oy0, oy1), lr_hw[0], out_hw[0]),
                                           ((ix0, ix1, ox0, ox1), lr_hw[1], out_hw[1])):
            u = (np.arange(o0, o1, dtype=np.float64) + 0.5) * n / out_n  # centres in LR pixels
            axes.append(-1 + 2 * (u - i0) / (i1 - i0))  # in the window's normalised coordinates
        coord = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(1, -1, 2).astype(np.float32)
        # A whole-image output pixel is 2 / out_n wide in whole-image coordinates, n / out_n LR pixels.
        cell = np.array([2 * lr_hw[0] / out_hw[0] / (iy1 - iy0), 2 * lr_hw[1] / out_hw[1] / (ix1 - ix0)], np.float32)
        coord = paddle.to_tensor(coord)
        cell = paddle.to_tensor(np.broadcast_to(cell, coord.shape).copy())
        preds = [model.query_rgb(feat, coord[:, i:i + bsize], cell[:, i:i + bsize])
                 for i in range(0, coord.shape[1], bsize)]
        pred = paddle.concat(preds, axis=1) if len(preds) > 1 else preds[0]
        return model.from_native(pred.reshape([1, oy1 - oy0, ox1 - ox0, -1]).transpose([0, 3, 1, 2]))
    return run


def _sr_tiled(model, x, out_hw, tile, overlap, batch_size):
    """x: 3xHxW float32 host array -> 3xH'xW' float32 host array."""
    _, h, w = x.shape
    run = _runner(model)
    if tile is None:
        return run(paddle.to_tensor(x[None]), out_hw)[0].numpy()
    p = max(h // math.gcd(h, out_hw[0]), w // math.gcd(w, out_hw[1]))
    # When aligned tiles would have to grow past ``tile`` (awkward sizes at non-integer scales), a
    # model that can be queried at coordinates is tiled on the plain pixel grid instead.
    by_coords = p > tile and hasattr(model, "gen_feat") and hasattr(model, "query_rgb")
    ys = _axis_plan(h, out_hw[0], tile, overlap, align=not by_coords)
    xs = _axis_plan(w, out_hw[1], tile, overlap, align=not by_coords)
    if len(ys) == 1 and len(xs) == 1:
        return run(paddle.to_tensor(x[None]), out_hw)[0].numpy()
    if by_coords:
        query, batch_size = _query_runner(model, (h, w), out_hw), 1  # window outputs differ in size
    out = np.zeros((x.shape[0],) + tuple(out_hw), np.float32)
    wsum = np.zeros(tuple(out_hw), np.float32)
    boxes = [(a, b) for a in ys for b in xs]
    for i in range(0, len(boxes), batch_size):
        chunk = boxes[i:i + batch_size]
        batch = paddle.to_tensor(np.stack([x[:, ya:yb, xa:xb] for (ya, yb, _, _, _), (xa, xb, _, _, _) in chunk]))
        if by_coords:
            sr = query(batch, (chunk[0][0][:4], chunk[0][1][:4])).numpy()
        else:
            sr = run(batch, (chunk[0][0][3] - chunk[0][0][2], chunk[0][1][3] - chunk[0][1][2])).numpy()
        for t, ((_, _, oy0, oy1, wy), (_, _, ox0, ox1, wx)) in zip(sr, chunk):
            wt = wy[:, None] * wx[None, :]
            out[:, oy0:oy1, ox0:ox1] += t * wt
            wsum[oy0:oy1, ox0:ox1] += wt
    return out / wsum


def super_resolve(model, lr, scale, tile=None, tile_overlap=16, self_ensemble=False, batch_size=1, out_size=None):
    """Super-resolve one HxWx3 uint8 image; returns H'xW'x3 float32 in [-1, 1] (not clipped).

    Args:
        model: a suite model (``forward(lr)`` on [-1, 1] NCHW, or ``render(lr, out_size)``).
        lr: HxWx3 (or HxW gray) uint8 numpy array, kept on the host.
        scale: upscaling factor (non-integer only for arbitrary-scale models).
        tile: LR tile core size in pixels, or None for the whole image at once.
        tile_overlap: LR pixels of blending/context between tiles (see the module docstring).
        self_ensemble: average the 8 flips/rotations (the papers' "+" rows), 8x the time.
        batch_size: tiles per device call.
        out_size: (H', W') instead of ``scale`` (arbitrary-scale models).
    """
    lr = np.asarray(lr)
    if lr.ndim == 2:
        lr = np.repeat(lr[:, :, None], 3, axis=2)
    if lr.ndim != 3 or lr.shape[2] != 3 or lr.dtype != np.uint8:
        raise TypeError(f"lr must be an HxWx3 uint8 array, got {lr.dtype} {lr.shape}")
    if tile is not None and (int(tile) < 1 or tile_overlap < 0):
        raise SRError(f"--tile must be >= 1 and --tile-overlap >= 0, got {tile} and {tile_overlap}")
    if scale is None and out_size is None:
        raise SRError("give a scale or an output size (out_size) for super-resolution")
    built = getattr(model, "sr_scale", None)
    if built is not None and out_size is None and not hasattr(model, "render") and float(built) != float(scale):
        raise SRError(f"model {getattr(model, 'sr_name', type(model).__name__)!r} was built for x{built}, asked for "
                      f"x{scale}; pass --scale {built} or a model/weights made for x{scale}")
    out_hw = output_size(lr.shape[:2], scale, out_size)
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with paddle.no_grad():
            if not self_ensemble:
                sr = _sr_tiled(model, to_tensor_range(lr), out_hw, tile, tile_overlap, batch_size)
                return np.ascontiguousarray(sr.transpose(1, 2, 0))
            acc = np.zeros(tuple(out_hw) + (3,), np.float64)
            for flip, k in ENSEMBLE:
                t = np.rot90(lr[:, ::-1] if flip else lr, k)
                hw = out_hw[::-1] if k % 2 else out_hw
                y = _sr_tiled(model, to_tensor_range(np.ascontiguousarray(t)), hw, tile, tile_overlap, batch_size)
                y = np.rot90(y.transpose(1, 2, 0), -k)
                acc += y[:, ::-1] if flip else y
            return (acc / len(ENSEMBLE)).astype(np.float32)
    finally:
        if was_training:
            model.train()
