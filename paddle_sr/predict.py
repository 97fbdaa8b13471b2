"""Super-resolve your own images.

    python -m paddle_sr.predict --model NAME --weights FILE --scale S INPUT... --out DIR

INPUT is any mix of image files and folders of images (any size). Each result is written as
``DIR/<name>_x<scale>.png`` (``<name>_<W>x<H>.png`` with ``--size``), atomically, and an existing
file is never overwritten unless ``--force`` is given (all outputs are checked before any work).
``--tile N`` bounds memory on large images (see ``paddle_sr.inference``). Arbitrary-scale models
(LIIF) take a non-integer ``--scale`` or an output ``--size WxH``. ``--engine inference`` exports
the model and runs it with Paddle Inference (oneDNN on CPU; ``paddle_sr.engine``); LIIF then renders
at its ``--scale`` only (no ``--size``).
"""
import argparse
import os

from .data import IMAGE_EXTENSIONS, list_images, load_image, to_uint8
from .errors import SRError, cli_main
from .evaluate import save_png


_SIZE_NEEDS_EAGER = ("--size needs --engine eager: an exported arbitrary-scale model renders at the fixed scale "
                     "it was built for; use --scale S with --engine inference")


def collect_inputs(inputs):
    """Image files from files and folders (a folder's images, not recursive), in the given order."""
    files = []
    for item in inputs:
        item = os.fspath(item)
        if os.path.isdir(item):
            files += list_images(item)
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
    """Registered model ``name`` for ``scale`` with ``weights`` loaded; SRError for bad combinations."""
    from .checkpoint import model_for_weights
    from .models import scales

    supported = scales(name)
    if supported is not None:
        if not float(scale).is_integer():
            raise SRError(f"model {name!r} has fixed scales {', '.join(map(str, supported))}; got --scale {scale}. "
                          f"Non-integer scales need an arbitrary-scale model such as liif")
        scale = int(scale)
    return model_for_weights(name, scale, weights)


def predict(model, inputs, out_dir, scale=None, out_size=None, tile=None, tile_overlap=16, self_ensemble=False,
            force=False, progress=True, engine="eager"):
    """Super-resolve every image of ``inputs`` into ``out_dir``; returns the written paths.

    ``engine='inference'``: run an exported copy of ``model`` with Paddle Inference (``paddle_sr.engine``).
    """
    from .engine import ENGINES, with_engine
    from .inference import super_resolve

    if engine not in ENGINES:
        raise SRError(f"unknown engine {engine!r}; use one of: {', '.join(ENGINES)}")
    if engine == "inference" and out_size is not None:
        raise SRError(_SIZE_NEEDS_EAGER)

    files = collect_inputs(inputs)
    suffix = "{w}x{h}".format(w=out_size[1], h=out_size[0]) if out_size else f"x{_scale_text(scale)}"
    outs = [os.path.join(os.fspath(out_dir), os.path.splitext(os.path.basename(f))[0] + f"_{suffix}.png")
            for f in files]
    seen = {}
    for f, o in zip(files, outs):
        if o in seen:
            raise SRError(f"{seen[o]} and {f} would both be written to {o}; rename one or run them separately")
        seen[o] = f
    if not force:
        existing = [o for o in outs if os.path.exists(o)]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise SRError(f"{existing[0]}{more} already exists; pass --force to overwrite or choose another --out")
    model = with_engine(model, engine)  # after the checks above: exporting takes seconds
    pairs = list(zip(files, outs))
    if progress:
        from tqdm import tqdm
        pairs = tqdm(pairs, desc="predict", unit="img")
    for f, o in pairs:
        sr = super_resolve(model, load_image(f), scale, tile=tile, tile_overlap=tile_overlap,
                           self_ensemble=self_ensemble, out_size=out_size)
        save_png(to_uint8(sr.transpose(2, 0, 1)), o)
    return outs


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m paddle_sr.predict",
                                 description="Super-resolve image files or folders.")
    ap.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders of images")
    ap.add_argument("--model", required=True, help="registered model name")
    ap.add_argument("--weights", required=True, help=".pdparams file")
    ap.add_argument("--scale", type=float, default=None, help="upscaling factor (non-integer: arbitrary-scale models)")
    ap.add_argument("--size", default=None, metavar="WxH", help="output size instead of --scale (LIIF)")
    ap.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG results")
    ap.add_argument("--tile", type=int, default=None, metavar="N", help="LR tile size (bounded memory)")
    ap.add_argument("--tile-overlap", type=int, default=16, metavar="M")
    ap.add_argument("--self-ensemble", action="store_true", help="average x8 flips/rotations (8x slower)")
    ap.add_argument("--force", action="store_true", help="overwrite existing outputs")
    ap.add_argument("--device", default=None, help="paddle device, e.g. cpu or gpu:0 (default: Paddle's)")
    ap.add_argument("--engine", choices=("eager", "inference"), default="eager",
                    help="inference: export the model and run it with Paddle Inference (oneDNN on CPU)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    from .models import scales

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
    if args.device:
        import paddle
        paddle.set_device(args.device)
    collect_inputs(args.inputs)  # a typo in a path fails before the model is built
    model = build_model(args.model, args.scale if args.scale is not None else 4, args.weights)
    scale = args.scale if args.scale is None or not args.scale.is_integer() else int(args.scale)
    outs = predict(model, args.inputs, args.out, scale=scale, out_size=out_size, tile=args.tile,
                   tile_overlap=args.tile_overlap, self_ensemble=args.self_ensemble, force=args.force,
                   progress=not args.quiet, engine=args.engine)
    print(f"wrote {len(outs)} image(s) to {args.out}")
    return outs


if __name__ == "__main__":
    cli_main(main)
