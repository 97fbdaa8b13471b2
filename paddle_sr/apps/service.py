"""Model handling behind the comparison app (``python -m paddle_sr.app``), as plain functions.

What a model picker offers (``model_choices``): every training run folder under ``output/`` with a
``Best.pdparams`` beside its ``config.json`` (the run rebuilds its own model), and every official
checkpoint of ``paddle_sr.pretrained`` that works offline here: converted already
(``pretrained.converted_path``) or present as the published file in ``$PADDLE_SR_WEIGHTS``. Any
registered model with a weights file path is ``Choice.custom(name, scale, path)``.

``load_model`` keeps ONE model in memory (the last one asked for; a run's ``Best.pdparams`` that
changed on disk is read again). ``upscale`` runs it with ``tiling.super_resolve``'s automatic,
memory-bounded tiling and a ``progress(done, total)`` callback; ``degrade_restore`` makes an LR from
an image the benchmark way and scores the SR against it exactly as ``python -m paddle_sr.evaluate``
does (HR modcrop, MATLAB bicubic 1/s, SR rounded to uint8, PSNR/SSIM on Y with a border of s, gray
files by the ``gray`` convention, default 'matlab'), with its protocol line.

Every failure a user can cause (a text file renamed ``.png``, an image above ``max_pixels``, a missing
or mismatched weights file, a scale the model lacks, running out of memory) is an ``SRError`` with one
line naming the fix; an image that is too large also gets a tile size to use on the command line.
"""
import glob
import os
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from paddle_sr.core.errors import SRError
from paddle_sr.data.datasets import modcrop
from paddle_sr.image.imresize import imresize
from paddle_sr.image.io import hwc_to_uint8, is_grayscale_file, load_image
from paddle_sr.models.resolve import BICUBIC

DEFAULT_MAX_PIXELS = 4_200_000  # input pixels the app accepts: a 2000x2000 photo (4 MP) at x4 fits
OUTPUT_PIXELS_PER_INPUT_LIMIT = 16  # output cap = 16 x max_pixels (x4 of the largest input)
ARBITRARY_SCALES = (1.5, 8.0)  # the range the app offers an arbitrary-scale model (LIIF)


@dataclass(frozen=True)
class Choice:
    """One usable model: registered ``model`` at ``scale`` (None: arbitrary scale) with ``weights``."""
    label: str
    model: str
    scale: object  # int, or None for an arbitrary-scale model (the caller picks it)
    weights: str  # a .pdparams path or 'official:ID'
    kind: str  # 'run', 'official' or 'file'

    @property
    def arbitrary(self):
        from paddle_sr.models import scales

        return scales(self.model) is None

    @classmethod
    def custom(cls, model, scale, weights):
        """Any registered model with a weights file; SRError for an unknown model, bad scale or no path."""
        from paddle_sr.models import check_scale, scales
        from paddle_sr.models.resolve import fixed_scale, pin_official

        model = (model or "").strip()
        supported = scales(model)  # SRError naming the known models
        weights = os.path.expanduser(str(weights or "").strip().strip('"').strip("'"))
        if not weights:
            raise SRError(f"model {model!r} needs a weights file: give the path of its .pdparams (or 'official' "
                          f"for the authors' released weights)")
        if supported is not None:
            scale = fixed_scale(model, scale, given="")
            check_scale(model, scale)
        else:
            scale = None
        weights = pin_official(weights, model, scale)
        return cls(f"{model} x{scale or 'any'} — {weights}", model, scale, weights, "file")


def run_choices(output_dir="output"):
    """Choices for the run folders under ``output_dir`` that hold ``Best.pdparams`` and ``config.json``."""
    from paddle_sr.models import names, scales
    from paddle_sr.weights.run_folder import BEST, run_config

    found = []
    paths = sorted(set(glob.glob(os.path.join(os.fspath(output_dir), "*", BEST))
                       + glob.glob(os.path.join(os.fspath(output_dir), "*", "*", BEST))))
    for path in paths:
        try:
            cfg = run_config(path) or {}
        except (OSError, ValueError):
            continue  # a torn config.json: not offered rather than a broken list
        model = cfg.get("model")
        if model not in names():
            continue
        scale = None if scales(model) is None else cfg.get("scale")
        run = os.path.relpath(os.path.dirname(path), os.fspath(output_dir))
        found.append(Choice(f"run {run} — {model} x{scale or 'any'} ({BEST})", model, scale, path, "run"))
    return found


