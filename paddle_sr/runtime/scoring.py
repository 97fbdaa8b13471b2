"""The one scoring step and benchmark evaluation (``python -m paddle_sr.evaluate`` is the command line).

Protocol (DESIGN.md §4, printed in the header line and stored under ``"protocol"`` in the JSON):
HR top-left cropped to a multiple of the scale; LR = MATLAB ``imresize(hr, 1/s, 'bicubic')``
(``image.imresize``); SR clipped and rounded to uint8 (``float_output`` keeps it unrounded, LIIF's
convention); PSNR / SSIM (``image.metrics``) on Y, ignoring ``s`` pixels at each border.
A grayscale file (Set14 ``bridge.png``) is fed to the model replicated to RGB and scored by the
``gray`` convention: ``matlab`` (its gray values; bicubic/EDSR/RDN/RCAN tables) or ``basicsr``
(Y of the replicated RGB; the RLFN paper). ``lr_float`` is the MATLAB-era test code's protocol: the LR
is fed unrounded. ``score_image`` is the step every tool scores with: evaluate, training validation,
the app and ``show_image``.
"""
import os

import numpy as np

from paddle_sr.core.errors import SRError
from paddle_sr.data.datasets import modcrop
from paddle_sr.image.imresize import imresize
from paddle_sr.image.io import is_grayscale_file, list_images, load_image, save_png, to_uint8
from paddle_sr.image.metrics import GRAY_CONVENTIONS, psnr, ssim
from paddle_sr.models.resolve import BICUBIC


def resolve_set(path):
    """(set name, folder of HR images) for ``path`` = the set folder (with an ``HR`` subfolder) or ``HR`` itself."""
    path = os.path.normpath(os.fspath(path))
    if not os.path.exists(path):
        raise SRError(f"data folder {path} does not exist; pass a benchmark set folder such as "
                      f"data/benchmarks/Set5 (or its HR subfolder; `python data_scripts/benchmarks.py --root "
                      f"data/benchmarks` makes them)")
    if not os.path.isdir(path):
        raise SRError(f"{path} is a file; --data takes folders of HR images (one per benchmark set)")
    if os.path.isdir(os.path.join(path, "HR")):
        return os.path.basename(os.path.abspath(path)), os.path.join(path, "HR")
    name = os.path.basename(os.path.abspath(path))
    if name.upper() == "HR":
        name = os.path.basename(os.path.dirname(os.path.abspath(path)))
    return name, path


def protocol(scale, *, model_name, gray="matlab", y_channel=True, crop_border=None, self_ensemble=False,
             tile=None, tile_overlap=None, float_output=False, engine=None, max_memory_mb=None, lr_float=False):
    """The evaluation protocol as a dict (stored in the results next to the numbers).

    ``tile_overlap`` None: the model's own default overlap (``paddle_sr.runtime.tiling``)."""
    return {"model": model_name, "scale": scale,
            "hr": f"top-left modcrop to a multiple of {scale}",
            "lr": f"MATLAB bicubic imresize(hr, 1/{scale}) (antialiased cubic a=-0.5)"
                  + (", double, not rounded" if lr_float else ""),
            "sr": "clipped to [0,255], float" if float_output else "clipped and rounded to uint8",
            "channel": "Y (BT.601, 16-235)" if y_channel else "RGB",
            "crop_border": scale if crop_border is None else int(crop_border),
            "gray": gray, "metrics": "PSNR, SSIM (11x11 Gaussian sigma 1.5, MATLAB), float64",
            "self_ensemble": bool(self_ensemble), "tile": tile, "tile_overlap": tile_overlap if tile else None,
            "max_memory_mb": max_memory_mb, "engine": engine}


def protocol_line(p):
    """One line stating the protocol, printed above every table."""
    extra = (" | self-ensemble x8" if p["self_ensemble"] else "") + \
            (f" | tiles {p['tile']} overlap {'model default' if p['tile_overlap'] is None else p['tile_overlap']}"
             if p["tile"] else "") + \
            (f" | max memory {p['max_memory_mb']} MB" if p.get("max_memory_mb") else "") + \
            (f" | engine {p['engine']}" if p.get("engine") not in (None, "eager") else "")
    lr = "LR MATLAB bicubic" + (" (double, not rounded)" if "not rounded" in p.get("lr", "") else "")
    return (f"{p['model']} x{p['scale']} | HR modcrop, {lr} | SR {p['sr']} | "
            f"{p['channel']}, border {p['crop_border']} | gray files: {p['gray']}{extra}")


