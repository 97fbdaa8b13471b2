"""What a user's default call costs: ``super_resolve(model, photo, scale)`` vs the official PyTorch model.

    .venv/bin/python -m benchmarks.default_path                        # RLFN_ntire x4, EDSR-baseline x4, 128x128
    .venv/bin/python -m benchmarks.default_path --models rlfn_ntire --size 256 --calls 8

``super_resolve`` is what predict, evaluate, show_image, training validation, the notebooks and the
app run. Its default engine is 'auto' (``paddle_sr.engine_choice``): eager until the predicted eager
time on the same weights reaches the predicted export cost, then the model exported once and run by
Paddle Inference with oneDNN. One process, one fresh model per case, ``--calls`` calls on the same
photo crop (scikit-image's astronaut, as ``runtime_vs_torch``), each interleaved with one call of the
official PyTorch network (``tests/reference``, same weights) and one of ``super_resolve(...,
engine='eager')``. Printed per call: seconds of the three, the engine 'auto' used, and the ratio to
PyTorch; then the totals (the export included) and the median of the calls after the switch.
"""
import argparse
import os
import statistics
import time

import numpy as np
import paddle
import torch

from benchmarks.runtime_vs_torch import CASES, copy_weights, lr_image
from paddle_sr.runtime import engines as engine_choice
from paddle_sr import models
from paddle_sr.runtime.device import thread_count, use_threads
from paddle_sr.runtime.tiling import super_resolve


def run(name, size, calls, threads):
    case = CASES[name]
    torch.manual_seed(0)
    tmodel = case.torch_factory()
    model = copy_weights(tmodel, models.create(name, scale=case.scale, **case.paddle_kwargs))
    x01 = lr_image(size)
    photo = np.ascontiguousarray(x01[0].transpose(1, 2, 0) * 255.0)  # HxWx3 float on [0, 255], never rounded
    vr = getattr(model, "value_range", None)  # the port's native range is the official code's
    lo, hi = (float(v) for v in vr.numpy()) if vr is not None else (0.0, case.native)
    tin = torch.from_numpy((lo + x01 * (hi - lo)).astype(np.float32))
    print(f"\n{name} x{case.scale}, {size}x{size} LR, {threads} threads; predicted eager "
          f"{engine_choice.eager_seconds(model, size * size):.2f} s per call, export "
          f"{engine_choice.export_seconds(model):.1f} s")
    print("| call | PyTorch s | eager s | default s | default engine | default x |")
    print("|---|---|---|---|---|---|")
    rows = []
    for i in range(calls):
        torch.set_num_threads(threads)
        start = time.perf_counter()
        with torch.no_grad():
            ref = (tmodel(tin).numpy() - lo) / (hi - lo)
        t_torch = time.perf_counter() - start
        start = time.perf_counter()
        eager = super_resolve(model, photo, case.scale, engine="eager")
        t_eager = time.perf_counter() - start
        start = time.perf_counter()
        default = super_resolve(model, photo, case.scale)
        t_default = time.perf_counter() - start
        used = engine_choice.chosen(model)
        rows.append((t_torch, t_eager, t_default, used))
        print(f"| {i + 1} | {t_torch:.3f} | {t_eager:.3f} | {t_default:.3f} | {used} | {t_default / t_torch:.2f} |",
              flush=True)
    diff = float(np.abs((default.transpose(2, 0, 1)[None] + 1) / 2 - ref).max() * 255)
    diff_eager = float(np.abs((eager.transpose(2, 0, 1)[None] + 1) / 2 - ref).max() * 255)
    total = [sum(r[k] for r in rows) for k in range(3)]
    after = [r for r in rows if r[3] == "inference"][1:]  # calls after the one that exported
    print(f"totals over {calls} calls: PyTorch {total[0]:.2f} s, eager {total[1]:.2f} s ({total[1] / total[0]:.2f}x), "
          f"default {total[2]:.2f} s ({total[2] / total[0]:.2f}x, export included)")
    if after:
        med = [statistics.median(r[k] for r in after) for k in range(3)]
        print(f"median after the switch ({len(after)} calls): PyTorch {med[0]:.3f} s, eager {med[1]:.3f} s "
              f"({med[1] / med[0]:.2f}x), default {med[2]:.3f} s (**{med[2] / med[0]:.2f}x**)")
    print(f"max abs difference from PyTorch on 0-255: default {diff:.1e}, eager {diff_eager:.1e}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["rlfn_ntire", "edsr_baseline"], help=f"any of: {' '.join(CASES)}")
    p.add_argument("--size", type=int, default=128, help="LR side")
    p.add_argument("--calls", type=int, default=8, help="calls per model")
    p.add_argument("--threads", type=int, default=None, help="CPU threads of every contender (default: usable CPUs)")
    args = p.parse_args(argv)
    threads = thread_count(args.threads)
    paddle.set_device("cpu")
    use_threads(threads)
    print(f"paddle {paddle.__version__}, torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}")
    for name in args.models:
        run(name, args.size, args.calls, threads)


if __name__ == "__main__":
    main()