def official_choices():
    """Official checkpoints usable without a download: converted already, or in ``$PADDLE_SR_WEIGHTS``."""
    from paddle_sr.models import pretrained
    from paddle_sr.weights import catalogue
    from paddle_sr.weights.run_folder import OFFICIAL

    found = []
    for e in pretrained.entries():
        if os.path.isfile(catalogue.converted_path(e)):
            where = "cached"
        else:
            try:
                where = "local file" if catalogue._local(e, None) else None
            except (SRError, OSError):
                where = None
        if where:
            found.append(Choice(f"official {e.id} — {e.model} x{e.scale} ({where})", e.model, e.scale,
                                f"{OFFICIAL}:{e.id}", OFFICIAL))
    return found


def model_choices(output_dir="output"):
    """All models usable on this machine: run folders first, then official checkpoints."""
    return run_choices(output_dir) + official_choices()


# --- one model in memory at a time ---

_loaded = {"key": None, "model": None}


def _weights_key(weights):
    try:
        st = os.stat(weights)
        return (os.path.abspath(weights), st.st_mtime_ns, st.st_size)
    except OSError:
        return weights


def build_scale(choice, scale=None):
    """The scale to run ``choice`` at: its own for a fixed-scale model, ``scale`` for an arbitrary one."""
    if choice.scale is not None:
        if scale is not None and float(scale) != float(choice.scale):
            raise SRError(f"{choice.label} is a x{choice.scale} model, asked for x{scale:g}; pick x{choice.scale} "
                          f"or another model")
        return int(choice.scale)
    scale = 4.0 if scale is None else float(scale)
    lo, hi = ARBITRARY_SCALES
    if not lo - 1e-9 <= scale <= hi + 1e-9:
        raise SRError(f"{choice.model} renders at any scale from x{lo:g} to x{hi:g} here; got x{scale:g}")
    return int(scale) if scale.is_integer() else scale


def load_model(choice, scale=None):
    """The model of ``choice`` (weights loaded, eval mode); the previous one is dropped first."""
    from paddle_sr.models.resolve import model_for_weights

    scale = build_scale(choice, scale)
    key = (choice.model, scale, choice.weights, _weights_key(choice.weights))
    if _loaded["key"] == key:
        return _loaded["model"]
    _loaded.update(key=None, model=None)  # free the old one before building the next
    model = model_for_weights(choice.model, scale if isinstance(scale, int) else 4, choice.weights)
    _loaded.update(key=key, model=model)
    return model


def loaded():
    """The model held now (None when none): at most one."""
    return _loaded["model"]


def unload():
    _loaded.update(key=None, model=None)


# --- images ---