def inference_options(tile=None, tile_overlap=None, max_memory_mb=None):
    """Keyword arguments for ``tiling.super_resolve`` from ``--tile/--tile-overlap/--max-memory``.

    ``None`` means "the default of ``super_resolve``" (automatic tiles, the model's own overlap) and
    is left out; bad values fail here, before any work.
    """
    given = {"tile": tile, "tile_overlap": tile_overlap, "max_memory_mb": max_memory_mb}
    opts = {k: v for k, v in given.items() if v is not None}
    for key, value in opts.items():
        if value is not None and value < (1 if key != "tile_overlap" else 0):
            flag = {"tile": "--tile", "tile_overlap": "--tile-overlap", "max_memory_mb": "--max-memory"}[key]
            raise SRError(f"{flag} must be {'>= 0' if key == 'tile_overlap' else '>= 1'}, got {value}")
    return opts


def _super_resolve(model, lr, scale, opts):
    """LR on [0, 255] (uint8, or float64 with ``lr_float``) -> SR on [0, 255]: uint8, or float64 when
    ``float_output``."""
    if model is None:
        if opts["float_output"]:
            return np.clip(imresize(lr.astype(np.float64), scale), 0, 255)
        if lr.dtype != np.uint8:  # double LR: round once at the end, half away from zero as MATLAB's im2uint8
            return np.clip(np.floor(imresize(lr, scale) + 0.5), 0, 255).astype(np.uint8)
        return imresize(lr, scale)
    from paddle_sr.runtime.tiling import super_resolve
    sr = super_resolve(model, lr, scale, self_ensemble=opts["self_ensemble"], progress=opts.get("progress"),
                       **inference_options(opts["tile"], opts["tile_overlap"], opts.get("max_memory_mb")))
    if opts["float_output"]:
        return np.clip((sr.astype(np.float64) + 1.0) * 127.5, 0, 255)
    return to_uint8(sr.transpose(2, 0, 1))


def super_resolve_image(model, lr, scale, *, float_output=False, self_ensemble=False, tile=None, tile_overlap=None,
                        max_memory_mb=None, progress=None):
    """The SR half of ``score_image`` for an image without HR: LR on [0, 255] -> SR on [0, 255], uint8
    (rounded exactly as ``score_image`` rounds it) unless ``float_output``; ``model`` None is MATLAB-bicubic."""
    opts = {"tile": tile, "tile_overlap": tile_overlap, "self_ensemble": self_ensemble, "float_output": float_output,
            "max_memory_mb": max_memory_mb, "progress": progress}
    return _super_resolve(model, lr, scale, opts)


def score_image(model, lr, hr, scale, *, gray=None, y_channel=True, crop_border=None, float_output=False,
                self_ensemble=False, tile=None, tile_overlap=None, max_memory_mb=None, progress=None):
    """The one scoring step of the suite: SR of ``lr`` against ``hr`` -> (SR on [0, 255], PSNR, SSIM).

    ``evaluate``, ``reproduce``, training validation, the notebooks and the app all score through it.
    ``model`` None is MATLAB-bicubic; ``gray`` is the convention for an image that is grayscale in its
    file (None for a colour one; see ``paddle_sr.image.metrics``); SR is uint8 unless ``float_output``.
    ``progress(done, total)``: called after each tile (``tiling.super_resolve``).
    """
    sr = super_resolve_image(model, lr, scale, float_output=float_output, self_ensemble=self_ensemble, tile=tile,
                             tile_overlap=tile_overlap, max_memory_mb=max_memory_mb, progress=progress)
    if sr.shape != hr.shape:
        raise SRError(f"SR is {sr.shape[1]}x{sr.shape[0]}, HR is {hr.shape[1]}x{hr.shape[0]}; was the model built "
                      f"for x{scale}?")
    crop = scale if crop_border is None else int(crop_border)
    return sr, psnr(sr, hr, crop, y_channel, gray), ssim(sr, hr, crop, y_channel, gray)


def score_sets(model, sets, scale, gray="matlab", **protocol):
    """``{set: (mean PSNR, mean SSIM, [(name, SR)])}`` for ``sets`` = [(set, [(name, lr, hr, gray_file)])]
    (``data.validation_pairs(..., gray_flags=True)``), each image through ``score_image``."""
    out = {}
    for set_name, pairs in sets:
        scored = [(name, *score_image(model, lr, hr, scale, gray=gray if gray_file else None, **protocol))
                  for name, lr, hr, gray_file in pairs]
        out[set_name] = (float(np.mean([s[2] for s in scored])), float(np.mean([s[3] for s in scored])),
                         [(s[0], s[1]) for s in scored])
    return out


