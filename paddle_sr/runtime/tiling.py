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

Automatic tiling (``tile=None``): one probe forward at 32x32 LR with hooks on every layer, cached
per model instance, records the largest im2col buffer of any conv call per LR pixel (Paddle 3.0.0's
CPU conv crashes once one call's ``Cin/groups * kh * kw * Hout * Wout`` passes 2^31; kept under
``IM2COL_LIMIT`` = 2^30) and the peak of live layer tensors (counted twice) plus that buffer, per LR
pixel. The whole image runs at once (bit-identical to untiled) when both fit, else the largest
tile whose windows fit: the im2col limit and ``memory_budget_mb`` (2048 MB, ``max_memory_mb`` or
``$PADDLE_SR_MAX_MEMORY_MB``, at most half of MemAvailable). SRResNet x4 (full, 64 * 81 * 16 =
82,944 im2col elements per LR pixel) on 200x200: 79x79-pixel windows, EDSR-baseline x4 on 1000x700:
215x215 (``benchmarks/inference_memory.py``). ``plan_tile`` returns that choice.

Default overlap (``tile_overlap=None``): ``default_overlap`` pokes one LR pixel of a smooth 48x48
image and takes twice the LR radius where the output moves by more than 0.02 grey levels, plus 2
(50 = reaches the probe's edge). Measured with reduced random models on a Set14 crop (40x36 LR, x2,
output rescaled to the image range; ``tests/test_inference.py``), tiles of 8 and 16: every registered
model within 1 grey level of the whole image (uint8). Not reachable: RLFN's ESA resizes its pooled
attention map to the input size, so the map's alignment depends on the tile's size and position,
not only on context. Official weights, x4, Set14 barbara (144x180 LR), tiles 48/64 with the default
overlap 50: RLFN up to 25/30 grey levels (1.7 % / 1.2 % of values off by more than 1), RLFN_ntire
up to 12/10 (0.5 % / 0.7 %). Auto-tiling only tiles RLFN above about 0.37 MP LR at the 2 GiB budget.

Output: ``super_resolve(..., rows=f)`` hands the result out as finished row blocks (tiles blend in a
strip one window high), so a caller can write it without a full-size float copy; ``predict`` streams
them into the PNG and plans the whole call's memory first (``paddle_sr.runtime.memory``).

