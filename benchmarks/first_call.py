"""The first call of a new process: ``super_resolve(model, photo, scale)`` with every default vs PyTorch's first call.

    .venv/bin/python -m benchmarks.first_call                                   # RLFN_ntire, EDSR-baseline, RCAN x4, 128x128
    .venv/bin/python -m benchmarks.first_call --models rlfn_ntire --size 64 --repeats 3

What a user who upscales one photo per process (``predict``, a notebook restart, an app start) waits for.
Every measurement is its own fresh process (``--child``), started one after the other by this script:
1. Paddle processes on an empty export cache (its own temporary ``PADDLE_SR_EXPORT_CACHE``) until one
   exports: engine 'auto' exports when the predicted eager seconds, summed over the processes that ran
   these weights, reach the export cost (RLFN_ntire at 128x128: the second process; RCAN: the first);
2. then ``--repeats`` rounds of [PyTorch process, Paddle process]: the Paddle process finds the export
   in the cache (``paddle_sr.export_cache``) and only creates the predictor.
Each process builds its model (the official PyTorch network from ``tests/reference``, seeded, its
weights copied into the port, as ``runtime_vs_torch``) before the clock starts; the clock covers the
first call only: for Paddle ``super_resolve`` (engine 'auto': fingerprint, cache lookup and checksum,
predictor creation, the run), for PyTorch ``model(x)`` under ``no_grad``. Printed: each process's
seconds and the median ratio of the cached Paddle first call to PyTorch's.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(framework, name, size, threads):
    import numpy as np
    import torch

    from benchmarks.runtime_vs_torch import CASES, copy_weights, lr_image

    case = CASES[name]
    torch.manual_seed(0)
    tmodel = case.torch_factory()
    x01 = lr_image(size)
    torch.set_num_threads(threads)
    if framework == "torch":
        tin = torch.from_numpy((x01 * case.native).astype(np.float32))
        start = time.perf_counter()
        with torch.no_grad():
            tmodel(tin)
        return {"seconds": time.perf_counter() - start}
    import paddle

    from paddle_sr.runtime import engines as engine_choice
    from paddle_sr import export as X, models
    from paddle_sr.runtime.device import use_threads
    from paddle_sr.runtime.tiling import super_resolve

    exports, real = [], X.export

    def counted(model, out):
        exports.append(out)
        return real(model, out)
    X.export = counted
    paddle.set_device("cpu")
    use_threads(threads)
    model = copy_weights(tmodel, models.create(name, scale=case.scale, **case.paddle_kwargs))
    model.eval()
    photo = np.ascontiguousarray(x01[0].transpose(1, 2, 0) * 255.0)
    start = time.perf_counter()
    super_resolve(model, photo, case.scale)
    return {"seconds": time.perf_counter() - start, "exports": len(exports), "engine": engine_choice.chosen(model)}


def spawn(framework, name, size, threads, cache):
    env = dict(os.environ, PADDLE_SR_EXPORT_CACHE=cache, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", "benchmarks.first_call", "--child", framework, "--models", name,
                           "--size", str(size), "--threads", str(threads)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{framework} {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["rlfn_ntire", "edsr_baseline", "rcan"])
    p.add_argument("--size", type=int, default=128, help="LR side")
    p.add_argument("--repeats", type=int, default=3, help="rounds of [PyTorch process, cached Paddle process]")
    p.add_argument("--threads", type=int, default=None, help="CPU threads of both (default: usable CPUs)")
    p.add_argument("--child", choices=("torch", "paddle"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    threads = args.threads or len(os.sched_getaffinity(0))
    if args.child:
        print(json.dumps(child(args.child, args.models[0], args.size, threads)))
        return
    import paddle
    import torch

    print(f"paddle {paddle.__version__}, torch {torch.__version__}, {threads} threads, {args.size}x{args.size} LR, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| model | PyTorch first call s | Paddle first call of the processes until one exported s (engine) | Paddle first call, cached s "
          "(engine) | cached x PyTorch | exports in cached runs |")
    print("|---|---|---|---|---|---|")
    for name in args.models:
        with tempfile.TemporaryDirectory(prefix="first_call_cache_") as cache:
            cold = [spawn("paddle", name, args.size, threads, cache)]
            while not cold[-1]["exports"] and len(cold) < 4:
                cold.append(spawn("paddle", name, args.size, threads, cache))
            torch_s, cached_s, exports, engines = [], [], 0, set()
            for _ in range(args.repeats):
                torch_s.append(spawn("torch", name, args.size, threads, cache)["seconds"])
                hot = spawn("paddle", name, args.size, threads, cache)
                cached_s.append(hot["seconds"])
                exports += hot["exports"]
                engines.add(hot["engine"])
        ratios = [c / t for c, t in zip(cached_s, torch_s)]
        warm_up = " / ".join(f"{c['seconds']:.2f} ({c['engine']}{', export' if c['exports'] else ''})" for c in cold)
        print(f"| {name} | {statistics.median(torch_s):.2f} | {warm_up} | "
              f"{statistics.median(cached_s):.2f} ({'/'.join(sorted(engines))}) | **{statistics.median(ratios):.2f}** | {exports} |", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