def set_name(spec):
    """A short tag for a validation set: 'embedded:val' -> 'embedded_val', '.../Set5/HR' -> 'Set5'."""
    spec = os.path.normpath(spec)
    base = os.path.basename(spec)
    if base == "HR":
        base = os.path.basename(os.path.dirname(spec))
    return base.replace(":", "_") or "val"


def validation_sets(specs, scale, max_size=0):
    """[(set, [(name, lr, hr, the file is grayscale)])] for ``score_sets`` (training validation): each spec
    read by ``data.validation_pairs`` (a data spec or folder; ``max_size`` centre-crops large images)."""
    from paddle_sr.data.datasets import validation_pairs

    def source(spec):  # a benchmark set folder holding HR/, as evaluate --data takes it
        return os.path.join(spec, "HR") if os.path.isdir(os.path.join(spec, "HR")) else spec

    return [(set_name(s), validation_pairs(source(s), scale, max_size=max_size or None, gray_flags=True))
            for s in specs]


def evaluate(model, scale, data_dirs, *, gray="matlab", y_channel=True, crop_border=None, self_ensemble=False,
             tile=None, tile_overlap=None, save_dir=None, float_output=False, progress=True, engine=None,
             max_memory_mb=None, lr_float=False, force=False):
    """Evaluate ``model`` (None or 'bicubic' = bicubic baseline) on benchmark sets by the protocol.

    ``lr_float``: the LR is MATLAB ``imresize`` of the double image, not rounded to uint8 (the test code
    of the MATLAB-era Y-channel models, e.g. LapSRN's ``test_LapSRN.m``).

    ``engine``: 'auto' (None: the process default), 'eager' or 'inference' (``paddle_sr.runtime.engines``:
    the model exported once and run by Paddle Inference, oneDNN on CPU, within 2e-3 of eager on the
    0-255 scale; 'auto' uses it once it pays for the export); tiles and self-ensemble go through it.
    ``tile``/``tile_overlap``/``max_memory_mb`` None: ``tiling.super_resolve``'s defaults.
    ``save_dir`` is checked for writability before any image is processed, and a PNG already there is
    refused unless ``force`` (``--force``).

    Returns ``{"<set>": {"psnr", "ssim", "images": {name: {"psnr", "ssim"}}}, "protocol": {...}}``.
    """
    if isinstance(data_dirs, (str, os.PathLike)):
        data_dirs = [data_dirs]
    scale, model, name = _check_arguments(model, scale, gray)
    opts = {"tile": tile, "tile_overlap": tile_overlap, "self_ensemble": self_ensemble, "float_output": float_output,
            "max_memory_mb": max_memory_mb}
    if model is not None:
        inference_options(tile, tile_overlap, max_memory_mb)  # bad values fail before any work
    sets = [resolve_set(d) for d in data_dirs]
    files = {folder: list_images(folder) for _, folder in sets}  # fail on an empty folder before any work
    keys = _set_keys(sets)
    if save_dir is not None:
        _check_save_dir(save_dir, [(key, path) for key, (_, folder) in zip(keys, sets) for path in files[folder]],
                        force)
    recorded_overlap = _recorded_overlap(model, tile, tile_overlap)
    model, engine = _with_engine(model, engine)
    scoring = dict(scale=scale, gray=gray, y_channel=y_channel, crop_border=crop_border, lr_float=lr_float,
                   save_dir=save_dir, force=force, opts=opts)
    results = {key: _score_set(model, key, files[folder], progress=progress, **scoring)
               for key, (_, folder) in zip(keys, sets)}
    results["protocol"] = protocol(scale, model_name=name, gray=gray, y_channel=y_channel, crop_border=crop_border,
                                   self_ensemble=self_ensemble, tile=tile, tile_overlap=recorded_overlap,
                                   float_output=float_output, engine=engine, max_memory_mb=max_memory_mb,
                                   lr_float=lr_float)
    return results