Too small: an image (or explicit tile) with a side under the model's minimum (``min_side``: RLFN 11,
SwinIR 4, the bicubic pre-upsampling models 2, found by tiny forwards) is an ``SRError``.
"""
import math
import os

import numpy as np
import paddle

from paddle_sr.core.errors import SRError
from paddle_sr.image.io import to_tensor_range
from paddle_sr.runtime.engines import ENGINE_ENV, default_engine, engine_for, set_default_engine  # noqa: F401 (API)
from paddle_sr.runtime.facts import _PROBE, min_side, model_facts, model_name

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


IM2COL_LIMIT = 2 ** 30  # elements in one conv's im2col buffer: Paddle 3.0.0's CPU conv overflows at 2^31


DEFAULT_MAX_MEMORY_MB = 2048  # estimated working memory of one device call, unless told otherwise


ROWS_BLOCK = 2 ** 20  # output pixels per block handed to ``rows`` (``_sr_tiled``)


def _check_size(model, hw, what="image"):
    if min(hw) < _PROBE and min(hw) < min_side(model):
        n = min_side(model)
        raise SRError(f"{what} {hw[0]}x{hw[1]} is smaller than {model_name(model)} takes (at least {n}x{n} LR "
                      f"pixels); upscale it first or use another model")


def memory_budget_mb(max_memory_mb=None):
    """Working memory allowed per device call (MB): ``max_memory_mb``, else ``$PADDLE_SR_MAX_MEMORY_MB``,
    else ``DEFAULT_MAX_MEMORY_MB``; never more than half the memory available now."""
    cap = max_memory_mb or os.environ.get("PADDLE_SR_MAX_MEMORY_MB") or DEFAULT_MAX_MEMORY_MB
    try:
        cap = float(cap)
    except ValueError:
        raise SRError(f"PADDLE_SR_MAX_MEMORY_MB must be a number of MB, got {cap!r}") from None
    free = None
    try:
        if paddle.device.get_device().startswith("gpu"):
            total = paddle.device.cuda.get_device_properties().total_memory
            free = (total - paddle.device.cuda.memory_reserved()) / 2 ** 20
        else:
            with open("/proc/meminfo") as f:
                free = next(int(l.split()[1]) for l in f if l.startswith("MemAvailable:")) / 1024
    except (OSError, StopIteration, ValueError, AttributeError, RuntimeError):
        pass
    return min(cap, free / 2) if free else cap


def plan_tile(model, lr_hw, out_hw, max_memory_mb=None, tile_overlap=None, batch_size=1):
    """LR tile core size for ``super_resolve`` with ``tile=None``, or None when the whole image fits.

    Fits = every conv's im2col buffer under ``IM2COL_LIMIT`` elements and the estimated working
    memory of ``batch_size`` tiles under ``memory_budget_mb(max_memory_mb)``.
    """
    return _plan(model, lr_hw, out_hw, max_memory_mb, tile_overlap, batch_size)[0]


def _plan(model, lr_hw, out_hw, max_memory_mb, overlap, batch_size):
    """(tile, overlap): the largest tile core whose windows fit; the overlap shrinks to a third of
    the window where the model's default would leave no core."""
    facts = model_facts(model)
    if facts is None:
        return None, overlap
    budget = memory_budget_mb(max_memory_mb) * 2 ** 20
    extra = 16 * out_hw[0] * out_hw[1] / (lr_hw[0] * lr_hw[1]) if hasattr(model, "render") else 0  # query grid
    per_px = max(facts.col_per_px / IM2COL_LIMIT, batch_size * (facts.bytes_per_px + extra) / budget)
    if lr_hw[0] * lr_hw[1] * per_px <= 1:
        return None, overlap
    area = int(1 / per_px)  # LR pixels one window may have
    ov = min(default_overlap(model) if overlap is None else overlap, math.isqrt(area) // 3)
    lo, hi = 0, max(lr_hw)  # the largest core T whose windows min(T + 2 ov, side) fit
    while lo < hi:
        t = (lo + hi + 1) // 2
        lo, hi = (t, hi) if min(t + 2 * ov, lr_hw[0]) * min(t + 2 * ov, lr_hw[1]) <= area else (lo, t - 1)
    if lo < 1 or math.isqrt(area) < min_side(model):
        raise SRError(f"{model_name(model)} needs more than {budget / 2 ** 20:.0f} MB even for one small tile; "
                      f"raise max_memory_mb / PADDLE_SR_MAX_MEMORY_MB")
    return lo, ov


def default_overlap(model, side=48):
    """Tile overlap (LR pixels) for ``model``: twice the radius its output reacts to one LR pixel.

    Probe: one pixel in the middle of a smooth ``side`` x ``side`` image is changed and the LR
    distance of the farthest output pixel that moves by more than 0.02 grey levels (0-255) is the
    radius (plus 1). Cached per model and weights. Models that react beyond the probe (global
    pooling, attention) get the probe's limit.
    """
    facts = model_facts(model)
    if facts is None:
        return 16
    from paddle_sr.runtime.facts import fingerprint

    key = fingerprint(model)
    if facts.overlap is not None and facts.overlap[0] == key:
        return facts.overlap[1]
    # A model without sr_scale (a user's own wrapper layer) works at the scale its output shows; only a
    # renderer (any output size) is probed at x2.
    scale = getattr(model, "sr_scale", None)
    if scale is None and not hasattr(model, "render"):
        with paddle.no_grad():
            scale = model(paddle.zeros([1, 3, side, side])).shape[-1] / side
    scale = scale or 2
    low = np.random.RandomState(0).uniform(-0.7, 0.7, (1, 3, 6, 6)).astype(np.float32)
    base = paddle.nn.functional.interpolate(paddle.to_tensor(low), size=[side, side], mode="bilinear",
                                            align_corners=True).numpy().copy()
    poked = base.copy()
    c = side // 2
    poked[0, :, c, c] = np.clip(poked[0, :, c, c] + 0.5, -1, 1)
    outs = []
    run = _runner(model)
    was_training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            for x in (base, poked):
                outs.append(run(paddle.to_tensor(x), (round(side * scale),) * 2).numpy().copy())
    finally:
        if was_training:
            model.train()
    moved = np.abs(outs[1] - outs[0]).max(axis=(0, 1)) * 127.5 > 0.02
    ys, xs = np.nonzero(moved)
    centre = (c + 0.5) * scale - 0.5
    radius = max(np.abs(ys - centre).max(), np.abs(xs - centre).max()) / scale if len(ys) else 0
    overlap = 2 * (min(math.ceil(radius), c) + 1)
    facts.overlap = (key, overlap)
    return overlap


def _sr_tiled(model, x, out_hw, tile, overlap, batch_size, progress=None, rows=None):
    """x: 3xHxW float32 host array -> 3xH'xW' float32 host array; ``progress(done, total)`` per call.

    ``rows``: called as ``rows(y0, block)`` with finished 3 x n x W' float32 blocks, top to bottom
    (then nothing is returned): tiles are blended in a strip one window high, finished rows leave it,
    so no full-size float canvas (or weight map: the ramps are separable, the weight sum is
    ``Wy(y) * Wx(x)``) is ever held.
    """
    _, h, w = x.shape
    run = _runner(model)
    whole = None
    if tile is None:
        whole = run(paddle.to_tensor(x[None]), out_hw)[0].numpy()
    else:
        p = max(h // math.gcd(h, out_hw[0]), w // math.gcd(w, out_hw[1]))
        # When aligned tiles would have to grow past ``tile`` (awkward sizes at non-integer scales), a
        # model that can be queried at coordinates is tiled on the plain pixel grid instead.
        by_coords = p > tile and hasattr(model, "gen_feat") and hasattr(model, "query_rgb")
        ys = _axis_plan(h, out_hw[0], tile, overlap, align=not by_coords)
        xs = _axis_plan(w, out_hw[1], tile, overlap, align=not by_coords)
        if len(ys) == 1 and len(xs) == 1:
            whole = run(paddle.to_tensor(x[None]), out_hw)[0].numpy()
    if whole is not None:
        if rows is None:
            return whole
        step = max(1, ROWS_BLOCK // out_hw[1])
        for y0 in range(0, out_hw[0], step):
            rows(y0, whole[:, y0:y0 + step])
        return None
    _check_size(model, (ys[0][1] - ys[0][0], xs[0][1] - xs[0][0]), what="tile")
    if by_coords:
        query, batch_size = _query_runner(model, (h, w), out_hw), 1  # window outputs differ in size
    out = None
    if rows is None:
        out = np.empty((x.shape[0],) + tuple(out_hw), np.float32)

        def rows(y0, block):
            out[:, y0:y0 + block.shape[1]] = block
    wy_sum, wx_sum = np.zeros(out_hw[0], np.float32), np.zeros(out_hw[1], np.float32)
    for _, _, o0, o1, wt in ys:
        wy_sum[o0:o1] += wt
    for _, _, o0, o1, wt in xs:
        wx_sum[o0:o1] += wt
    strip = np.zeros((x.shape[0], max(o1 - o0 for _, _, o0, o1, _ in ys), out_hw[1]), np.float32)
    top = [0]  # output row of strip[:, 0]; rows above it are finished and gone
    step = max(1, ROWS_BLOCK // out_hw[1])

    def flush(upto):
        n = upto - top[0]
        if n <= 0:
            return
        for a in range(0, n, step):  # small blocks: the caller's conversions stay small too
            b = min(a + step, n)
            rows(top[0] + a, strip[:, a:b] / (wy_sum[top[0] + a:top[0] + b, None] * wx_sum[None, :]))
        strip[:, :strip.shape[1] - n] = strip[:, n:].copy()
        strip[:, strip.shape[1] - n:] = 0
        top[0] = upto

    boxes = [(a, b) for a in ys for b in xs]
    for i in range(0, len(boxes), batch_size):
        chunk = boxes[i:i + batch_size]
        batch = paddle.to_tensor(np.stack([x[:, ya:yb, xa:xb] for (ya, yb, _, _, _), (xa, xb, _, _, _) in chunk]))
        if by_coords:
            sr = query(batch, (chunk[0][0][:4], chunk[0][1][:4])).numpy()
        else:
            sr = run(batch, (chunk[0][0][3] - chunk[0][0][2], chunk[0][1][3] - chunk[0][1][2])).numpy()
        for t, ((_, _, oy0, oy1, wy), (_, _, ox0, ox1, wx)) in zip(sr, chunk):
            flush(oy0)  # window starts never move up: every row above this one is complete
            strip[:, oy0 - top[0]:oy1 - top[0], ox0:ox1] += t * (wy[:, None] * wx[None, :])
        if progress is not None:
            progress(i + len(chunk), len(boxes))
    flush(out_hw[0])
    return out


def super_resolve(model, lr, scale, tile=None, tile_overlap=None, self_ensemble=False, batch_size=1, out_size=None,
                  max_memory_mb=None, progress=None, engine=None, rows=None):
    """Super-resolve one HxWx3 image on [0, 255]; returns H'xW'x3 float32 in [-1, 1] (not clipped).

    Args:
        model: a suite model (``forward(lr)`` on [-1, 1] NCHW, or ``render(lr, out_size)``).
        lr: HxWx3 (or HxW gray) numpy array on [0, 255], kept on the host: uint8, or float (an LR that
            was never rounded, as the MATLAB-era test code makes it: ``evaluate(..., lr_float=True)``).
        scale: upscaling factor (non-integer only for arbitrary-scale models).
        tile: LR tile core size in pixels, or None: the whole image when it fits, else the largest
            tile that fits (``plan_tile``).
        tile_overlap: LR pixels of blending/context between tiles (see the module docstring); None:
            ``default_overlap(model)``.
        self_ensemble: average the 8 flips/rotations (the papers' "+" rows), 8x the time.
        batch_size: tiles per device call.
        out_size: (H', W') instead of ``scale`` (arbitrary-scale models).
        max_memory_mb: working-memory budget of one device call (``memory_budget_mb``).
        progress: called as ``progress(done, total)`` after each tile batch (tiled runs only).
        engine: 'auto', 'eager' or 'inference' (``paddle_sr.runtime.engines``): 'inference' runs the same
            network exported once and cached, by Paddle Inference (oneDNN on CPU; within 2e-3 of eager on
            0-255, ``tests/test_engine_choice.py``); 'auto' picks it on the CPU once it pays for its export;
            None: ``default_engine()`` ('auto' unless set).
            Tiling is planned on the eager model either way, so both engines cut the same tiles.
        rows: None (return the whole result), or a callable ``rows(y0, block)`` that receives the result
            as finished ``n x W' x 3`` float32 blocks, top to bottom, and None is returned: with tiles,
            no full-size float copy of the output exists (``predict`` writes the PNG from them).

    Runs with all usable CPU cores for Paddle's math (``engine.inference_threads``) unless the
    process chose a thread count (``engine.use_threads``).
    """
    from paddle_sr.runtime.device import inference_threads

    with inference_threads():
        return _super_resolve(model, lr, scale, tile, tile_overlap, self_ensemble, batch_size, out_size,
                              max_memory_mb, progress, engine, rows)


def _super_resolve(model, lr, scale, tile, tile_overlap, self_ensemble, batch_size, out_size, max_memory_mb,
                   progress, engine, rows=None):
    lr = np.asarray(lr)
    if lr.ndim == 2:
        lr = np.repeat(lr[:, :, None], 3, axis=2)
    if lr.ndim != 3 or lr.shape[2] != 3 or not (lr.dtype == np.uint8 or np.issubdtype(lr.dtype, np.floating)):
        raise TypeError(f"lr must be an HxWx3 uint8 (or float on [0, 255]) array, got {lr.dtype} {lr.shape}")
    if (tile is not None and int(tile) < 1) or (tile_overlap is not None and tile_overlap < 0):
        raise SRError(f"--tile must be >= 1 and --tile-overlap >= 0, got {tile} and {tile_overlap}")
    if scale is None and out_size is None:
        raise SRError("give a scale or an output size (out_size) for super-resolution")
    built = getattr(model, "sr_scale", None)
    if built is not None and out_size is None and not hasattr(model, "render") and float(built) != float(scale):
        raise SRError(f"model {model_name(model)!r} was built for x{built}, asked for "
                      f"x{scale}; pass --scale {built} or a model/weights made for x{scale}")
    out_hw = output_size(lr.shape[:2], scale, out_size)
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        _check_size(model, lr.shape[:2])
        if tile is None:
            tile, tile_overlap = _plan(model, lr.shape[:2], out_hw, max_memory_mb, tile_overlap, batch_size)
        if tile is not None and tile_overlap is None:
            tile_overlap = default_overlap(model)
        steps = [(False, 0)] if not self_ensemble else ENSEMBLE
        net = engine_for(model, engine, lr_pixels=lr.shape[0] * lr.shape[1] * len(steps))
        done = [0]

        def step_progress(d, total):
            if progress is not None:
                progress(done[0] * total + d, len(steps) * total)

        with paddle.no_grad():
            acc = None
            for flip, k in steps:
                t = np.rot90(lr[:, ::-1] if flip else lr, k)
                hw = out_hw[::-1] if k % 2 else out_hw
                sink = None if rows is None or self_ensemble else (lambda y0, b: rows(y0, b.transpose(1, 2, 0)))
                y = _sr_tiled(net, to_tensor_range(np.ascontiguousarray(t)), hw, tile, tile_overlap, batch_size,
                              step_progress, sink)
                done[0] += 1
                if not self_ensemble:
                    return None if rows is not None else np.ascontiguousarray(y.transpose(1, 2, 0))
                y = np.rot90(y.transpose(1, 2, 0), -k)
                acc = (0 if acc is None else acc) + (y[:, ::-1] if flip else y).astype(np.float64)
            result = (acc / len(ENSEMBLE)).astype(np.float32)
            if rows is None:
                return result
            for y0 in range(0, result.shape[0], 256):
                rows(y0, result[y0:y0 + 256])
            return None
    finally:
        if was_training:
            model.train()
