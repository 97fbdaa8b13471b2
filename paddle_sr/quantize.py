"""INT8 post-training static quantization of an ONNX export (ONNX Runtime's quantization tools).

    python -m paddle_sr.quantize rlfn_ntire_x4.onnx --out rlfn_ntire_x4_int8.onnx          # skimage photo crops
    python -m paddle_sr.quantize rlfn_ntire_x4.onnx --out q.onnx --calibration my_photos/    # your own images

How it calibrates and what it quantizes: ``paddle_sr.runtime.quantize`` (shown under ``--help``).
"""

import argparse
import os

from paddle_sr.core.errors import SRError, cli_main
from paddle_sr.runtime import quantize as quantize_lib
from paddle_sr.runtime.quantize import calibration_crops, quantize_onnx


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m paddle_sr.quantize", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=quantize_lib.__doc__.split("\n\n", 2)[2])
    p.add_argument("onnx", help="float32 ONNX file from python -m paddle_sr.export --format onnx")
    p.add_argument("--out", required=True, help="INT8 .onnx file to write")
    p.add_argument("--calibration", default=None, metavar="DIR", help="folder of photos (default: scikit-image's)")
    p.add_argument("--crops", type=int, default=8, help="calibration crops (default 8)")
    p.add_argument("--crop-size", type=int, default=64, help="LR side of a calibration crop (default 64)")
    p.add_argument("--all-convs", action="store_true", help="quantize the first and last convolution too")
    args = p.parse_args(argv)
    from paddle_sr.core.files import check_writable
    from paddle_sr.runtime.onnx_export import read_onnx_meta

    if not args.out.endswith(".onnx"):
        raise SRError(f"--out must be a path ending in .onnx, got {args.out}")
    if not os.path.isfile(args.onnx):
        raise SRError(f"{args.onnx} does not exist; export one with python -m paddle_sr.export --format onnx")
    if args.calibration is not None and not os.path.isdir(args.calibration):
        raise SRError(f"--calibration {args.calibration} is not a folder; give a folder of photos")
    if args.crops < 1 or args.crop_size < 8:
        raise SRError(f"--crops must be >= 1 and --crop-size >= 8, got {args.crops} and {args.crop_size}")
    check_writable(args.out, "--out file")
    meta = read_onnx_meta(args.onnx)
    if "scale" not in meta:
        raise SRError(f"{args.onnx} has no sr_scale metadata; export it with python -m paddle_sr.export --format onnx")
    if meta.get("quantized"):
        raise SRError(f"{args.onnx} is already quantized ({meta['quantized']}); pass the float32 export")
    scale = float(meta["scale"])
    crops, where = calibration_crops(scale, n=args.crops, size=args.crop_size, folder=args.calibration)
    quantize_onnx(args.onnx, args.out, crops, description=where, all_convs=args.all_convs)
    print(f"wrote {args.out} (INT8, {os.path.getsize(args.out) / 1e6:.2f} MB; float32 "
          f"{os.path.getsize(args.onnx) / 1e6:.2f} MB; calibrated on {where})")

if __name__ == "__main__":
    cli_main(main)

