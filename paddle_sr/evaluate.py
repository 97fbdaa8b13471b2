"""Benchmark evaluation: ``python -m paddle_sr.evaluate --model NAME --scale S --weights FILE --data DIR ...``.

Protocol (DESIGN.md §4, printed in the header line and stored under ``"protocol"`` in the JSON):
HR top-left cropped to a multiple of the scale; LR = MATLAB ``imresize(hr, 1/s, 'bicubic')``
(``paddle_sr.image.imresize``); SR clipped and rounded to uint8 (``--float`` keeps it unrounded, LIIF's
convention); PSNR / SSIM (``paddle_sr.image.metrics``) on Y, ignoring ``s`` pixels at each border.
A grayscale file (Set14 ``bridge.png``) is fed to the model replicated to RGB and scored by the
``--gray`` convention: ``matlab`` (its gray values; bicubic/EDSR/RDN/RCAN tables) or ``basicsr``
(Y of the replicated RGB; the RLFN paper). ``--model bicubic`` is the bicubic baseline
(MATLAB ``imresize(lr, s)``), no weights needed.

``--lr-float`` is the MATLAB-era test code's protocol (LapSRN's ``test_LapSRN.m``, and the SRCNN / VDSR /
DRCN / DRRN scripts): the LR is ``imresize`` of the double image and is fed to the model unrounded,
where the default rounds it to uint8 as an LR image file would be. The protocol line says
``LR MATLAB bicubic (double, not rounded)``. ``python -m paddle_sr.reproduce`` scores these models both ways.

Example::

    python -m paddle_sr.evaluate --model bicubic --scale 4 --data data/benchmarks/Set5 \\
        data/benchmarks/Set14 data/benchmarks/B100 --out bicubic_x4.json
    python -m paddle_sr.evaluate --model lapsrn --scale 4 --weights official --lr-float --data data/benchmarks/Set5
"""

import argparse

from paddle_sr.core.errors import SRError, cli_main
from paddle_sr.image.io import DEFAULT_MAX_PIXELS, set_max_pixels
from paddle_sr.image.metrics import GRAY_CONVENTIONS
from paddle_sr.runtime.engines import ENGINE_HELP, ENGINES
from paddle_sr.runtime.scoring import evaluate, format_table


def build_model(name, scale, weights):
    """A registered model with ``weights`` loaded (``None`` for the bicubic baseline)."""
    from paddle_sr.models import check_scale
    from paddle_sr.models.resolve import is_bicubic, model_for_weights

    if is_bicubic(name, weights):
        return None

    check_scale(name, scale)
    if not weights:
        raise SRError(f"--model {name} needs --weights FILE (a .pdparams); random weights give meaningless numbers")
    return model_for_weights(name, scale, weights)

def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m paddle_sr.evaluate",
                                 description="PSNR/SSIM of a model (or bicubic) on benchmark sets, by the SR protocol.")
    ap.add_argument("--model", required=True, help="registered model name, or 'bicubic'")
    ap.add_argument("--scale", required=True, type=int)
    ap.add_argument("--weights", help=".pdparams file (converted official checkpoints carry their value range), "
                                      "or 'official' / 'official:ID' for the authors' released weights (python -m paddle_sr.pretrained lists them)")
    ap.add_argument("--data", required=True, nargs="+", metavar="DIR", help="set folders (or their HR subfolders)")
    ap.add_argument("--out", metavar="F.json", help="write the results as JSON")
    ap.add_argument("--save-images", metavar="DIR", help="save SR PNGs to DIR/<set>/<image>.png")
    ap.add_argument("--gray", choices=GRAY_CONVENTIONS, default="matlab",
                    help="scoring of grayscale files (Set14 bridge): matlab = gray values, basicsr = Y of RGB")
    ap.add_argument("--rgb", action="store_true", help="score RGB instead of Y")
    ap.add_argument("--crop", type=int, default=None, metavar="N", help="border to ignore (default: the scale)")
    ap.add_argument("--float", dest="float_output", action="store_true", help="score unrounded SR (LIIF)")
    ap.add_argument("--self-ensemble", action="store_true", help="x8 flips/rotations (the papers' '+' rows)")
    ap.add_argument("--lr-float", action="store_true",
                    help="MATLAB-era test protocol: LR = imresize of the double image, fed unrounded (LapSRN's "
                         "test_LapSRN.m, SRCNN/VDSR/DRRN code); default: LR rounded to uint8")
    ap.add_argument("--tile", type=int, default=None, metavar="N", help="LR tile size (bounded memory)")
    ap.add_argument("--tile-overlap", type=int, default=None, metavar="M",
                    help="LR pixels of overlap between tiles (default: the model's own)")
    ap.add_argument("--max-memory", type=int, default=None, metavar="MB",
                    help="tile automatically so one device call stays within MB megabytes")
    ap.add_argument("--device", default=None, help="paddle device: cpu, gpu or gpu:N (default: a GPU if any)")
    ap.add_argument("--engine", choices=ENGINES, default=None, help=ENGINE_HELP)
    ap.add_argument("--force", action="store_true", help="overwrite an existing --out file and --save-images PNGs")
    ap.add_argument("--max-pixels", type=int, default=None, metavar="N",
                    help=f"refuse images above N pixels before decoding (default {DEFAULT_MAX_PIXELS:,}, Pillow's "
                         f"decompression-bomb limit)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    from paddle_sr.core.files import check_writable, refuse_existing

    set_max_pixels(args.max_pixels)

    # Outputs first: a table computed for minutes must not die on an unwritable --out afterwards.
    if args.out:
        check_writable(args.out, "--out file")
        if not args.force:
            refuse_existing([args.out], "--force", "another --out")
    if args.save_images:
        check_writable(args.save_images, "--save-images folder", folder=True)
    from paddle_sr.runtime.device import use_device

    use_device(args.device, threads=True)  # None: a GPU if any, else the CPU; all cores for CPU math
    model = build_model(args.model, args.scale, args.weights)
    results = evaluate(model, args.scale, args.data, gray=args.gray, y_channel=not args.rgb, crop_border=args.crop,
                       self_ensemble=args.self_ensemble, tile=args.tile, tile_overlap=args.tile_overlap,
                       save_dir=args.save_images, float_output=args.float_output, progress=not args.quiet,
                       engine=args.engine, max_memory_mb=args.max_memory, force=args.force, lr_float=args.lr_float)
    results["protocol"]["model"] = args.model
    results["protocol"]["weights"] = args.weights
    print(format_table(results))
    if args.out:
        from paddle_sr.core.files import atomic_write_json

        atomic_write_json(results, args.out)
    return results

if __name__ == "__main__":
    cli_main(main)

