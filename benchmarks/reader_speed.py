"""Patches per second: the suite's patch reader vs the seed notebook's ``reader_patch``.

The notebook's reader (seed 000, re-implemented here for the measurement only) opens one image per
batch, crops it to a multiple of patch*scale, downscales the *whole* crop with PIL bicubic, and cuts
all patches of the batch from that one image into one reused array. The suite's reader caches
decoded images, draws every patch from its own image and position, and makes LR with MATLAB bicubic
of the patch only (``paddle_sr.data.lr_crop``).

    python -m benchmarks.reader_speed                      # embedded photos + 8 generated 2K PNGs
    python -m benchmarks.reader_speed --folder DIV2K/DIV2K_train_HR --large 0

Both readers are timed on the same images, batch 16, LR patch 48, x4 (defaults), after one warm-up
batch; the suite's reader is also timed from a cold cache (first pass decodes each image once).
"""
import argparse
import os
import tempfile
import time

import numpy as np
from PIL import Image


from paddle_sr import data as D
from paddle_sr.data import datasets
from paddle_sr.apps.notebook import reader_patch  # noqa: E402


def notebook_reader(paths, batchsize, scale, patch):
    """The seed notebook's reader: one image per batch, whole-image PIL bicubic, one reused array."""
    lrs = np.zeros((batchsize, 3, patch, patch), np.float32)
    hrs = np.zeros((batchsize, 3, patch * scale, patch * scale), np.float32)
    order = list(paths)
    np.random.shuffle(order)
    for p in order:
        image = Image.open(p).convert("RGB")
        w, h = image.size
        rows, cols = h // (patch * scale) * patch * scale, w // (patch * scale) * patch * scale
        r0, c0 = np.random.randint(h - rows + 1), np.random.randint(w - cols + 1)
        hr = image.crop((c0, r0, c0 + cols, r0 + rows))
        lr = hr.resize((cols // scale, rows // scale), Image.BICUBIC)
        lr = np.array(lr).astype("float32").transpose(2, 0, 1) / 255 * 2 - 1
        hr = np.array(hr).astype("float32").transpose(2, 0, 1) / 255 * 2 - 1
        for b in range(batchsize):
            y, x = np.random.randint(0, lr.shape[1] - patch + 1), np.random.randint(0, lr.shape[2] - patch + 1)
            lrs[b] = lr[:, y:y + patch, x:x + patch]
            hrs[b] = hr[:, scale * y:scale * (y + patch), scale * x:scale * (x + patch)]
        yield lrs, hrs


def _rate(make_iter, batches, batchsize, warmup=1):
    it = make_iter()
    for _ in range(warmup):
        next(it)
    t = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * batchsize / (time.perf_counter() - t)


def _forever(gen_fn):
    while True:
        yield from gen_fn()


def generate_large(folder, n, size=(2040, 1356)):
    """``n`` DIV2K-sized PNGs: embedded photos enlarged to 2K plus sensor-like noise (so PNGs stay large)."""
    rng = np.random.default_rng(0)
    photos = D.embedded_images("all")
    paths = []
    for i in range(n):
        img = Image.fromarray(photos[i % len(photos)][1]).resize(size, Image.BICUBIC)
        a = np.clip(np.asarray(img, np.int16) + rng.integers(-6, 7, img.size[::-1] + (3,)), 0, 255).astype(np.uint8)
        p = os.path.join(folder, f"{i + 1:04d}.png")
        Image.fromarray(a).save(p)
        paths.append(p)
    return paths


def measure(name, paths, args):
    b, p, s = args.batch, args.patch, args.scale
    print(f"\n{name}: {len(paths)} images, batch {b}, LR patch {p}, x{s}", flush=True)
    nb = _rate(lambda: _forever(lambda: notebook_reader(paths, b, s, p)), args.batches, b)
    print(f"  notebook reader (decode + PIL bicubic per batch) : {nb:8.1f} patches/s", flush=True)
    datasets._CACHE.items.clear()
    datasets._CACHE.nbytes = 0
    ds = D.PatchDataset(paths, s, p, seed=0)
    t = time.perf_counter()
    for k in range(len(paths)):  # cold: the first pass decodes every image once
        [ds[k * b + j] for j in range(b)]
    cold = len(paths) * b / (time.perf_counter() - t)
    print(f"  suite PatchDataset, cold cache (first {len(paths)} batches): {cold:8.1f} patches/s", flush=True)
    warm = _rate(lambda: reader_patch(b, s, p, source=paths, seed=1, num_batches=10 ** 9), args.batches, b)
    print(f"  suite reader_patch, cached                       : {warm:8.1f} patches/s  ({warm / nb:.1f}x)", flush=True)
    for w in args.workers:
        r = _rate(lambda: D.make_loader(paths, s, p, b, seed=2, num_workers=w), args.batches, b, warmup=2)
        print(f"  suite make_loader num_workers={w}                  : {r:8.1f} patches/s  ({r / nb:.1f}x)", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patch", type=int, default=48)
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--batches", type=int, default=40, help="timed batches per reader")
    ap.add_argument("--large", type=int, default=8, help="generated 2040x1356 PNGs (0: none)")
    ap.add_argument("--folder", help="also measure on this folder of HR images (e.g. DIV2K_train_HR)")
    ap.add_argument("--workers", default="0,2", help="num_workers values for make_loader")
    args = ap.parse_args()
    args.workers = [int(w) for w in args.workers.split(",") if w != ""]
    print(f"cpu cores: {os.cpu_count()}")
    measure("embedded photos (train split)", D.resolve_source("embedded:train"), args)
    if args.large:
        with tempfile.TemporaryDirectory() as tmp:
            measure("generated 2040x1356 PNGs", generate_large(tmp, args.large), args)
    if args.folder:
        measure(args.folder, D.resolve_source(args.folder), args)


if __name__ == "__main__":
    main()