def _check_arguments(model, scale, gray):
    """(integer scale, model or None for bicubic, the model's name), or SRError before any work."""
    if int(scale) != scale or scale < 1:
        raise SRError(f"the benchmark protocol needs an integer scale >= 1 (HR modcrop, 1/s bicubic LR), got {scale}")
    if gray not in GRAY_CONVENTIONS:
        raise SRError(f"unknown gray convention {gray!r}; use one of {', '.join(GRAY_CONVENTIONS)}")
    bicubic = model is None or (isinstance(model, str) and model == BICUBIC)
    if isinstance(model, str) and not bicubic:
        raise SRError(f"evaluate takes a model object or {BICUBIC!r}, got the string {model!r}")
    model = None if bicubic else model
    return int(scale), model, BICUBIC if bicubic else getattr(model, "sr_name", type(model).__name__)


def _check_save_dir(save_dir, outputs, force):
    """``save_dir`` writable, and none of its PNGs for ``outputs`` = [(set key, image path)] already there
    unless ``force``."""
    from paddle_sr.core.files import check_writable, refuse_existing

    check_writable(save_dir, "--save-images folder", folder=True)
    if not force:
        refuse_existing([_saved_png(save_dir, key, path) for key, path in outputs], "--force (force=True)",
                        "another --save-images folder")


def _recorded_overlap(model, tile, tile_overlap):
    """The overlap the model's tiles get, stated in the protocol (None: "model default")."""
    if tile is not None and tile_overlap is None and model is not None:
        try:
            from paddle_sr.runtime.tiling import default_overlap
            return default_overlap(model)
        except ImportError:
            pass
    return tile_overlap


def _with_engine(model, engine):
    """(the model as the engine runs it, the engine's name for the protocol)."""
    from paddle_sr.runtime.engines import resolve_engine, with_engine
    from paddle_sr.runtime.predictor import InferenceEngine

    engine = resolve_engine(engine)
    model = with_engine(model, engine)
    engine = ("eager" if model is None else "inference" if isinstance(model, InferenceEngine)
              else getattr(model, "engine_kind", engine))  # an onnx_engine.OnnxEngine: 'onnxruntime'
    return model, engine


def _score_set(model, key, paths, *, scale, gray, y_channel, crop_border, lr_float, save_dir, force, opts,
               progress):
    """One set's ``{"psnr", "ssim", "images": {name: {"psnr", "ssim"}}}``, each image through ``score_image``
    (SR saved as ``save_dir/key/name.png`` when asked)."""
    crop = scale if crop_border is None else int(crop_border)
    images = {}
    if progress:
        from tqdm import tqdm
        paths = tqdm(paths, desc=key, leave=False, unit="img")
    for path in paths:
        img_name = os.path.splitext(os.path.basename(path))[0]
        hr = modcrop(load_image(path), scale)
        if min(hr.shape[:2]) < scale or min(hr.shape[:2]) - 2 * crop < 11:
            raise SRError(f"image {path} ({hr.shape[1]}x{hr.shape[0]}) is too small for x{scale} with a "
                          f"{crop}-pixel border; remove it from the set")
        lr = imresize(hr.astype(np.float64) if lr_float else hr, 1.0 / scale)
        try:
            sr, p, s = score_image(model, lr, hr, scale, gray=gray if is_grayscale_file(path) else None,
                                   y_channel=y_channel, crop_border=crop_border, **opts)
        except SRError as e:
            raise SRError(f"{path}: {e}") from None
        images[img_name] = {"psnr": p, "ssim": s}
        if save_dir is not None:
            out = sr if sr.dtype == np.uint8 else np.clip(np.round(sr), 0, 255).astype(np.uint8)
            save_png(out, _saved_png(save_dir, key, path), replace=force)
    return {"psnr": float(np.mean([v["psnr"] for v in images.values()])),
            "ssim": float(np.mean([v["ssim"] for v in images.values()])), "images": images}


def _set_keys(sets):
    """The results' key of each (set name, folder): the set's name, ``_2``, ``_3`` ... for repeated names."""
    keys = []
    for set_name, _ in sets:
        key, n = set_name, 2
        while key in keys or key == "protocol":
            key, n = f"{set_name}_{n}", n + 1
        keys.append(key)
    return keys


def _saved_png(save_dir, key, path):
    return os.path.join(os.fspath(save_dir), key, os.path.splitext(os.path.basename(path))[0] + ".png")


def format_table(results):
    """Header line with the protocol, then one ``set  PSNR  SSIM  (n images)`` row per set."""
    lines = [protocol_line(results["protocol"]), f"{'set':<12} {'PSNR':>8} {'SSIM':>7}  images"]
    for key, r in results.items():
        if key != "protocol":
            lines.append(f"{key:<12} {r['psnr']:8.2f} {r['ssim']:7.4f}  {len(r['images'])}")
    return "\n".join(lines)
