"""Seconds per training iteration: the suite's loop vs the RDN notebook's loop, split into data and step.

    .venv/bin/python -m benchmarks.train_speed                         # RDN config B, batch 16, patch 48, x4
    .venv/bin/python -m benchmarks.train_speed --iterations 3 --folder DIV2K/DIV2K_train_HR

Both loops train the same network (``rdn``, config B: D=16, C=8, G=64, G0=64) with L1 and Adam 1e-4
on the same images, in one process, alternating one iteration of each (so load from other processes
hits both alike), after one warm-up iteration each. Per iteration the table separates

- data: producing the (lr, hr) batch as numpy (the notebook: shuffle, open and decode one whole image,
  crop it to a multiple of 192, PIL-bicubic the whole crop, cut 16 patches from that one image, then
  its batch-level ``data_augmentation``; re-implemented from seed 000 in ``reader_speed.py``); the
  suite: ``paddle_sr.train.make_batches`` (per-patch image/position/flip, MATLAB bicubic of the patch
  only, decoded images cached);
- step: to_tensor, forward, L1, backward, Adam step, reading the loss.

Images: the embedded photos plus generated 2040x1356 PNGs (DIV2K-sized, so the notebook pays its
real per-batch decode), or ``--folder``.
"""
import argparse
import dataclasses
import os
import statistics
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import paddle  # noqa: E402

from paddle_sr.training import recipes as configs
from paddle_sr import models, train  # noqa: E402
from paddle_sr import data as D  # noqa: E402
from benchmarks.reader_speed import generate_large, notebook_reader  # noqa: E402


def notebook_augmentation(lr, hr):
    """The notebook's ``data_augmentation``: one flip/rotation for the whole batch."""
    if np.random.randint(2) == 1:
        lr, hr = lr[:, :, :, ::-1], hr[:, :, :, ::-1]
    n = np.random.randint(4)
    if n == 1:
        lr, hr = lr.transpose([0, 1, 3, 2])[:, :, ::-1, :], hr.transpose([0, 1, 3, 2])[:, :, ::-1, :]
    elif n == 2:
        lr, hr = lr[:, :, ::-1, ::-1], hr[:, :, ::-1, ::-1]
    elif n == 3:
        lr, hr = lr.transpose([0, 1, 3, 2])[:, :, :, ::-1], hr.transpose([0, 1, 3, 2])[:, :, :, ::-1]
    return lr, hr


def notebook_batches(paths, batch, scale, patch):
    while True:
        for lr, hr in notebook_reader(paths, batch, scale, patch):
            yield notebook_augmentation(lr, hr)


def make_step(model_kwargs, scale):
    paddle.seed(0)
    model = models.create("rdn", scale=scale, **model_kwargs)
    opt = paddle.optimizer.Adam(learning_rate=1e-4, beta1=0.9, parameters=model.parameters())

    def step(lr, hr):
        lr, hr = paddle.to_tensor(np.ascontiguousarray(lr)), paddle.to_tensor(np.ascontiguousarray(hr))
        loss = paddle.mean(paddle.abs(model(lr) - hr))
        loss.backward()
        opt.step()
        opt.clear_grad()
        return float(loss)
    return step


def timed(batches, step):
    t0 = time.perf_counter()
    lr, hr = next(batches)
    t1 = time.perf_counter()
    step(lr, hr)
    return t1 - t0, time.perf_counter() - t1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iterations", type=int, default=2, help="timed iterations per loop (after 1 warm-up)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patch", type=int, default=48, help="LR patch side")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--large", type=int, default=8, help="generated 2040x1356 PNGs added to the images (0: none)")
    ap.add_argument("--folder", help="train on this folder of HR images instead (e.g. DIV2K_train_HR)")
    ap.add_argument("--model_kwargs", default="{}", help="JSON RDN arguments (default: config B)")
    args = ap.parse_args()
    import json
    kwargs = json.loads(args.model_kwargs)
    paddle.set_device("cpu")
    print(f"cpu cores: {os.cpu_count()}, paddle {paddle.__version__}; rdn {kwargs or 'config B'}, batch {args.batch}, "
          f"LR patch {args.patch}, x{args.scale}, {args.iterations} timed iterations after 1 warm-up")
    with tempfile.TemporaryDirectory() as tmp:
        paths = D.resolve_source(args.folder) if args.folder else \
            D.resolve_source("embedded:train") + (generate_large(tmp, args.large) if args.large else [])
        cfg = configs.resolve("rdn", {"batch_size": str(args.batch), "patch_size": str(args.patch),
                                      "scale": str(args.scale)})
        cfg = dataclasses.replace(cfg, data=paths)  # a list of files is a valid source
        loops = {
            "notebook loop (seed 000)": (notebook_batches(paths, args.batch, args.scale, args.patch),
                                         make_step(kwargs, args.scale)),
            "suite loop (paddle_sr.train)": (train.make_batches(cfg, 0, 0, 1), make_step(kwargs, args.scale)),
        }
        times = {name: [] for name in loops}
        for i in range(args.iterations + 1):
            for name, (batches, step) in loops.items():
                data_s, step_s = timed(batches, step)
                if i > 0:  # the first iteration of each loop is warm-up (image decode, oneDNN kernels)
                    times[name].append((data_s, step_s))
                print(f"  {name} iteration {i}: data {data_s:.3f} s, step {step_s:.2f} s", flush=True)
        # make_batches runs through paddle.io.DataLoader, whose buffer thread prepares the next batch
        # while the step runs; the cost of a batch without that overlap, on the same (cached) images:
        ds = D.PatchDataset(paths, args.scale, args.patch, seed=0)
        direct = []
        for k in range(args.iterations + 1):
            t = time.perf_counter()
            np.stack([ds[k * args.batch + j][0] for j in range(args.batch)])
            direct.append(time.perf_counter() - t)
    print(f"\n{'loop':32s} {'s/iteration':>12s} {'data s':>9s} {'step s':>9s} {'data share':>11s}")
    for name, rows in times.items():
        d = statistics.median(r[0] for r in rows)
        s = statistics.median(r[1] for r in rows)
        print(f"{name:32s} {d + s:12.2f} {d:9.3f} {s:9.2f} {d / (d + s):10.1%}")
    print(f"suite batch built directly (no prefetch thread, cached images): {statistics.median(direct[1:]):.3f} s")


if __name__ == "__main__":
    main()