def image_size(path):
    """(width, height) of an image file from its header; SRError for a file that is not an image."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise SRError(f"image {path} does not exist; upload it again")
    try:
        with Image.open(path) as im:
            return im.size
    except Image.DecompressionBombError as e:
        raise SRError(f"image {os.path.basename(path)} is far too large ({e}); crop or downscale it") from None
    except Exception as e:  # noqa: BLE001 - PIL raises assorted types for files that are not images
        raise SRError(f"cannot read image {os.path.basename(path)}: {type(e).__name__}: {e}. Is it a valid "
                      f"PNG/JPEG? Re-export it or choose another file") from None


def check_pixels(hw, max_pixels=DEFAULT_MAX_PIXELS, scale=None, model=None, max_memory_mb=None, what="image"):
    """SRError when an ``hw`` image (or its x``scale`` output) is above the app's limits; the message
    names the limit, the options and (given ``model``) the tile size the command line would use."""
    h, w = int(hw[0]), int(hw[1])
    limit = int(max_pixels)
    out_px = None if scale is None else round(h * float(scale)) * round(w * float(scale))
    if h * w <= limit and (out_px is None or out_px <= limit * OUTPUT_PIXELS_PER_INPUT_LIMIT):
        return
    tile = suggest_tile(model, (h, w), scale, max_memory_mb) if model is not None else 256
    size = (f"{w}x{h} = {h * w:,} pixels" if h * w > limit else
            f"{w}x{h} at x{float(scale):g} = {out_px:,} output pixels")
    cap = f"{limit:,} pixels" if h * w > limit else f"{limit * OUTPUT_PIXELS_PER_INPUT_LIMIT:,} output pixels"
    raise SRError(f"{what} {size} is above this app's limit of {cap} (--max-pixels {limit}); crop or "
                  f"downscale it, restart the app with a larger --max-pixels, or run it on the command line "
                  f"with tiles: python -m paddle_sr.predict ... --tile {tile}")


def suggest_tile(model, lr_hw, scale, max_memory_mb=None):
    """A tile size (LR pixels) for ``predict --tile``: the automatic plan, else 256."""
    from paddle_sr.runtime.tiling import output_size, plan_tile

    try:
        tile = plan_tile(model, tuple(lr_hw), output_size(lr_hw, scale or 4), max_memory_mb)
    except Exception:  # noqa: BLE001 - a suggestion only
        tile = None
    return int(tile) if tile else 256


def read_image(path, max_pixels=DEFAULT_MAX_PIXELS):
    """HxWx3 uint8 RGB of an image file, after a header check against ``max_pixels`` (no huge decode)."""
    w, h = image_size(path)
    check_pixels((h, w), max_pixels, what=f"image {os.path.basename(os.fspath(path))}")
    return load_image(path)


def example_images(train=("astronaut", "coffee", "rocket", "motorcycle")):
    """[(name, path)] of the embedded photos offered as examples: the validation pair and a few others."""
    from paddle_sr.data.sources import _embedded_table

    val = _embedded_table("val")
    extra = [(n, p) for n, p in _embedded_table("train") if n in train]
    seen, out = set(), []
    for name, path in val + extra:
        if name not in seen:
            seen.add(name)
            out.append((name, path))
    return out


# --- running ---

@dataclass
class Result:
    """One super-resolved image: ``image`` HxWx3 uint8, ``seconds``, the LR ``tile`` used (None: whole)."""
    name: str
    image: np.ndarray
    seconds: float
    tile: object = None
    psnr: float = None
    ssim: float = None


def bicubic(lr, out_hw):
    """MATLAB bicubic upscaling of uint8 ``lr`` to ``out_hw`` (the baseline shown next to every model)."""
    t0 = time.perf_counter()
    img = imresize(lr, output_shape=tuple(out_hw))
    return Result(BICUBIC, img, time.perf_counter() - t0)


def output_hw(lr_hw, scale):
    from paddle_sr.runtime.tiling import output_size

    return output_size(tuple(lr_hw[:2]), scale)


def upscale(model, lr, scale, progress=None, max_memory_mb=None, tile=None, name=None):
    """Super-resolve ``lr`` (HxWx3 uint8) with ``model``: tiled automatically when it does not fit.

    ``progress(done, total)`` is called after each tile (tiled runs only). Returns a ``Result``.
    """
    from paddle_sr.runtime.scoring import inference_options
    from paddle_sr.runtime.tiling import plan_tile, super_resolve

    name = name or getattr(model, "sr_name", type(model).__name__)
    out_hw = output_hw(lr.shape, scale)
    opts = inference_options(tile, None, max_memory_mb)
    planned = tile
    if tile is None:
        try:
            planned = plan_tile(model, lr.shape[:2], out_hw, max_memory_mb)
        except SRError:
            planned = None  # super_resolve raises the same error, with the same words, below
    import paddle

    if isinstance(model, paddle.nn.Layer):  # predict's memory plan, the result kept as uint8 (memory.py)
        from paddle_sr.runtime import memory

        plan = memory.check(model, lr.shape[:2], out_hw, name=f"{name} on this image", tile=tile,
                            call_mb=max_memory_mb, canvas=True)  # budget: 80 % of the available memory
        if plan is not None and tile is None and plan["tile"] is not None:
            opts.update(tile=plan["tile"], tile_overlap=plan["overlap"])
            planned = plan["tile"]
    t0 = time.perf_counter()
    out = np.empty(tuple(out_hw) + (3,), np.uint8)  # rows land here: no full-size float copy

    def rows(y0, block):
        out[y0:y0 + block.shape[0]] = hwc_to_uint8(block)
    try:
        super_resolve(model, lr, scale, progress=progress, rows=rows, **opts)
    except MemoryError:
        raise SRError(f"ran out of memory on a {lr.shape[1]}x{lr.shape[0]} image with {name}; use a smaller "
                      f"--max-memory, or the command line with --tile {suggest_tile(model, lr.shape[:2], scale, 512)}"
                      ) from None
    return Result(name, out, time.perf_counter() - t0, planned)


def degrade(hr, scale):
    """(HR modcropped to ``scale``, LR = MATLAB ``imresize(hr, 1/scale)``): the benchmark LR."""
    if float(scale) != int(scale) or scale < 1:
        raise SRError(f"degrade-then-restore follows the benchmark protocol, which needs an integer scale; got "
                      f"x{scale:g} (pick x2, x3, x4 ... or 'upscale this image')")
    scale = int(scale)
    hr = modcrop(np.asarray(hr), scale)
    if min(hr.shape[:2]) < scale or min(hr.shape[:2]) - 2 * scale < 11:
        raise SRError(f"image {hr.shape[1]}x{hr.shape[0]} is too small for x{scale} with a {scale}-pixel border; "
                      f"use a larger image")
    return hr, imresize(hr, 1.0 / scale)


def protocol_line(scale, model_name, gray="matlab", max_memory_mb=None):
    """``evaluate``'s protocol line for a degrade-then-restore score (automatic tiles, uint8 SR)."""
    from paddle_sr.runtime.engines import default_engine
    from paddle_sr.runtime.scoring import protocol
    from paddle_sr.runtime.scoring import protocol_line as line

    return line(protocol(int(scale), model_name=model_name, gray=gray, max_memory_mb=max_memory_mb,
                         engine=default_engine()))


