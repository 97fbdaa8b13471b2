"""Super-resolve your own images.

    python -m paddle_sr.predict --model NAME --weights FILE --scale S INPUT... --out DIR

INPUT is any mix of image files and folders of images (any size). Each result is written as
``DIR/<name>_x<scale>.png`` (``<name>_<W>x<H>.png`` with ``--size``), RGBA when the input has alpha
(upscaled bicubically), atomically, and an existing file is never overwritten unless ``--force`` is
given (all outputs are checked before any work); ``--skip-existing`` keeps them and does the rest
(continues an interrupted folder). Each image's whole call (input, tiles, output strip, PNG encoder)
is planned from its header against ``--max-memory MB`` (default: 80 % of the available memory;
``paddle_sr.runtime.memory``) and the rows are streamed into the PNG: no full-size copy of the output.
Inputs above ``--max-pixels`` (default: Pillow's decompression-bomb limit) are refused.
An unreadable, too large or over-budget image is reported on one line and skipped; the others are
still written and the command exits with status 2 at the end, naming every file that failed. When ``--out`` is one of
the input folders, the tool's own earlier outputs there (``<name>_x<scale>.png`` or
``<name>_<W>x<H>.png`` beside ``<name>.*``) are not taken as inputs again. Arbitrary-scale models
(LIIF) take a non-integer ``--scale`` or an output ``--size WxH``. ``--engine inference`` exports
the model and runs it with Paddle Inference (oneDNN on CPU; ``paddle_sr.runtime.predictor``); LIIF then renders
at its ``--scale`` only (no ``--size``).
"""
import argparse
import os
import re
import sys

import numpy as np

from paddle_sr.core.errors import SRError, cli_main
from paddle_sr.image.io import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    PngRows,
    hwc_to_uint8,
    list_images,
    load_image,
    open_image,
    set_max_pixels,
)
from paddle_sr.runtime.engines import ENGINE_HELP, ENGINES

_SIZE_NEEDS_EAGER = ("--size needs --engine eager: an exported arbitrary-scale model renders at the fixed scale "
                     "it was built for; use --scale S with --engine inference")


# What ``predict`` appends to a stem: ``_x4``, ``_x2.5`` or ``_1920x1080``.
_OUTPUT_SUFFIX = re.compile(r"^(?P<stem>.+)_(x\d+(\.\d+)?|\d+x\d+)\.png$", re.IGNORECASE)


def own_outputs(files):
    """The files among ``files`` (one folder's images) that look like this tool's outputs of another
    file of the same folder: ``a_x4.png`` (and ``a_x4_x4.png``) beside ``a.png``."""
    stems = {os.path.splitext(os.path.basename(f))[0] for f in files}
    own = []
    for f in files:
        m = _OUTPUT_SUFFIX.match(os.path.basename(f))
        if m and m.group("stem") in stems:
            own.append(f)
    return own


