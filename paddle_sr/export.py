"""Export a model for deployment: ``paddle.jit.save`` with a dynamic height/width input.

    python -m paddle_sr.export --model rlfn_ntire --scale 4 --weights rlfn_ntire_x4.pdparams --out export/rlfn_ntire_x4
    python -m paddle_sr.export --weights output/demo_x2/Best.pdparams --out export/demo_x2   # a run's own model
    python -m paddle_sr.export --cache list      # the persistent export cache (paddle_sr.runtime.export_cache)
    python -m paddle_sr.export --cache clear

writes ``OUT/model.json`` (``model.pdmodel`` before Paddle 3), ``OUT/model.pdiparams`` and
``OUT/sr_meta.json`` (model, scale, I/O range, the weights' own range and fingerprint). The graph takes one NCHW float32 image batch in the suite's [-1, 1] of any
height/width (``InputSpec([None, 3, None, None])``) and returns SR in [-1, 1]; the weights' own
value range (``value_range`` buffer) is baked in, so the exported model needs no knowledge of it.
Run it with ``paddle.jit.load(OUT + '/model')`` or ``paddle_sr.runtime.predictor.InferenceEngine(OUT)``.

Arbitrary-scale models (LIIF) are exported as fixed-scale renderers: ``forward(lr)`` at the model's
``scale`` (``--scale``, may be non-integer; output ``round(H * scale)`` computed in the graph), all
output pixels queried in one batch, so large images want tiled inference (``--tile``).

``--format onnx`` writes one ONNX file instead (``--out NAME.onnx``; paddle2onnx, dynamic N/H/W,
the same metadata in its ``metadata_props``): ``paddle_sr/runtime/onnx_export.py``. Run it with
``--engine onnxruntime`` or with onnxruntime alone (``examples/onnx_upscale.py``).
"""

import argparse

from paddle_sr import models
from paddle_sr.core.errors import SRError, cli_main
from paddle_sr.core.files import check_writable, refuse_existing
from paddle_sr.models.convert import parse_arg
from paddle_sr.models.resolve import model_for_weights
from paddle_sr.runtime.device import use_device
from paddle_sr.runtime.export_format import export, model_files, model_files_in
from paddle_sr.weights.run_folder import CONFIG, run_config


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
        from paddle_sr.runtime import export_cache

        if args.cache == "clear":
            if export_cache.folder() is None:
                raise SRError(f"the export cache is off ({export_cache.DIR_ENV}=off); nothing to clear")
            n, size = export_cache.clear()
            from paddle_sr.core.download import human

            print(f"export cache {export_cache.folder()}: removed {n} entries ({human(size)})")
        else:
            print("\n".join(export_cache.describe()))
        return
    if not args.weights or not args.out:
        raise SRError("pass --weights FILE and --out FOLDER to export a model (or --cache list|clear for the export cache)")
    cfg = run_config(args.weights) or {}
    name = args.model or cfg.get("model")
    if not name:
        raise SRError(f"pass --model NAME: {args.weights} is not inside a training run folder (no {CONFIG} "
                      f"beside it) that would name its model")
    scale = args.scale if args.scale is not None else cfg.get("scale", 4) if cfg.get("model") == name else 4
    scale = int(scale) if float(scale).is_integer() else float(scale)
    models.check_scale(name, scale)  # unknown model or scale: named before anything is loaded
    kwargs = dict(parse_arg(t) for t in args.arg)
    if args.format == "onnx":
        from paddle_sr.runtime.onnx_export import check_onnx_out

        check_onnx_out(args.out, force=args.force)
    else:
        check_writable(args.out, "--out folder", folder=True)
        if not args.force:  # before the model is built
            refuse_existing(model_files_in(args.out), "--force", "another --out folder")
    use_device(args.device, threads=True)  # None: a GPU if any, else the CPU
    model = model_for_weights(name, scale, args.weights, model_kwargs=kwargs)
    if args.format == "onnx":
        from paddle_sr.runtime.onnx_export import export_onnx

        print(f"exported {name} x{scale} -> {export_onnx(model, args.out, name=name, scale=scale)}")
        return
    export(model, args.out, name=name, scale=scale, force=args.force)
    graph, params = model_files(args.out)
    print(f"exported {name} x{scale} -> {graph}, {params}")

if __name__ == "__main__":
    cli_main(main)

