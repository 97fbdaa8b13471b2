"""INT8 post-training static quantization of an ONNX export (ONNX Runtime's quantization tools).

    python -m paddle_sr.quantize rlfn_ntire_x4.onnx --out rlfn_ntire_x4_int8.onnx          # skimage photo crops
    python -m paddle_sr.quantize rlfn_ntire_x4.onnx --out q.onnx --calibration my_photos/    # your own images

Calibration: ``--crops`` LR crops (``--crop-size`` pixels) cut at fixed random positions from
MATLAB-bicubic-downscaled photographs: by default the natural photos scikit-image ships (astronaut,
chelsea, coffee, rocket, motorcycle; never a benchmark image), or the images of ``--calibration``.
QDQ format; only convolutions are quantized (per-channel signed INT8 weights, unsigned INT8
activations: the x86 U8S8 kernels), additions, attention gates, resizes and the pixel shuffle stay
float32; by default the first and the last convolution stay float32 too (``--all-convs`` quantizes
them): the last one writes the image itself. Activation ranges: the 99.99th percentile over the crops
(``PERCENTILE``). Chosen on official RLFN_ntire x4, Set5 PSNR 32.097 dB float32 (the numbers below are
INT8): every op MinMax 30.43, convolutions only MinMax 30.72, + first/last float 30.86, percentile
99.999 31.06, 99.99 31.28, 99.9 30.13, 99.5 23.28 (``weights`` in the constant nodes paddle2onnx
writes were not quantized at all until ``onnx_export`` made them initializers).
The INT8 file keeps the float file's ``sr_*`` metadata and adds ``sr_quantized=int8`` and
``sr_calibration``; ``OnnxEngine`` and ``examples/onnx_upscale.py`` run it like the float file. INT8 is
opt-in: the PSNR cost per model is in the README (``benchmarks/onnx_int8.py``, x4, Set5/Set14/B100):
0.05-0.07 dB for CARN-M, 0.11-0.31 dB for RLFN and IMDN, 0.33-0.82 dB for RLFN_ntire, never under
0.05 dB on every set, so nothing in the suite picks it on its own.
"""

import argparse

import os



from paddle_sr.core.errors import SRError, cli_main
from paddle_sr.runtime.quantize import calibration_crops, quantize_onnx

def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m paddle_sr.quantize", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 2)[2])
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

