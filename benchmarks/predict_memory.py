"""Peak memory of a whole ``predict`` call on large inputs (the memory plan of ``paddle_sr/memory.py``).

    .venv/bin/python -m benchmarks.predict_memory [--model rlfn_ntire] [--scale 4] [--mp 12 24] [--engine auto]

For each ``--mp`` size (4:3 photos: 12 MP = 4000x3000, 24 MP = 5657x4243) it writes an input PNG (scikit-image's
astronaut, bicubic-resized to the size), runs ``python -m paddle_sr.predict`` on it in a fresh process
(random weights: time and memory do not depend on them) and prints the plan's estimate, the child's
peak resident memory (``ru_maxrss``: everything, Python and Paddle included), the run time and the
output's size. ``--max-memory MB`` is passed through; ``--plan-only`` prints the estimates only.
"""
import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def photo(h, w):
    from PIL import Image
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((w, h), Image.BICUBIC))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="rlfn_ntire")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--mp", type=float, nargs="+", default=[12, 24], help="input megapixels (4:3)")
    ap.add_argument("--engine", default="auto")
    ap.add_argument("--max-memory", type=int, default=None)
    ap.add_argument("--plan-only", action="store_true")
    args = ap.parse_args(argv)

    import paddle
    from PIL import Image

    from paddle_sr.runtime import memory
    from paddle_sr import models
    from paddle_sr.runtime.tiling import output_size

    paddle.seed(0)
    model = models.create(args.model, scale=args.scale)
    model.eval()
    work = tempfile.mkdtemp(prefix="predict_memory_")
    weights = os.path.join(work, "w.pdparams")
    paddle.save(model.state_dict(), weights)
    print(f"{args.model} x{args.scale}, engine {args.engine}, available {memory.available_mb():,.0f} MB, "
          f"{os.cpu_count()} CPUs")
    print("| input | output | estimate (MB) | tile | peak RSS (MB) | time (s) |")
    print("|---|---|---|---|---|---|")
    for mp in args.mp:
        h = int(round(math.sqrt(mp * 1e6 * 3 / 4)))
        w = int(round(h * 4 / 3))
        out_hw = output_size((h, w), args.scale)
        parts = memory.estimate(model, (h, w), out_hw, max_memory_mb=args.max_memory)
        est = memory.total(parts) / memory.MB
        detail = ", ".join(f"{k} {v / memory.MB:,.0f}" for k, v in parts.items() if k not in memory.PLAN_KEYS)
        if args.plan_only:
            print(f"| {w}x{h} | {out_hw[1]}x{out_hw[0]} | {est:,.0f} ({detail}) | {parts['tile']} | - | - |")
            continue
        src = os.path.join(work, f"in_{mp:g}mp.png")
        Image.fromarray(photo(h, w)).save(src, compress_level=1)
        out = os.path.join(work, f"out_{mp:g}")
        cmd = [sys.executable, "-c", "import resource, sys; from paddle_sr.predict import main; main(sys.argv[1:]); "
               "print('maxrss_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)",
               "--model", args.model, "--weights", weights, "--scale", str(args.scale), src, "--out", out,
               "--engine", args.engine, "--quiet"]
        if args.max_memory:
            cmd += ["--max-memory", str(args.max_memory)]
        t0 = time.time()
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        took = time.time() - t0
        if r.returncode != 0:
            print(f"| {w}x{h} | {out_hw[1]}x{out_hw[0]} | {est:,.0f} | {parts['tile']} | exit {r.returncode}: "
                  f"{r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''} | {took:.0f} |")
            continue
        rss = int(r.stdout.split("maxrss_kib")[1].split()[0]) / 1024
        png = os.path.join(out, os.listdir(out)[0])
        print(f"| {w}x{h} ({mp:g} MP) | {out_hw[1]}x{out_hw[0]} ({out_hw[0] * out_hw[1] / 1e6:.0f} MP, PNG "
              f"{os.path.getsize(png) / 2 ** 20:,.0f} MB) | {est:,.0f} ({detail}) | {parts['tile']} | {rss:,.0f} | "
              f"{took:.0f} |", flush=True)
        os.remove(png)


if __name__ == "__main__":
    main()
