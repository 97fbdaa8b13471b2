"""Training and validation data: the decoded-image cache, patch datasets (item ``i`` a pure function of
``(seed, i)``), the batch stream, a recipe's training set, and validation pairs by the benchmark protocol.

Images are HxWx3 uint8 RGB in memory (``paddle_sr.image.io``); data specifications resolve to files in
``paddle_sr.data.sources``; tensors given to models are float32 NCHW in [-1, 1]. The notebooks' ``reader_patch``
lives in ``paddle_sr.apps.notebook``.
"""
import hashlib
import os
from collections import OrderedDict

import numpy as np
import paddle
from PIL import Image, UnidentifiedImageError  # noqa: F401

from paddle_sr.core.errors import SRError
from paddle_sr.data.sources import _lr_files, image_name, resolve_source
from paddle_sr.image.io import is_grayscale_file, load_image, open_image, to_tensor_range


class _ImageCache:
    """LRU of decoded images, bounded in bytes (``PADDLE_SR_CACHE_MB``, default 4096 MB).

    Per process: DataLoader workers forked after the parent filled it share its pages; each worker
    then grows its own. For a data set larger than the budget (DIV2K train is 6.6 GB decoded) pass
    ``cache=FOLDER``: every image is decoded once into ``FOLDER/*.npy`` and then memory-mapped, so
    all workers share the OS page cache and a patch reads only its rows.
    """

    def __init__(self):
        self.items = OrderedDict()
        self.nbytes = 0

    def get(self, path, cache, lr_scale=None):
        """Decoded image, or with ``lr_scale`` its whole-image LR ``imresize(modcrop(img), 1/s)``."""
        make = (lambda: load_image(path)) if lr_scale is None else (lambda: _whole_lr(self.get(path, cache), lr_scale))
        if cache is False or cache is None:
            return make()
        if isinstance(cache, (str, os.PathLike)):
            return _npy_cached(path, os.fspath(cache), make, "" if lr_scale is None else f"x{lr_scale}")
        try:
            st = os.stat(path)  # a file rewritten in place (same notebook session) is decoded again
        except OSError:
            load_image(path)  # raises the SRError naming the file
            raise
        key = (os.path.abspath(path), st.st_size, st.st_mtime_ns, lr_scale)
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        img = make()
        img.setflags(write=False)  # shared between samples: nobody may modify it in place
        budget = int(os.environ.get("PADDLE_SR_CACHE_MB", "4096")) * 2 ** 20
        while self.items and self.nbytes + img.nbytes > budget:
            self.nbytes -= self.items.popitem(last=False)[1].nbytes
        if img.nbytes <= budget:
            self.items[key] = img
            self.nbytes += img.nbytes
        return img


_CACHE = _ImageCache()


def _whole_lr(img, scale):
    from paddle_sr.image.imresize import imresize
    return imresize(modcrop(img, scale), 1.0 / scale)


