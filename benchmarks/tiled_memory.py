"""Peak memory of tiled inference through the Paddle Inference engine (RDN x4 on a DIV2K-size image).

    .venv/bin/python -m benchmarks.tiled_memory [--model rdn] [--scale 4] [--size 678 1020] [--tile 256]

1. Checks tiled == whole-image inference with the engine on a small LR image (``--check-size``),
   where both fit, and prints the max difference and PSNR between them. With a receptive field
   wider than ``--tile-overlap / 2`` (full RDN: over 100 LR pixels) tiling is an approximation;
   ``--check-overlap`` sets the overlap for this check.
2. Super-resolves a ``--size`` LR image (default 678x1020, i.e. a 2712x4080 output like DIV2K's
   HR) tile by tile and prints the run time and the process's peak resident memory (``VmHWM``:
   everything, Python and Paddle included).

Weights: ``--weights`` (a .pdparams), else random weights (timing and memory do not depend on
them); the random model's last layer is scaled so its output is near the image range.
"""
import argparse
import tempfile
import time

import numpy as np


import paddle  # noqa: E402

from paddle_sr import models  # noqa: E402
from paddle_sr.weights.state import load_weights  # noqa: E402
from paddle_sr.runtime.predictor import InferenceEngine  # noqa: E402
from paddle_sr.export import export  # noqa: E402
from paddle_sr.runtime.tiling import super_resolve  # noqa: E402


def vm_kib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def photo(h, w):
    """A real photo (scikit-image's astronaut) tiled to h x w, uint8 HxWx3."""
    from skimage import data
    img = data.astronaut()
    return np.ascontiguousarray(np.tile(img, (h // img.shape[0] + 1, w // img.shape[1] + 1, 1))[:h, :w])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="rdn")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--weights", default=None)
    p.add_argument("--size", nargs=2, type=int, default=[678, 1020], metavar=("H", "W"))
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--tile-overlap", type=int, default=16)
    p.add_argument("--check-size", nargs=2, type=int, default=[96, 128], metavar=("H", "W"))
    p.add_argument("--check-overlap", type=int, default=32)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-mkldnn", action="store_true")
    p.add_argument("--skip-check", action="store_true")
    args = p.parse_args()
    paddle.seed(0)
    model = models.create(args.model, scale=args.scale)
    if args.weights:
        load_weights(model, args.weights)
    else:
        last = [l for l in model.sublayers() if isinstance(l, paddle.nn.Conv2D)][-1]
        with paddle.no_grad():
            probe = model(paddle.to_tensor(photo(24, 24).transpose(2, 0, 1)[None].astype("float32") / 127.5 - 1))
        last.weight.set_value(last.weight / float(probe.abs().max()))
        last.bias.set_value(last.bias / float(probe.abs().max()))
    with tempfile.TemporaryDirectory() as tmp:
        export(model, tmp, name=args.model, scale=args.scale)
        del model
        engine = InferenceEngine(tmp, device="cpu", threads=args.threads, mkldnn=not args.no_mkldnn)
        print(f"{engine}; paddle {paddle.__version__}; after load: RSS {vm_kib('VmRSS') / 2**20:.2f} GiB")
        if not args.skip_check:
            small = photo(*args.check_size)
            t = time.perf_counter()
            whole = super_resolve(engine, small, args.scale)
            tiled = super_resolve(engine, small, args.scale, tile=args.check_size[0] // 2,
                                  tile_overlap=args.check_overlap)
            diff = np.abs(whole - tiled) * 127.5
            mse = np.mean(((np.clip(whole, -1, 1) - np.clip(tiled, -1, 1)) * 127.5) ** 2)
            print(f"check {small.shape[0]}x{small.shape[1]} LR, tile {args.check_size[0] // 2}, overlap "
                  f"{args.check_overlap}: whole vs tiled max abs diff {diff.max():.3g} (0-255), mean {diff.mean():.3g}, "
                  f"PSNR {10 * np.log10(255 ** 2 / max(mse, 1e-20)):.1f} dB ({time.perf_counter() - t:.1f} s)")
            print(f"after check: peak RSS {vm_kib('VmHWM') / 2**20:.2f} GiB")
        lr = photo(*args.size)
        t = time.perf_counter()
        sr = super_resolve(engine, lr, args.scale, tile=args.tile, tile_overlap=args.tile_overlap)
        seconds = time.perf_counter() - t
        assert sr.shape == (args.size[0] * args.scale, args.size[1] * args.scale, 3) and np.isfinite(sr).all()
        print(f"{args.model} x{args.scale} {args.size[0]}x{args.size[1]} LR -> {sr.shape[0]}x{sr.shape[1]}, "
              f"tile {args.tile} overlap {args.tile_overlap}: {seconds:.1f} s, "
              f"peak RSS of the process {vm_kib('VmHWM') / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