def is_gray_file(path):
    try:
        return path is not None and is_grayscale_file(path)
    except Exception:  # noqa: BLE001 - unreadable files were reported by read_image already
        return False


def restore(model, lr, hr, scale, gray_file=False, gray="matlab", progress=None, max_memory_mb=None, name=None):
    """SR of the benchmark ``lr`` scored against ``hr`` by ``evaluate``'s own scoring step
    (``evaluate.score_image``; ``model`` None: MATLAB bicubic). Returns a ``Result`` with psnr/ssim."""
    from paddle_sr.runtime import scoring as evaluate

    scale = int(scale)
    name = name or (BICUBIC if model is None else getattr(model, "sr_name", type(model).__name__))
    tile = None
    if model is not None:
        from paddle_sr.runtime.tiling import plan_tile

        try:
            tile = plan_tile(model, lr.shape[:2], (lr.shape[0] * scale, lr.shape[1] * scale), max_memory_mb)
        except SRError:
            tile = None  # score_image raises the same error below
    t0 = time.perf_counter()
    try:
        out, p, s = evaluate.score_image(model, lr, hr, scale, gray=gray if gray_file else None,
                                         max_memory_mb=max_memory_mb, progress=progress)
    except MemoryError:
        raise SRError(f"ran out of memory on a {lr.shape[1]}x{lr.shape[0]} image with {name}; start the app "
                      f"with a smaller --max-memory") from None
    return Result(name, out, time.perf_counter() - t0, tile, float(p), float(s))


