"""Efficiency of registered models, measured the NTIRE efficient-SR way.

    python -m paddle_sr.bench --models rlfn_ntire rlfn --scales 4 --sizes 128 256 --csv bench.csv

Columns (one row per model, scale, mode and LR input size):
- ``params_M``: all parameter elements (the official ``sum(p.numel())``), millions.
- ``flops_G`` / ``activations_M`` / ``convs``: on one 256x256 LR input (``--complexity-size``), with
  the NTIRE 2022 ``utils/model_summary.py`` rules: FLOPs are multiply-adds of Conv2D /
  Conv2DTranspose (kernel x in x out/groups per output pixel, bias not counted) and Linear layers,
  plus one per output element of ReLU/PReLU/ELU/LeakyReLU/ReLU6 layers and two per element of
  BatchNorm2D; functional ops (``F.sigmoid``, pooling, interpolation, pixel shuffle, additions)
  count zero. Activations are the elements output by Conv2D/Conv2DTranspose layers. Only layer
  objects are seen (forward hooks), so a model applying ``F.relu`` functionally has those ReLUs
  uncounted, exactly as the NTIRE script would.
  Difference: for a Linear layer on an input of more than two dims (LIIF's query MLP) every row is
  counted (the NTIRE hook reads ``input.shape[1]``, meaningful only for 2-D inputs).
- ``runtime_s``: median of ``--repeats`` runs after ``--warmup`` runs (GPU synchronised), batch 1.
  ``mode`` eager = the ``nn.Layer`` under ``paddle.no_grad``; inference = the exported graph in
  Paddle Inference (``paddle_sr.runtime.predictor``; oneDNN on CPU); inference_plain = the same without oneDNN.
- ``peak_mem_MiB``: memory one warm forward needs on top of the loaded model (activations and
  workspace). GPU: ``max_memory_allocated`` (weights included, as NTIRE reports it). CPU eager:
  peak of Paddle's host allocator statistics. CPU inference: growth of the process's resident-set
  high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs``) after ``malloc_trim``.
"""
import argparse
import csv
import ctypes
import gc
import os
import statistics
import sys
import tempfile
import threading
import time

import numpy as np
import paddle
import paddle.nn as nn

from paddle_sr import models
from paddle_sr.core.errors import SRError, cli_main

# Engine modes first: eager runs grow Paddle's cached allocator, which a later predictor could reuse
# unseen by the RSS measurement.
MODES = ("inference", "inference_plain", "eager")
_CONV = (nn.Conv2D, nn.Conv2DTranspose)
_ACT = (nn.ReLU, nn.PReLU, nn.ELU, nn.LeakyReLU, nn.ReLU6)