def _same_folder(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def collect_inputs(inputs, out_dir=None):
    """Image files from files and folders (a folder's images, not recursive), in the given order.

    A folder that is also ``out_dir`` holds the tool's own earlier results: those (``own_outputs``)
    are left out, so a rerun does not upscale its outputs again (``a_x4_x4.png``).
    """
    files = []
    for item in inputs:
        item = os.fspath(item)
        if os.path.isdir(item):
            found = list_images(item)
            if out_dir is not None and _same_folder(item, out_dir):
                skip = set(own_outputs(found))
                found = [f for f in found if f not in skip]
                if not found:
                    raise SRError(f"folder {item} holds only earlier outputs of this tool; pass the original "
                                  f"images, or another --out")
            files += found
        elif os.path.isfile(item):
            if not item.lower().endswith(IMAGE_EXTENSIONS):
                raise SRError(f"{item} is not an image file ({', '.join(IMAGE_EXTENSIONS)}); pass images or folders")
            files.append(item)
        else:
            raise SRError(f"input {item} does not exist; pass image files or folders of images")
    return files


def _parse_size(text):
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SRError(f"--size must look like 1920x1080 (width x height), got {text!r}") from None
    if w < 1 or h < 1:
        raise SRError(f"--size must be positive, got {text!r}")
    return h, w


def _scale_text(scale):
    return str(int(scale)) if float(scale).is_integer() else f"{float(scale):g}"


def build_model(name, scale, weights):
    """Registered model ``name`` for ``scale`` with ``weights`` loaded; SRError for bad combinations.

    Weights inside a training run folder rebuild the run's configuration (its ``config.json``)."""
    from paddle_sr.models.resolve import fixed_scale, model_for_weights

    return model_for_weights(name, fixed_scale(name, scale), weights)


class PredictFailures(SRError):
    """Some images could not be super-resolved; the others were written (``written``)."""

    def __init__(self, message, written, failures):
        super().__init__(message)
        self.written, self.failures = written, failures


def predict(model, inputs, out_dir, scale=None, out_size=None, tile=None, tile_overlap=None, self_ensemble=False,
            force=False, progress=True, engine=None, max_memory_mb=None, skip_existing=False, max_pixels=None):
    """Super-resolve every image of ``inputs`` into ``out_dir``; returns the written paths.

    ``engine``: 'auto' (None: the process default, ``engines.default_engine``), 'eager' or
    'inference' (an exported copy of ``model`` run by Paddle Inference, ``paddle_sr.runtime.engines``).
    ``tile``/``tile_overlap`` None: ``tiling.super_resolve``'s defaults. ``max_memory_mb``: the
    budget of one image's whole call (``paddle_sr.runtime.memory``; None: a fraction of the available memory),
    checked from the header before the image is decoded. ``skip_existing``: outputs already there are
    kept and their inputs skipped (outputs are written atomically, so an existing one is complete).
    ``max_pixels``: the pixel limit of an input (``image.io.set_max_pixels``; None: Pillow's).
    An image that cannot be read or super-resolved is reported on stderr and skipped; after the
    others are written, ``PredictFailures`` (an SRError) names every failed file.
    """
    from paddle_sr.core.files import check_writable
    from paddle_sr.runtime.engines import resolve_engine, with_engine
    from paddle_sr.runtime.scoring import inference_options

    engine = resolve_engine(engine)
    if engine == "inference" and out_size is not None:
        raise SRError(_SIZE_NEEDS_EAGER)
    if force and skip_existing:
        raise SRError("pass --force (overwrite existing outputs) or --skip-existing (keep them), not both")
    inference_options(tile, tile_overlap, max_memory_mb)
    check_writable(out_dir, "--out folder", folder=True)

    files = collect_inputs(inputs, out_dir)
    suffix = "{w}x{h}".format(w=out_size[1], h=out_size[0]) if out_size else f"x{_scale_text(scale)}"
    outs = [os.path.join(os.fspath(out_dir), os.path.splitext(os.path.basename(f))[0] + f"_{suffix}.png")
            for f in files]
    seen = {}
    for f, o in zip(files, outs):
        if o in seen:
            raise SRError(f"{seen[o]} and {f} would both be written to {o}; rename one or run them separately")
        seen[o] = f
    existing = [o for o in outs if os.path.exists(o)]
    if existing and not force and not skip_existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise SRError(f"{existing[0]}{more} already exists; pass --force to overwrite, --skip-existing to keep it "
                      f"and do the rest, or choose another --out")
    pairs = list(zip(files, outs))
    if skip_existing and existing:
        pairs = [(f, o) for f, o in pairs if o not in set(existing)]
        _report(f"skipping {len(existing)} image(s) whose output already exists (--skip-existing)", False)
    if max_pixels is not None:
        set_max_pixels(max_pixels)
    eager = model
    model = with_engine(model, engine) if pairs else model  # after the checks above: exporting takes seconds
    if progress:
        from tqdm import tqdm
        pairs = tqdm(pairs, desc="predict", unit="img")
    written, failures = [], []
    for f, o in pairs:
        try:
            _predict_one(eager, model, f, o, scale, out_size, tile, tile_overlap, self_ensemble, max_memory_mb, force)
        except (SRError, ValueError, RuntimeError, MemoryError) as e:
            # This image only (unreadable, too small or too large for the model or the memory budget):
            # report it on one line and go on, so one bad file does not cost the rest of a folder.
            reason = str(e) if isinstance(e, SRError) else f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"
            failures.append((f, reason))
            _report(f"skipped {f}: {reason}", progress)
            continue
        written.append(o)  # an OSError (disk full) stops the run
    if failures:
        names = ", ".join(os.path.basename(f) for f, _ in failures)
        raise PredictFailures(f"{len(failures)} of {len(files)} image(s) failed ({names}; reasons above); the other "
                              f"{len(written)} were written to {os.fspath(out_dir)}", written, failures)
    return outs


def _predict_one(eager, net, path, out, scale, out_size, tile, tile_overlap, self_ensemble, max_memory_mb,
                 force=False):
    """One image: the memory plan from its header, then SR rows streamed into the PNG (with alpha). Without
    ``force`` the last step refuses a file another run wrote there meanwhile (``atomic_write(replace=False)``)."""
    from PIL import Image

    from paddle_sr.core.files import atomic_write
    from paddle_sr.runtime import memory
    from paddle_sr.runtime.tiling import output_size, super_resolve

    try:
        with open_image(path) as im:  # header only; SRError above the pixel limit
            w, h = im.size
            has_alpha = "A" in im.getbands() or "transparency" in im.info
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                w, h = h, w
    except (OSError, SyntaxError, ValueError):
        w = h = None  # load_image below says what is wrong with it (or reads a TIFF Pillow cannot)
    if w is not None:
        out_hw = output_size((h, w), scale, out_size)
        plan = memory.check(eager, (h, w), out_hw, name=path, tile=tile, tile_overlap=tile_overlap,
                            max_memory_mb=max_memory_mb, alpha=has_alpha, self_ensemble=self_ensemble)
        if plan is not None and tile is None:
            tile, tile_overlap = plan["tile"], plan["overlap"] if plan["tile"] is not None else tile_overlap
    lr, alpha = load_image(path, alpha=True)
    out_hw = output_size(lr.shape[:2], scale, out_size)
    if alpha is not None:
        alpha = np.asarray(Image.fromarray(alpha).resize((out_hw[1], out_hw[0]), Image.BICUBIC))

    def write(tmp):
        with open(tmp, "wb") as f:
            png = PngRows(f, out_hw[1], out_hw[0], 3 if alpha is None else 4)

            def rows(y0, block):
                block = hwc_to_uint8(block)
                if alpha is not None:
                    block = np.concatenate([block, alpha[y0:y0 + block.shape[0], :, None]], axis=2)
                png.write(block)
            super_resolve(net, lr, scale, tile=tile, tile_overlap=tile_overlap, self_ensemble=self_ensemble,
                          out_size=out_size, rows=rows,
                          **({"max_memory_mb": max_memory_mb} if max_memory_mb else {}))
            png.close()
    atomic_write(out, write, ".png", replace=force)


def _report(line, progress):
    if progress:
        from tqdm import tqdm
        tqdm.write(line, file=sys.stderr)
    else:
        print(line, file=sys.stderr)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m paddle_sr.predict",
                                 description="Super-resolve image files or folders.")
    ap.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders of images")
    ap.add_argument("--model", required=True, help="registered model name")
    ap.add_argument("--weights", required=True, help=".pdparams file, an .onnx export (run by ONNX Runtime), "
                                                    "or 'official' / 'official:ID' for the authors' released weights (python -m paddle_sr.pretrained lists them)")
    ap.add_argument("--scale", type=float, default=None, help="upscaling factor (non-integer: arbitrary-scale models)")
    ap.add_argument("--size", default=None, metavar="WxH", help="output size instead of --scale (LIIF)")
    ap.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG results")
    ap.add_argument("--tile", type=int, default=None, metavar="N", help="LR tile size (bounded memory)")
    ap.add_argument("--tile-overlap", type=int, default=None, metavar="M",
                    help="LR pixels of overlap between tiles (default: the model's own)")
    ap.add_argument("--max-memory", type=int, default=None, metavar="MB",
                    help="memory budget of one image's whole call (input, tiles, output, PNG encoder), checked "
                         "before any work; tiles get what is left (default: 80%% of the available memory)")
    ap.add_argument("--max-pixels", type=int, default=None, metavar="N",
                    help=f"refuse inputs above N pixels before decoding (default {DEFAULT_MAX_PIXELS:,}, Pillow's "
                         f"decompression-bomb limit)")
    ap.add_argument("--self-ensemble", action="store_true", help="average x8 flips/rotations (8x slower)")
    overwrite = ap.add_mutually_exclusive_group()
    overwrite.add_argument("--force", action="store_true", help="overwrite existing outputs")
    overwrite.add_argument("--skip-existing", action="store_true",
                           help="keep existing outputs and do the rest (continues an interrupted folder; outputs "
                                "are written atomically, so an existing one is complete)")
    ap.add_argument("--device", default=None, help="paddle device: cpu, gpu or gpu:N (default: a GPU if any)")
    ap.add_argument("--engine", choices=ENGINES, default=None, help=ENGINE_HELP)
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    from paddle_sr.models import scales

    arbitrary = scales(args.model) is None
    out_size = _parse_size(args.size) if args.size else None
    if out_size is not None and not arbitrary:
        raise SRError(f"--size needs an arbitrary-scale model (liif); {args.model!r} has fixed scales, use --scale")
    if out_size is not None and args.scale is not None:
        raise SRError("pass --scale or --size, not both")
    if out_size is not None and args.engine == "inference":
        raise SRError(_SIZE_NEEDS_EAGER)
    if out_size is None and args.scale is None:
        raise SRError("pass --scale S (or --size WxH for an arbitrary-scale model)")
    if args.scale is not None and args.scale <= 1 and not (arbitrary and args.scale == 1):
        raise SRError(f"--scale must be > 1, got {args.scale:g}")
    from paddle_sr.core.files import check_writable
    from paddle_sr.runtime.scoring import inference_options

    inference_options(args.tile, args.tile_overlap, args.max_memory)
    set_max_pixels(args.max_pixels)
    # A typo in a path, an --out that is a file or cannot be written fail before the model is built.
    check_writable(args.out, "--out folder", folder=True)
    collect_inputs(args.inputs, args.out)
    from paddle_sr.runtime.device import use_device

    use_device(args.device, threads=True)  # None: a GPU if any, else the CPU; all cores for CPU math
    if args.weights.endswith(".onnx"):  # an ONNX export: run by ONNX Runtime, checked against --model/--scale
        from paddle_sr.runtime.onnx_engine import OnnxEngine

        if args.engine not in (None, "auto", "onnxruntime"):
            raise SRError(f"--weights {args.weights} is an ONNX file: it runs with --engine onnxruntime, "
                          f"not {args.engine}; pass the .pdparams for --engine {args.engine}")
        model = OnnxEngine(args.weights, expect=(args.model, args.scale if args.scale is not None else 4))
    else:
        model = build_model(args.model, args.scale if args.scale is not None else 4, args.weights)
    scale = args.scale if args.scale is None or not args.scale.is_integer() else int(args.scale)
    outs = predict(model, args.inputs, args.out, scale=scale, out_size=out_size, tile=args.tile,
                   tile_overlap=args.tile_overlap, self_ensemble=args.self_ensemble, force=args.force,
                   progress=not args.quiet, engine=args.engine, max_memory_mb=args.max_memory,
                   skip_existing=args.skip_existing)
    print(f"{len(outs)} image(s) in {args.out}" + (" (existing outputs kept: --skip-existing)" if args.skip_existing
                                                    else ""))
    return outs


if __name__ == "__main__":
    cli_main(main)
