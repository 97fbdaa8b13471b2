"""The memory plan of one ``predict`` image: everything the call holds at its peak, estimated from the
image's header before anything is decoded, checked against a budget.

Parts (bytes; LR = input pixels, OUT = output pixels, window = one tile with its overlap):

- input: 16 per LR pixel (the uint8 RGB, its float32 CHW copy for the model) + 1 with alpha;
- model: the working memory of one device call (``facts.model_facts``: live layer tensors counted
  twice plus the largest im2col buffer, per LR pixel) for the whole image, or for one window when
  tiled; the tile plan (``tiling._plan``) gets what the budget leaves for it;
- output rows: tiles are blended in a strip one window high (float32, plus its shifted copy) and
  finished rows leave it in blocks of ``tiling.ROWS_BLOCK`` pixels to the PNG encoder
  (``imageio.PngRows``, one block and zlib's window): no full-size float canvas exists; an untiled
  image holds its whole float32 output (counted in "model");
- alpha: the bicubic upscaled alpha channel, 2 per OUT pixel (PIL's image and its array);
- self-ensemble: the float64 accumulator and one float32 pass, 48 per OUT pixel;
- uint8 result (the app, which shows it): 3 per OUT pixel.

Budget: ``--max-memory MB`` for the whole call, else ``HOST_FRACTION`` of MemAvailable. Above it,
``check`` raises an SRError naming the estimate, the budget and the largest input of the same shape
that fits, before any work (never an out-of-memory kill).
"""
import math

from paddle_sr.core.errors import SRError

HOST_FRACTION = 0.8  # of MemAvailable, the default budget of one call
MB = 2 ** 20


def available_mb():
    """MemAvailable of this machine in MB, or None where /proc/meminfo is missing."""
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:")) / 1024
    except (OSError, StopIteration, ValueError):
        return None


def budget(max_memory_mb=None):
    """(MB, what it is) for one call: ``max_memory_mb``, else ``HOST_FRACTION`` of the available memory."""
    if max_memory_mb:
        return float(max_memory_mb), f"--max-memory {max_memory_mb}"
    free = available_mb()
    if free is None:
        return None, "unknown available memory"
    return HOST_FRACTION * free, f"{HOST_FRACTION:.0%} of the {free:,.0f} MB available now; --max-memory sets it"


def estimate(model, lr_hw, out_hw, tile=None, tile_overlap=None, max_memory_mb=None, alpha=False,
             self_ensemble=False, batch_size=1, canvas=False, call_mb=None):
    """{part: bytes} of one call (module docstring), with the tile plan under ``"tile"`` (None: untiled).

    ``max_memory_mb`` given: the whole call must fit it, so the tiles get what the other parts leave.
    ``canvas``: the result is kept as a uint8 array (the app) instead of streamed to a file.
    ``call_mb``: the tiles' budget when ``max_memory_mb`` is not given (the app's ``--max-memory``, which
    bounds one device call there); None: ``tiling.memory_budget_mb``'s default.
    """
    from paddle_sr.runtime.facts import model_facts
    from paddle_sr.runtime.tiling import ROWS_BLOCK, _plan, default_overlap

    h, w = lr_hw
    oh, ow = out_hw
    lr_px, out_px = h * w, oh * ow
    fixed = {"input": (16 + (1 if alpha else 0)) * lr_px}
    fixed["uint8 result" if canvas else "png encoder"] = 3 * out_px if canvas else 1.5 * MB
    if alpha:
        fixed["alpha"] = 2 * out_px
    if self_ensemble:
        fixed["self-ensemble"] = 48 * out_px
    facts = model_facts(model)
    per_px = facts.bytes_per_px if facts is not None else 0.0
    if max_memory_mb:
        call_mb = max(1.0, max_memory_mb - sum(fixed.values()) / MB)
    for _ in range(4):  # the strip depends on the tile, the tile on what the strip leaves
        plan_tile, ov = (tile, tile_overlap) if tile is not None else _plan(
            model, lr_hw, out_hw, call_mb, tile_overlap, batch_size)
        parts = dict(fixed)
        if plan_tile is None:
            parts["model"] = per_px * lr_px
            parts["output rows"] = 40 * min(ROWS_BLOCK, out_px)  # blocks handed out: float32 + conversions
        else:
            ov = default_overlap(model) if ov is None else ov
            win_h, win_w = min(plan_tile + 2 * ov, h), min(plan_tile + 2 * ov, w)
            parts["model"] = batch_size * per_px * win_h * win_w
            strip_h = math.ceil(win_h * oh / h) + 1
            parts["output rows"] = 24 * strip_h * ow + 40 * min(ROWS_BLOCK, out_px)
        total = sum(parts.values())
        if not max_memory_mb or total <= max_memory_mb * MB or tile is not None:
            break
        call_mb = max(1.0, call_mb - (total / MB - max_memory_mb) - 1)
    parts["tile"], parts["overlap"] = plan_tile, ov
    return parts


PLAN_KEYS = ("tile", "overlap")  # what ``estimate`` returns beside the byte counts


def total(parts):
    return sum(v for k, v in parts.items() if k not in PLAN_KEYS)


def check(model, lr_hw, out_hw, name="image", **kw):
    """SRError when the estimate for ``lr_hw`` is above the budget (``kw``: ``estimate``'s options);
    returns the estimate otherwise."""
    limit_mb, source = budget(kw.get("max_memory_mb"))
    if kw.get("canvas") and not kw.get("max_memory_mb"):  # the app: its --max-memory bounds one device call
        source, advice = f"{HOST_FRACTION:.0%} of the memory available now", "or free memory on the server"
    else:
        advice = "or free memory and raise --max-memory"
    try:
        parts = estimate(model, lr_hw, out_hw, **kw)
    except SRError:  # no tile fits what is left: report it as this plan's failure, below
        parts = None
    if limit_mb is None or (parts is not None and total(parts) <= limit_mb * MB):
        return parts
    ratio_h, ratio_w = out_hw[0] / lr_hw[0], out_hw[1] / lr_hw[1]
    lo, hi = 0.0, 1.0  # the largest input of the same shape (and scale) that fits
    for _ in range(20):
        f = (lo + hi) / 2
        hw = (max(1, int(lr_hw[0] * f)), max(1, int(lr_hw[1] * f)))
        try:
            ok = total(estimate(model, hw, (round(hw[0] * ratio_h), round(hw[1] * ratio_w)), **kw)) <= limit_mb * MB
        except SRError:
            ok = False
        lo, hi = (f, hi) if ok else (lo, f)
    fit_h, fit_w = int(lr_hw[0] * lo), int(lr_hw[1] * lo)
    need = "more than the budget" if parts is None else f"about {total(parts) / MB:,.0f} MB"
    detail = "" if parts is None else " (" + ", ".join(
        f"{k} {v / MB:,.0f}" for k, v in parts.items() if k not in PLAN_KEYS and v >= MB) + ")"
    fits = (f"an input up to {fit_w}x{fit_h} ({fit_w * fit_h / 1e6:.1f} MP) fits at this scale" if fit_h and fit_w
            else "no input of this shape fits")
    raise SRError(f"{name}: {lr_hw[1]}x{lr_hw[0]} -> {out_hw[1]}x{out_hw[0]} needs {need}{detail}, more than the "
                  f"{limit_mb:,.0f} MB budget ({source}); {fits}: crop or downscale it, {advice}")
