"""Eager Paddle on the CPU with 1 vs N math threads (``paddle_sr.engine.use_threads``): inference and training.

    .venv/bin/python -m benchmarks.threads_speed [--repeats 7] [--threads 2]

Both settings run in ONE process, interleaved round-robin (one call of each per round, the thread
count switched with ``paddle.base.core.set_num_threads`` before every call), so load from other
processes hits both alike; the table gives the median of the rounds (after 2 warm-up rounds) and
the ratio N threads / 1 thread.

- inference: RLFN_ntire x4 (random weights: time does not depend on them), one 128x128 LR image,
  ``paddle.no_grad`` forward;
- training: the demo RDN (``rdn`` x2, num_features=16, num_blocks=4, num_layers=3, growth_rate=16),
  batch 16 of 24x24 LR patches, L1, forward + backward + Adam step.
"""
import argparse
import os
import statistics
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import paddle  # noqa: E402
from paddle.base import core  # noqa: E402

from paddle_sr import models  # noqa: E402
from paddle_sr.runtime.device import thread_count  # noqa: E402


def contenders():
    paddle.seed(0)
    rlfn = models.create("rlfn_ntire", scale=4)
    rlfn.eval()
    x = paddle.to_tensor(np.random.default_rng(0).uniform(-1, 1, (1, 3, 128, 128)).astype("float32"))

    def infer():
        with paddle.no_grad():
            return rlfn(x).numpy()

    rdn = models.create("rdn", scale=2, num_features=16, num_blocks=4, num_layers=3, growth_rate=16)
    rdn.train()
    opt = paddle.optimizer.Adam(learning_rate=1e-4, parameters=rdn.parameters())
    rng = np.random.default_rng(1)
    lr = paddle.to_tensor(rng.uniform(-1, 1, (16, 3, 24, 24)).astype("float32"))
    hr = paddle.to_tensor(rng.uniform(-1, 1, (16, 3, 48, 48)).astype("float32"))

    def train_step():
        loss = paddle.nn.functional.l1_loss(rdn(lr), hr)
        loss.backward()
        opt.step()
        opt.clear_grad()
        return float(loss)

    return {"inference RLFN_ntire x4 128x128": infer, "training step demo RDN x2 b16 24x24": train_step}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=thread_count())
    args = p.parse_args(argv)
    print(f"paddle {paddle.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    runs = contenders()
    settings = sorted({1, args.threads})
    times = {(k, n): [] for k in runs for n in settings}
    for r in range(args.repeats + 2):
        for k, f in runs.items():
            for n in settings:
                core.set_num_threads(n)
                start = time.perf_counter()
                f()
                if r >= 2:
                    times[k, n].append(time.perf_counter() - start)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"| what | 1 thread s | {args.threads} threads s | ratio |")
    print("|---|---|---|---|")
    for k in runs:
        one, many = statistics.median(times[k, 1]), statistics.median(times[k, args.threads])
        print(f"| {k} | {one:.3f} | {many:.3f} | {many / one:.2f} |")


if __name__ == "__main__":
    main()
