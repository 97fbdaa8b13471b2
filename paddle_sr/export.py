"""Export a model for deployment: ``paddle.jit.save`` with a dynamic height/width input.

    python -m paddle_sr.export --model rlfn_ntire --scale 4 --weights rlfn_ntire_x4.pdparams --out export/rlfn_ntire_x4
    python -m paddle_sr.export --weights output/demo_x2/Best.pdparams --out export/demo_x2   # a run's own model
    python -m paddle_sr.export --cache list      # the persistent export cache (paddle_sr.export_cache)
    python -m paddle_sr.export --cache clear

writes ``OUT/model.json`` (``model.pdmodel`` before Paddle 3), ``OUT/model.pdiparams`` and
``OUT/sr_meta.json`` (model, scale, I/O range, the weights' own range and fingerprint). The graph takes one NCHW float32 image batch in the suite's [-1, 1] of any
height/width (``InputSpec([None, 3, None, None])``) and returns SR in [-1, 1]; the weights' own
value range (``value_range`` buffer) is baked in, so the exported model needs no knowledge of it.
Run it with ``paddle.jit.load(OUT + '/model')`` or ``paddle_sr.engine.InferenceEngine(OUT)``.

Arbitrary-scale models (LIIF) are exported as fixed-scale renderers: ``forward(lr)`` at the model's
``scale`` (``--scale``, may be non-integer; output ``round(H * scale)`` computed in the graph), all
output pixels queried in one batch, so large images want tiled inference (``--tile``).

``--format onnx`` writes one ONNX file instead (``--out NAME.onnx``; paddle2onnx, dynamic N/H/W,
the same metadata in its ``metadata_props``): ``paddle_sr/onnx_export.py``. Run it with
``--engine onnxruntime`` or with onnxruntime alone (``examples/onnx_upscale.py``).
"""
import argparse
import json
import os
import shutil
import tempfile

import paddle
from paddle.static import InputSpec

from . import models
from .checkpoint import check_writable, model_for_weights, refuse_existing, run_config
from .convert import parse_arg
from .engine import META_FILE, PREFIX, model_files, use_device
from .errors import SRError, cli_main


def weights_meta(model):
    """What an export says about its weights (also in an ONNX export's metadata): ``weights_range``, the
    value range they were trained on (baked into the graph; informative), and ``fingerprint``
    (``engine_choice.fingerprint``, to tell which weights a file holds)."""
    from .engine_choice import fingerprint

    vr = getattr(model, "value_range", None)
    return {"weights_range": ",".join(f"{float(v):g}" for v in vr.numpy()) if vr is not None else "-1,1",
            "fingerprint": fingerprint(model)}


def export(model, out, name=None, scale=None, force=False):
    """Save ``model.forward`` as a static graph with dynamic H/W under folder ``out``; returns ``out``.

    Files appear all at once (written in a temporary sibling folder, then moved), so a failed
    export never leaves a half-written model next to an older good one. A model already in ``out``
    is replaced only with ``force`` (``--force``).
    """
    out = os.fspath(out)
    check_writable(out, "export folder", folder=True)
    if not force:
        refuse_existing(_model_files_in(out), "--force (force=True)", "another --out folder")
    name = name or getattr(model, "sr_name", type(model).__name__)
    scale = scale if scale is not None else getattr(model, "sr_scale", None)
    model.eval()
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    own_forward = vars(model).get("forward")  # normally None: forward is the class method
    tmp = tempfile.mkdtemp(prefix=os.path.basename(out) + ".", suffix=".tmp", dir=parent)
    try:
        static = paddle.jit.to_static(model, input_spec=[InputSpec([None, 3, None, None], "float32", "lr")],
                                      full_graph=True)
        paddle.jit.save(static, os.path.join(tmp, PREFIX))
        with open(os.path.join(tmp, META_FILE), "w") as f:
            json.dump({"model": name, "scale": scale, "paddle": paddle.__version__,
                       "input": "NCHW float32 in [-1, 1], any H/W", "output": "NCHW float32 in [-1, 1]",
                       **weights_meta(model)}, f, indent=1)
        os.makedirs(out, exist_ok=True)
        for ext in (".json", ".pdmodel"):  # a stale graph of the other format would shadow the new one
            stale = os.path.join(out, PREFIX + ext)
            if os.path.exists(stale):
                os.remove(stale)
        for fname in os.listdir(tmp):
            os.replace(os.path.join(tmp, fname), os.path.join(out, fname))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        # to_static swaps in a static forward on the instance; give the caller back an eager layer.
        if own_forward is None:
            vars(model).pop("forward", None)
        else:
            model.forward = own_forward
    model_files(out)  # fails loudly if Paddle wrote something unexpected
    return out