def _npy_cached(path, folder, make, suffix=""):
    st = os.stat(path)
    tag = hashlib.sha1(f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    npy = os.path.join(folder, f"{os.path.splitext(os.path.basename(path))[0]}-{tag}{suffix}.npy")
    if not os.path.isfile(npy):
        from paddle_sr.core.files import atomic_write

        def write(tmp):
            with open(tmp, "wb") as f:
                np.save(f, make())
        atomic_write(npy, write)  # atomic: concurrent workers never read a torn file
    return np.load(npy, mmap_mode="r")


# LR pixels of context around a crop before downscaling: MATLAB's x1/s kernel reaches 2 LR pixels to
# each side, so with 3 every kept LR pixel sees the same HR pixels as in a whole-image imresize.
_LR_MARGIN = 3


def modcrop(img, scale):
    """Top-left crop so both sides are multiples of ``scale`` (the benchmark protocol)."""
    h, w = img.shape[0] // scale * scale, img.shape[1] // scale * scale
    return img[:h, :w]


def augment8(lr, hr, t):
    """One of the 8 flips/rotations (``t`` in 0..7: bit 0 = horizontal flip, ``t >> 1`` = quarter turns)."""
    if t & 1:
        lr, hr = lr[:, ::-1], hr[:, ::-1]
    k = t >> 1
    if k:
        lr, hr = np.rot90(lr, k, axes=(0, 1)), np.rot90(hr, k, axes=(0, 1))
    return lr, hr


def lr_crop(img, scale, y, x, ph, pw):
    """LR patch at LR position (y, x), size (ph, pw), equal to that window of ``imresize(modcrop(img), 1/s)``.

    Only the crop plus ``_LR_MARGIN`` LR pixels of context is downscaled (about 1 ms for a 48x48 x4
    patch instead of 60 ms for a 2K image); at the image border the context is cut exactly where the
    whole image ends, so MATLAB's symmetric padding sees the same pixels there too.
    """
    from paddle_sr.image.imresize import imresize

    h, w = img.shape[0] // scale, img.shape[1] // scale
    y0, y1 = max(0, y - _LR_MARGIN), min(h, y + ph + _LR_MARGIN)
    x0, x1 = max(0, x - _LR_MARGIN), min(w, x + pw + _LR_MARGIN)
    lr = imresize(img[y0 * scale:y1 * scale, x0 * scale:x1 * scale], 1.0 / scale)
    return lr[y - y0:y - y0 + ph, x - x0:x - x0 + pw]


def _patch_hw(patch_size):
    if np.isscalar(patch_size):
        return int(patch_size), int(patch_size)
    return int(patch_size[0]), int(patch_size[1])  # the notebooks' [h, w] or [h, w, 3]


def _chw(img):
    """HxWx3 uint8 view -> fresh contiguous 3xHxW float32 in [-1, 1]."""
    return np.ascontiguousarray(to_tensor_range(np.asarray(img)))


class _SeededImageDataset(paddle.io.Dataset):
    """Item ``i`` is a pure function of ``(seed, i)``: its generator is ``default_rng([seed, i])``.

    That one rule is what makes a resumed run, and any number of worker processes, see exactly the
    batches an uninterrupted single-process run sees.
    """

    def __len__(self):
        return self.length

    def _check_images(self, min_h, min_w, need):
        """Fail now, not hours into a run: every image must open (header) and be >= min_h x min_w.

        ``need`` says what the size is for, in the message. Reads headers only (~0.1 ms per file).
        """
        bad, small = [], []
        for p in self.paths:
            try:
                with open_image(p) as im:  # SRError above the pixel limit (--max-pixels)
                    w, h = im.size
                    if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                        w, h = h, w  # load_image turns it upright
            except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
                bad.append((p, e))
                continue
            if h < min_h or w < min_w:
                small.append((p, w, h))
        n = len(self.paths)
        if bad:
            p, e = bad[0]
            more = f" ({len(bad)} of {n} images are unreadable)" if len(bad) > 1 else ""
            raise SRError(f"cannot read training image {p}: {e}{more}. Re-export or remove it, or point --data at "
                          f"a folder of valid PNG/JPEG images")
        if small:
            p, w, h = small[0]
            more = f" ({len(small)} of {n} images are too small)" if len(small) > 1 else ""
            raise SRError(f"training image {p} is {w}x{h} (WxH), smaller than {need} ({min_w}x{min_h} HR pixels)"
                          f"{more}; use a smaller --patch_size or remove the small images")

    def _draw(self, i):
        """(generator of item i, index of its image, the decoded HR image)."""
        rng = np.random.default_rng([self.seed, int(i)])
        k = int(rng.integers(len(self.paths)))
        return rng, k, _CACHE.get(self.paths[k], self.cache)


class PatchDataset(_SeededImageDataset):
    """Random (LR, HR) training patches; item ``i`` is a pure function of ``(seed, i)``.

    The image (uniform over images, as EDSR), the crop position (uniform over the LR grid of the
    modcropped image) and the 8-way flip/rotation all come from ``np.random.default_rng([seed, i])``,
    so a resumed run and any number of worker processes see identical batches.

    Args:
        source: a spec for ``resolve_source`` or a list of image paths.
        scale: integer SR factor s.
        patch_size: LR patch side (int) or (h, w); the HR patch is s times larger.
        length: nominal ``len()`` (training is counted in iterations, not epochs).
        seed: non-negative integer.
        augment: apply the random flip/rotation.
        lr_source: folder of official LR images (``NAMEx{s}.png``, e.g. ``div2k_lr_folder(...)``); the
            LR patch is cropped at the matching position. Default: MATLAB bicubic
            ``imresize(modcrop(hr), 1/s)`` of the whole image, made once per image and cached with it
            (60 ms for a 2K image); without a cache only the crop plus context is downscaled
            (``lr_crop``), which gives the same pixels.
        cache: True (per-process in-memory LRU of decoded HR and LR images), False (decode every
            sample) or a folder for memory-mapped ``.npy`` copies (see ``_ImageCache``).

    Items: ``(lr, hr)``, fresh float32 CHW arrays in [-1, 1].
    """

    def __init__(self, source, scale, patch_size, length=10 ** 8, seed=0, augment=True, lr_source=None, cache=True):
        super().__init__()
        self.paths = resolve_source(source)
        self.scale = int(scale)
        if self.scale < 1 or self.scale != scale:
            raise SRError(f"scale must be a positive integer for patch training, got {scale}")
        self.patch = _patch_hw(patch_size)
        self.length = int(length)
        self.seed = int(seed)
        self.augment = augment
        self.lr_paths = None if lr_source is None else _lr_files(self.paths, os.fspath(lr_source), self.scale)
        self.cache = cache
        ph, pw = self.patch
        self._check_images(ph * self.scale, pw * self.scale, f"an LR patch of {pw}x{ph} at x{self.scale}")

    def __getitem__(self, i):
        rng, k, img = self._draw(i)
        s, (ph, pw) = self.scale, self.patch
        h, w = img.shape[0] // s, img.shape[1] // s
        if h < ph or w < pw:
            raise SRError(f"image {self.paths[k]} is {img.shape[1]}x{img.shape[0]} (WxH), too small for an LR patch "
                          f"of {pw}x{ph} at x{s} (needs {pw * s}x{ph * s} HR pixels); use a smaller patch_size "
                          f"(at most {min(h, w)}) or drop the small images")
        y, x = int(rng.integers(h - ph + 1)), int(rng.integers(w - pw + 1))
        hr = img[y * s:(y + ph) * s, x * s:(x + pw) * s]
        if self.lr_paths is None and not self.cache:
            lr = lr_crop(img, s, y, x, ph, pw)
        elif self.lr_paths is None:
            # Whole-image LR, made once per image and cached: equal to lr_crop (tested), ~10x cheaper per patch.
            lr = _CACHE.get(self.paths[k], self.cache, lr_scale=s)[y:y + ph, x:x + pw]
        else:
            lr_img = _CACHE.get(self.lr_paths[k], self.cache)
            if lr_img.shape[:2] != (h, w):
                raise SRError(f"LR image {self.lr_paths[k]} is {lr_img.shape[1]}x{lr_img.shape[0]}, expected "
                              f"{w}x{h} for x{s} of {self.paths[k]}; is lr_source the folder of the same scale?")
            lr = lr_img[y:y + ph, x:x + pw]
        t = int(rng.integers(8))
        if self.augment:
            lr, hr = augment8(lr, hr, t)
        return _chw(lr), _chw(hr)


def _stack(items):
    return tuple(np.stack([it[j] for it in items]) for j in range(len(items[0])))


_WORKER_DATASET = None


def _worker_init(dataset):
    """Runs in each worker process: Ctrl-C is the main process's to handle (it saves the run)."""
    import signal

    global _WORKER_DATASET
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _WORKER_DATASET = dataset


def _worker_batch(indices):
    return _stack([_WORKER_DATASET[i] for i in indices])


def batch_indices(k, batch_size, rank=0, world=1):
    """Items of rank ``rank``'s share of global batch ``k``: ``[k*B + r*b, k*B + (r+1)*b)`` with
    ``b = B / world``, so the global batch k is items ``[k*B, (k+1)*B)`` whatever the number of GPUs."""
    b = batch_size // world
    first = k * batch_size + rank * b
    return list(range(first, first + b))


def batches(dataset, batch_size, start=0, rank=0, world=1, num_workers=0):
    """Endless float32 numpy batches ``k = start, start + 1, ...`` of ``dataset`` (see ``batch_indices``).

    Batch k is a pure function of the data set's seed and k, so a resumed run and every
    ``num_workers`` see the same batches. ``num_workers > 0`` prepares the next ``2 * num_workers``
    batches in worker processes. An error in any worker (an unreadable image, say) is raised here,
    in the caller, with its own message; a worker that dies (killed for memory) ends the stream with
    an SRError instead of a hang. Workers ignore Ctrl-C: the caller decides what an interrupt means.
    """
    if batch_size % world:
        raise SRError(f"--batch_size={batch_size} must be divisible by the number of GPUs ({world})")

    def as_float(batch):
        return tuple(np.asarray(x, dtype=np.float32) for x in batch)

    k = int(start)
    if num_workers <= 0:
        while True:
            yield as_float(_stack([dataset[i] for i in batch_indices(k, batch_size, rank, world)]))
            k += 1
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    pool = ProcessPoolExecutor(int(num_workers), mp_context=ctx, initializer=_worker_init, initargs=(dataset,))
    pending = deque()
    try:
        while True:
            while len(pending) < 2 * num_workers:
                pending.append(pool.submit(_worker_batch, batch_indices(k + len(pending), batch_size, rank, world)))
            try:
                batch = pending.popleft().result()
            except BrokenProcessPool:
                raise SRError(f"a data-loading worker process died (killed for lack of memory?) while preparing "
                              f"batch {k}; rerun with a lower --num_workers (0 reads in the main process)") from None
            yield as_float(batch)
            k += 1
    finally:  # the stream was closed or dropped: stop the workers now, not at exit
        for f in pending:
            f.cancel()
        pool.shutdown(wait=False, cancel_futures=True)


def make_loader(source, scale, patch_size, batch_size, seed=0, start_iteration=0, num_workers=0, augment=True,
                lr_source=None):
    """Endless iterator of ``(lr, hr)`` numpy float32 NCHW batches in [-1, 1] (``batches`` of a ``PatchDataset``).

    Batch k is ``PatchDataset`` items ``[k*batch_size, (k+1)*batch_size)``, starting at
    ``k = start_iteration``: resuming at iteration k gives the batches an uninterrupted run would
    have seen, and the batches do not depend on ``num_workers``.
    """
    dataset = source if isinstance(source, PatchDataset) else PatchDataset(
        source, scale, patch_size, seed=seed, augment=augment, lr_source=lr_source)
    return batches(dataset, batch_size, start=start_iteration, num_workers=int(num_workers))


class LiifPatchDataset(_SeededImageDataset):
    """LIIF's training sampler (``SRImplicitDownsampled`` in yinboc/liif ``datasets/wrappers.py``).

    Per item: a scale s ~ U(scale_min, scale_max); an HR crop of side ``round(inp_size * s)``; LR by
    ``imresize`` to ``inp_size`` (official: PIL bicubic via torchvision; here MATLAB bicubic, the
    suite's LR everywhere); the official three random flips (rows, columns, transpose) on both;
    ``sample_q`` HR pixels without replacement. Deterministic in ``(seed, i)`` like ``PatchDataset``.

    Items: ``(lr, coord, cell, gt)``: lr 3 x inp x inp in [-1, 1]; coord (Q, 2) pixel centres
    (``make_coord``) of the HR crop; cell (Q, 2) = (2/H, 2/W) of the HR crop; gt (Q, 3) in [-1, 1].
    """

    def __init__(self, source, inp_size=48, scale_min=1, scale_max=4, sample_q=2304, seed=0, augment=True,
                 length=10 ** 8, cache=True):
        super().__init__()
        self.paths = resolve_source(source)
        self.inp_size, self.scale_min, self.scale_max = int(inp_size), float(scale_min), float(scale_max)
        if not 0 < self.scale_min <= self.scale_max:
            raise SRError(f"need 0 < scale_min <= scale_max, got {scale_min}, {scale_max}")
        self.sample_q, self.seed, self.augment = sample_q, int(seed), augment
        self.length, self.cache = int(length), cache
        side = round(self.inp_size * self.scale_max)
        self._check_images(side, side, f"the HR crop of inp_size={self.inp_size} at x{self.scale_max:g} (scale_max)")

    def __getitem__(self, i):
        from paddle_sr.image.imresize import imresize
        from paddle_sr.models.common import make_coord

        rng, k, img = self._draw(i)
        s = rng.uniform(self.scale_min, self.scale_max)
        w_hr = round(self.inp_size * s)
        if img.shape[0] < w_hr or img.shape[1] < w_hr:
            raise SRError(f"image {self.paths[k]} is {img.shape[1]}x{img.shape[0]}, smaller than the "
                          f"{w_hr}x{w_hr} HR crop of inp_size={self.inp_size} at x{s:.2f}; lower inp_size or "
                          f"scale_max, or drop the small images")
        y0, x0 = int(rng.integers(img.shape[0] - w_hr + 1)), int(rng.integers(img.shape[1] - w_hr + 1))
        hr = img[y0:y0 + w_hr, x0:x0 + w_hr]
        lr = imresize(hr, output_shape=(self.inp_size, self.inp_size))
        flips = rng.random(3) < 0.5
        if self.augment:
            def aug(a):
                a = a[::-1] if flips[0] else a
                a = a[:, ::-1] if flips[1] else a
                return a.transpose(1, 0, 2) if flips[2] else a
            lr, hr = aug(lr), aug(hr)
        coord = make_coord(hr.shape[:2])
        gt = np.asarray(hr, dtype=np.float32).reshape(-1, 3) / 127.5 - 1.0
        if self.sample_q is not None:
            pick = rng.choice(len(coord), self.sample_q, replace=False)
            coord, gt = coord[pick], gt[pick]
        cell = np.empty_like(coord)
        cell[:, 0], cell[:, 1] = 2.0 / hr.shape[0], 2.0 / hr.shape[1]
        return _chw(lr), np.ascontiguousarray(coord), cell, np.ascontiguousarray(gt)


def validation_pairs(source, scale, max_size=None, split="val", gray_flags=False):
    """[(name, lr uint8, hr uint8)] by the benchmark protocol: HR modcropped, LR = MATLAB imresize(hr, 1/s).

    ``gray_flags``: 4-tuples ``(name, lr, hr, the file is grayscale)`` for ``evaluate.score_sets``.

    ``max_size`` (HR pixels per side) centre-crops larger images first (to a multiple of ``scale``),
    so validation during training stays fast on 2K images; the PSNR is then that of the crop.
    ``split`` is used for specs without one ('div2k:ROOT' -> DIV2K_valid_HR; 'embedded' -> val).
    """
    from paddle_sr.image.imresize import imresize

    scale = int(scale)
    pairs = []
    for path in resolve_source(source, split=split):
        hr = modcrop(load_image(path), scale)
        if max_size is not None:
            m = int(max_size) // scale * scale
            top, left = (hr.shape[0] - min(m, hr.shape[0])) // 2 // scale * scale, \
                (hr.shape[1] - min(m, hr.shape[1])) // 2 // scale * scale
            hr = hr[top:top + m, left:left + m]
        if min(hr.shape[:2]) < scale:
            raise SRError(f"image {path} ({hr.shape[1]}x{hr.shape[0]}) is smaller than the scale x{scale}")
        pair = (image_name(path), imresize(hr, 1.0 / scale), np.ascontiguousarray(hr))
        pairs.append(pair + (is_grayscale_file(path),) if gray_flags else pair)
    return pairs
