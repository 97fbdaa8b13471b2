"""RLFN_ntire x4 on CPU: Paddle eager vs Paddle Inference (oneDNN on/off, 1/2 threads) vs PyTorch eager.

    .venv/bin/python benchmarks/runtime_vs_torch.py [--sizes 128 256] [--repeats 7] [--weights PTH]

Everything runs in ONE process on the same input, interleaved round-robin (one call of every
contender per round), so load from other processes on a shared machine hits all of them alike;
the table gives the median of the rounds and its ratio to the faster PyTorch setting (1 or
all threads). The PyTorch model is
the official code (``tests/reference/rlfn_torch.py``, ``RLFN_Prune``) with the official weights;
the Paddle contenders load the same weights through ``paddle_sr.convert``. Each output is checked
against PyTorch's (max abs difference on the 0-255 scale). torch is a benchmark-only dependency.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import paddle  # noqa: E402
import torch  # noqa: E402

from paddle_sr import convert  # noqa: E402
from paddle_sr.engine import InferenceEngine  # noqa: E402
from paddle_sr.export import export  # noqa: E402
from tests.reference import rlfn_torch  # noqa: E402

DEFAULT_WEIGHTS = os.path.join(ROOT, "..", "shared", "weights", "rlfn", "rlfn_ntire_x4.pth")


def lr_image(size):
    """A real photo crop (scikit-image's astronaut, 2x area-downsampled), NCHW float32 in [-1, 1]."""
    from skimage import data
    img = data.astronaut().astype(np.float32)
    img = (img[0::2, 0::2] + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2]) / 4  # 256x256
    img = np.tile(img, (2, 2, 1))[:size, :size]
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None] / 127.5 - 1)


def contenders(weights, workdir, threads):
    net_t = rlfn_torch.build("rlfn_ntire", 4)
    net_t.load_state_dict(torch.load(weights, map_location="cpu"))

    def torch_run(thr):
        def run(x):
            torch.set_num_threads(thr)  # process-wide, so set before every call
            with torch.no_grad():  # the official model works on [0, 255]
                return net_t(torch.from_numpy((x + 1) * 127.5)).numpy() / 127.5 - 1
        return run

    pd_weights = os.path.join(workdir, "rlfn_ntire_x4.pdparams")
    model = convert.convert("rlfn_ntire", 4, weights, pd_weights)
    model.eval()
    export(model, os.path.join(workdir, "export"), name="rlfn_ntire", scale=4)

    def eager_run(x):
        with paddle.no_grad():
            return model(paddle.to_tensor(x)).numpy()

    runs = {f"pytorch {torch.__version__} eager ({thr} thr)": torch_run(thr) for thr in sorted({1, threads})}
    runs[f"paddle {paddle.__version__} eager"] = eager_run
    for mkldnn, thr in ((True, 1), (True, threads), (False, threads)):
        engine = InferenceEngine(os.path.join(workdir, "export"), device="cpu", threads=thr, mkldnn=mkldnn)
        runs[f"paddle inference {'oneDNN' if mkldnn else 'plain'} ({thr} thr)"] = engine
    return runs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", type=int, default=[128, 256])
    p.add_argument("--repeats", type=int, default=7, help="timed rounds (after 2 warm-up rounds)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--weights", default=DEFAULT_WEIGHTS, help="official rlfn_ntire_x4.pth")
    p.add_argument("--skip", nargs="*", default=[], help="substring of contenders to leave out (e.g. eager)")
    args = p.parse_args(argv)
    print(f"paddle {paddle.__version__}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as workdir:
        runs = {k: f for k, f in contenders(args.weights, workdir, args.threads).items()
                if not any(s in k for s in args.skip)}
        print("| LR size | contender | median s | vs PyTorch | max abs diff vs PyTorch (0-255) |")
        print("|---|---|---|---|---|")
        for size in args.sizes:
            x = lr_image(size)
            times = {k: [] for k in runs}
            outs = {}
            for r in range(args.repeats + 2):
                for k, f in runs.items():
                    start = time.perf_counter()
                    out = f(x)
                    if r >= 2:
                        times[k].append(time.perf_counter() - start)
                    outs[k] = out
            # Ratios against the faster PyTorch thread setting (the conservative comparison).
            ref, ref_key = min((statistics.median(times[k]), k) for k in runs if k.startswith("pytorch"))
            for k in runs:
                med = statistics.median(times[k])
                diff = np.abs(outs[k] - outs[ref_key]).max() * 127.5
                print(f"| {size}x{size} | {k} | {med:.3f} | {med / ref:.2f} | {diff:.1e} |", flush=True)


if __name__ == "__main__":
    main()