def complexity(model, size=256):
    """NTIRE-convention ``{'params', 'flops', 'activations', 'convs'}`` for one ``size``x``size`` LR input."""
    counts = {"flops": 0, "activations": 0, "convs": 0}

    def conv_hook(layer, inputs, output):
        # weight numel = out * in/groups * kh * kw: the NTIRE per-position MACs.
        counts["flops"] += int(layer.weight.numel()) * int(np.prod(output.shape[2:])) * int(output.shape[0])
        counts["activations"] += int(output.numel())
        counts["convs"] += 1

    def linear_hook(layer, inputs, output):
        in_features, out_features = layer.weight.shape
        counts["flops"] += in_features * out_features * (int(output.numel()) // out_features)

    def act_hook(layer, inputs, output):
        counts["flops"] += int(output.numel())

    def bn_hook(layer, inputs, output):
        counts["flops"] += 2 * int(output.numel())  # affine BN (Paddle's default)

    handles = []
    for layer in model.sublayers(include_self=True):
        hook = (conv_hook if isinstance(layer, _CONV) else linear_hook if isinstance(layer, nn.Linear)
                else act_hook if isinstance(layer, _ACT) else bn_hook if isinstance(layer, nn.BatchNorm2D) else None)
        if hook is not None:
            handles.append(layer.register_forward_post_hook(hook))
    model.eval()
    try:
        with paddle.no_grad():
            model(paddle.zeros([1, 3, size, size], dtype="float32"))
    finally:
        for h in handles:
            h.remove()
    return {"params": models.count_parameters(model), **counts}


def _synchronize():
    if paddle.device.get_device().startswith("gpu"):
        paddle.device.synchronize()


def timed(fn, repeats=5, warmup=2):
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls (GPU synchronised)."""
    for _ in range(warmup):
        fn()
    _synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"{field} not in /proc/self/status")


def peak_memory(fn, paddle_allocator=True):
    """(result of ``fn()``, peak extra memory in bytes while it ran); see the module docstring.

    ``paddle_allocator``: ``fn`` allocates through Paddle (eager), so Paddle's own allocator
    statistics give an exact peak; otherwise (Paddle Inference with oneDNN, whose buffers bypass
    them) the process RSS high-water mark is used, after returning freed heap to the OS.
    """
    if paddle.device.get_device().startswith("gpu"):
        cuda = paddle.device.cuda
        cuda.reset_max_memory_allocated()
        result = fn()
        _synchronize()
        return result, int(cuda.max_memory_allocated())
    if paddle_allocator:
        from paddle.base import core

        core.host_memory_stat_reset_peak_value("Allocated", 0)
        base = core.host_memory_stat_current_value("Allocated", 0)
        result = fn()
        return result, max(0, core.host_memory_stat_peak_value("Allocated", 0) - base)
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc keeps freed heap; RSS would hide a re-used peak
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # Linux >= 4.0: reset VmHWM to the current RSS
        base = _rss_kib("VmRSS")
        result = fn()
        return result, max(0, _rss_kib("VmHWM") - base) * 1024
    except OSError:
        return _sampled_peak(fn)


def _sampled_peak(fn, interval=0.002):
    """Fallback without /proc: poll RSS with psutil in a thread (may miss very short peaks)."""
    import psutil

    proc, peak, done = psutil.Process(), [0], threading.Event()
    base = proc.memory_info().rss

    def poll():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(interval)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        result = fn()
    finally:
        done.set()
        thread.join()
    return result, max(0, max(peak[0], proc.memory_info().rss) - base)


def _runner(model, mode, workdir, threads):
    if mode == "eager":
        def run(x):
            with paddle.no_grad():
                return model(paddle.to_tensor(x))
        return run
    from paddle_sr.runtime.export_format import export
    from paddle_sr.runtime.predictor import InferenceEngine

    folder = os.path.join(workdir, "export")
    if not os.path.isdir(folder):
        export(model, folder)
    return InferenceEngine(folder, threads=threads, mkldnn=(mode == "inference"))


def measure(name, scale=4, sizes=(128, 256), modes=MODES, repeats=5, warmup=2, complexity_size=256,
            threads=None, runtime=True, model_kwargs=None):
    """Rows (dicts, see module docstring) for one registered model and scale."""
    paddle.seed(0)
    model = models.create(name, scale=scale, **(model_kwargs or {}))
    model.eval()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for mode in (modes if runtime else ()):
            run = _runner(model, mode, workdir, threads)
            for size in sizes:
                x = np.random.default_rng(0).uniform(-1, 1, (1, 3, size, size)).astype("float32")
                seconds = timed(lambda: run(x), repeats, warmup)
                _, mem = peak_memory(lambda: run(x), paddle_allocator=(mode == "eager"))
                rows.append(dict(mode=mode, size=size, runtime_s=seconds, peak_mem_MiB=mem / 2 ** 20))
            del run
    c = complexity(model, complexity_size)  # after the runs: its 256x256 eager pass would skew their memory
    base = {"model": name, "scale": scale, "params_M": c["params"] / 1e6, "flops_G": c["flops"] / 1e9,
            "activations_M": c["activations"] / 1e6, "convs": c["convs"]}
    return [dict(base, **r) for r in rows] or [dict(base, mode="", size="", runtime_s="", peak_mem_MiB="")]


COLUMNS = ("model", "scale", "params_M", "flops_G", "activations_M", "convs", "mode", "size", "runtime_s",
           "peak_mem_MiB")


def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def format_table(rows):
    """Markdown table of ``rows``."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_fmt(r[c]) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def write_csv(rows, path):
    from paddle_sr.core.files import atomic_write

    atomic_write(path, lambda tmp: _write_csv(rows, tmp), ".csv")


def _write_csv(rows, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({c: r[c] for c in COLUMNS} for r in rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=None, help="registered names (default: all)")
    p.add_argument("--scales", nargs="+", type=float, default=None,
                   help="scales (default: each model's supported scales; 4 for arbitrary-scale models)")
    p.add_argument("--sizes", nargs="+", type=int, default=[128, 256], help="LR sizes for runtime/memory")
    p.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES), help="run in this order")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="CPU threads of the inference engine (default all)")
    p.add_argument("--complexity-size", type=int, default=256, help="LR size for FLOPs/activations (NTIRE: 256)")
    p.add_argument("--no-runtime", action="store_true", help="parameters/FLOPs/activations only")
    p.add_argument("--device", default=None, help="paddle device, e.g. cpu or gpu:0 (default: Paddle's)")
    p.add_argument("--csv", default=None, help="also write the rows to this CSV file")
    p.add_argument("--force", action="store_true", help="overwrite an existing --csv file")
    args = p.parse_args(argv)
    if args.csv:  # before minutes of measuring
        from paddle_sr.core.files import check_writable, refuse_existing

        check_writable(args.csv, "--csv file")
        if not args.force:
            refuse_existing([args.csv], "--force", "another --csv")
    if args.device:
        paddle.set_device(args.device)
    names = args.models or models.names()
    for n in names:
        models.scales(n)  # SRError for an unknown name before any work
    rows = []
    for n in names:
        supported = models.scales(n)
        wanted = args.scales or (supported or (4,))
        for s in wanted:
            s = int(s) if float(s).is_integer() else s
            if supported is not None and s not in supported:
                if args.scales and len(names) == 1:
                    models.check_scale(n, s)  # the user asked for exactly this: say why not
                continue
            new = measure(n, s, args.sizes, args.modes, args.repeats, args.warmup, args.complexity_size,
                          args.threads, runtime=not args.no_runtime)
            print("\n".join(format_table(new).splitlines()[2:]), file=sys.stderr, flush=True)  # progress
            rows.extend(new)
    if not rows:
        raise SRError("no (model, scale) pair to measure; check --models and --scales")
    print(format_table(rows))
    if args.csv:
        write_csv(rows, args.csv)
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    cli_main(main)