def degrade_restore(models, hr, scale, path=None, gray="matlab", progress=None, max_memory_mb=None):
    """Degrade ``hr`` the benchmark way, restore it with bicubic and every ``(name, model)``, score each.

    Returns ``(hr modcropped, lr, [Result bicubic, Result per model])``, each with ``psnr``/``ssim``
    equal to ``python -m paddle_sr.evaluate`` on a folder holding that one image (``path``, when
    given, says whether the file is gray in itself).
    """
    hr, lr = degrade(hr, scale)
    gray_file = is_gray_file(path)
    results = [restore(None, lr, hr, scale, gray_file, gray)]
    for name, model in models:
        results.append(restore(model, lr, hr, scale, gray_file, gray, progress, max_memory_mb, name))
    return hr, lr, results


def compare(choices, img, scale, degrade_first=False, path=None, gray="matlab", progress=None, max_memory_mb=None,
            max_pixels=DEFAULT_MAX_PIXELS):
    """What the app's Run button does: every choice (loaded one at a time) and bicubic on ``img``.

    ``degrade_first``: ``img`` is the original; it is degraded (``degrade``) and every result scored
    against it (``restore``). ``progress(fraction, text)`` follows the models and their tiles.
    Returns ``(hr or None, lr, [Result bicubic, Result per choice])``.
    """
    hr, lr = degrade(img, scale) if degrade_first else (None, img)
    gray_file = degrade_first and is_gray_file(path)
    n, results = len(choices), []
    say = progress or (lambda fraction, text: None)
    for i, c in enumerate(choices):
        name = c.label.split(" — ")[0] if c.kind != "file" else c.model
        say(i / n, f"loading {name}")
        model = load_model(c, scale)  # the previous one is dropped
        check_pixels(lr.shape[:2], max_pixels, scale, model, max_memory_mb)

        def tiles(done, total, i=i, name=name):
            say((i + done / total) / n, f"{name}: tile {done}/{total}")

        say(i / n, f"{name}: running")
        if degrade_first:
            results.append(restore(model, lr, hr, scale, gray_file, gray, tiles, max_memory_mb, name))
        else:
            results.append(upscale(model, lr, scale, progress=tiles, max_memory_mb=max_memory_mb, name=name))
    say(1.0, "bicubic" + (" and scores" if degrade_first else ""))
    base = restore(None, lr, hr, scale, gray_file, gray) if degrade_first else \
        bicubic(lr, results[0].image.shape[:2] if results else output_hw(lr.shape, scale))
    return hr, lr, [base] + results


# --- the synchronised zoom ---

def crop_box(hw, cx, cy, frac):
    """(top, left, height, width) of a square crop ``frac`` of the shorter side wide, centred at the
    fractions ``cx``, ``cy`` of the width and height, kept inside the image."""
    h, w = int(hw[0]), int(hw[1])
    side = max(1, min(h, w, round(min(h, w) * float(frac))))
    top = min(max(round(float(cy) * h - side / 2), 0), h - side)
    left = min(max(round(float(cx) * w - side / 2), 0), w - side)
    return top, left, side, side


def zoom(img, box, size=320):
    """The ``box`` of ``img`` enlarged (nearest neighbour, the pixels as they are) to about ``size`` px."""
    top, left, h, w = box
    crop = np.ascontiguousarray(np.asarray(img)[top:top + h, left:left + w])
    k = max(1, round(size / max(h, w)))
    return np.repeat(np.repeat(crop, k, axis=0), k, axis=1) if k > 1 else crop


def zooms(images, cx, cy, frac):
    """The same place of every image (all the same size): ``[zoom]`` in order, and the box used."""
    box = crop_box(images[0].shape[:2], cx, cy, frac)
    return [zoom(img, box) for img in images], box


def preview(img, max_side=1600):
    """A copy small enough to show in a page (the download keeps the full resolution)."""
    h, w = img.shape[:2]
    if max(h, w) <= max_side:
        return img
    k = max_side / max(h, w)
    return np.asarray(Image.fromarray(img).resize((max(1, round(w * k)), max(1, round(h * k))), Image.BILINEAR))


def save_png(img, path, fast=True):
    """Write a uint8 image as PNG (atomically, ``evaluate.save_png``); ``fast`` trades file size for speed."""
    from paddle_sr.image.io import save_png as write

    return write(img, path, compress_level=1 if fast else 6)