def _model_files_in(out):
    """The files of an exported model that ``export`` would replace in folder ``out``."""
    return [os.path.join(out, f) for f in (PREFIX + ".json", PREFIX + ".pdmodel", PREFIX + ".pdiparams", META_FILE)]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m paddle_sr.export", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help=f"one of: {', '.join(models.names())} "
                                                 f"(default: the run's, for weights inside a training run folder)")
    p.add_argument("--scale", type=float, default=None,
                   help="upscaling factor (default: the run's for weights inside a run folder, else 4)")
    p.add_argument("--cache", choices=("list", "clear"), default=None,
                   help="list or clear the export cache that engine auto/inference keep across processes "
                        "($PADDLE_SR_EXPORT_CACHE, default $PADDLE_SR_HOME/exports; size limit "
                        "$PADDLE_SR_EXPORT_CACHE_MB, default 2048) instead of exporting")
    p.add_argument("--weights", default=None, help=".pdparams to export (needed unless --cache; inside a run folder its config.json "
                                                    "rebuilds the model), or 'official' / 'official:ID' for the authors' released weights (python -m paddle_sr.pretrained lists them)")
    p.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                   help="model constructor argument (repeatable), e.g. --arg num_features=16")
    p.add_argument("--out", default=None, help="output folder (model.json/.pdiparams/sr_meta.json); with --format "
                                                "onnx the .onnx file; needed unless --cache")
    p.add_argument("--force", action="store_true", help="replace a model already exported in --out")
    p.add_argument("--format", choices=("paddle", "onnx"), default="paddle",
                   help="paddle: Paddle Inference folder (default); onnx: one ONNX file (needs paddle2onnx; "
                        "every model but LIIF, SAN and IGNN)")
    p.add_argument("--device", default=None, help="paddle device: cpu, gpu or gpu:N (default: a GPU if any)")
    args = p.parse_args(argv)
    if args.cache:
        from . import export_cache

        if args.cache == "clear":
            if export_cache.folder() is None:
                raise SRError(f"the export cache is off ({export_cache.DIR_ENV}=off); nothing to clear")
            n, size = export_cache.clear()
            from .download import human

            print(f"export cache {export_cache.folder()}: removed {n} entries ({human(size)})")
        else:
            print("\n".join(export_cache.describe()))
        return
    if not args.weights or not args.out:
        raise SRError("pass --weights FILE and --out FOLDER to export a model (or --cache list|clear for the export cache)")
    cfg = run_config(args.weights) or {}
    name = args.model or cfg.get("model")
    if not name:
        raise SRError(f"pass --model NAME: {args.weights} is not inside a training run folder (no config.json "
                      f"beside it) that would name its model")
    scale = args.scale if args.scale is not None else cfg.get("scale", 4) if cfg.get("model") == name else 4
    scale = int(scale) if float(scale).is_integer() else float(scale)
    models.check_scale(name, scale)  # unknown model or scale: named before anything is loaded
    kwargs = dict(parse_arg(t) for t in args.arg)
    if args.format == "onnx":
        from .onnx_export import check_onnx_out

        check_onnx_out(args.out, force=args.force)
    else:
        check_writable(args.out, "--out folder", folder=True)
        if not args.force:  # before the model is built
            refuse_existing(_model_files_in(args.out), "--force", "another --out folder")
    use_device(args.device, threads=True)  # None: a GPU if any, else the CPU
    model = model_for_weights(name, scale, args.weights, model_kwargs=kwargs)
    if args.format == "onnx":
        from .onnx_export import export_onnx

        print(f"exported {name} x{scale} -> {export_onnx(model, args.out, name=name, scale=scale)}")
        return
    export(model, args.out, name=name, scale=scale, force=args.force)
    graph, params = model_files(args.out)
    print(f"exported {name} x{scale} -> {graph}, {params}")


if __name__ == "__main__":
    cli_main(main)
