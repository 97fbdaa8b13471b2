"""Wall time and peak memory of ``super_resolve`` with default options on ordinary photos (CPU).

    .venv/bin/python -m benchmarks.inference_memory [--cases srresnet:4:200x200 edsr_baseline:4:1000x700]
    .venv/bin/python -m benchmarks.inference_memory --engine eager      # the eager layers throughout

Each case runs in its own child process (a crash there, e.g. Paddle's im2col overflow, is reported,
not fatal): random weights (time and memory do not depend on them), scikit-image's astronaut photo
tiled to the LR size, ``super_resolve(model, lr, scale)`` with every option at its default, so the
automatic tile plan (``paddle_sr.inference.plan_tile``) decides, and the default engine 'auto'
(``paddle_sr.engine_choice``; ``--engine`` to force one). Printed per case: the plan, the engine that
ran, wall time of the call (an export included), and the child's peak resident memory (``getrusage`` ``ru_maxrss``: Python, Paddle,
model and host arrays included). Acceptance (issue 11): both default cases finish under 6 GiB.
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CASES = ["srresnet:4:200x200", "edsr_baseline:4:1000x700"]


def child(name, scale, h, w, engine):
    import numpy as np
    import paddle
    from skimage import data

    from paddle_sr.runtime import engines as engine_choice
    from paddle_sr import models
    from paddle_sr.runtime.tiling import memory_budget_mb, plan_tile, super_resolve

    img = data.astronaut()
    lr = np.ascontiguousarray(np.tile(img, (h // img.shape[0] + 1, w // img.shape[1] + 1, 1))[:h, :w])
    paddle.seed(0)
    model = models.create(name, scale=scale)
    model.eval()
    t = time.perf_counter()
    sr = super_resolve(model, lr, scale, engine=None if engine == "default" else engine)
    dt = time.perf_counter() - t
    plan = plan_tile(model, (h, w), (h * scale, w * scale))
    print(f"{name} x{scale} {h}x{w} -> {sr.shape[0]}x{sr.shape[1]}: tile {plan or 'whole image'} "
          f"(budget {memory_budget_mb():.0f} MB), engine {engine}: {engine_choice.chosen(model)}, {dt:.1f} s",
          flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", nargs="+", default=DEFAULT_CASES, metavar="MODEL:SCALE:HxW")
    p.add_argument("--engine", choices=("default", "auto", "eager", "inference"), default="default",
                   help="engine of super_resolve (default: its default, $PADDLE_SR_ENGINE or 'auto')")
    p.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        name, scale, h, w, engine = args.child
        return child(name, int(scale), int(h), int(w), engine)
    worst = 0
    for case in args.cases:
        name, scale, size = case.split(":")
        h, w = size.split("x")
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", name, scale, h, w, args.engine])
        _, status, usage = os.wait4(proc.pid, 0)
        rc = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss / 2 ** 20  # KiB -> GiB
        worst = max(worst, peak if rc == 0 else float("inf"))
        print(f"  {case}: exit {rc}, wall {time.perf_counter() - t:.1f} s (process), peak RSS {peak:.2f} GiB",
              flush=True)
    print("PASS" if worst < 6 else "FAIL", "(every case finished with peak RSS under 6 GiB)")
    return 0 if worst < 6 else 1


if __name__ == "__main__":
    sys.exit(main())
