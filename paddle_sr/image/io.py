"""Image files: reading any PNG/JPEG/TIFF (gray, 16-bit, float, palette, alpha) as HxWx3 uint8 RGB upright
(EXIF orientation applied), listing image folders, and the conversions between uint8 images and the
suite's float32 CHW tensors in [-1, 1].

Pixel limit: an image above ``max_pixels()`` pixels (Pillow's decompression-bomb limit, 178,956,970,
where Pillow refuses a file, unless ``set_max_pixels`` changed it: the tools' ``--max-pixels``) is an SRError naming the file, its
size, the limit and the option, read from the header before anything is decoded. Pillow's own global
limit is never changed.
"""
import os
import threading

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from paddle_sr.core.errors import SRError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


# Pillow's decompression-bomb limit: it warns above MAX_IMAGE_PIXELS and refuses above twice that (178,956,970)
DEFAULT_MAX_PIXELS = 2 * int(Image.MAX_IMAGE_PIXELS or 89478485)


_max_pixels = [None]


_open_lock = threading.Lock()


def set_max_pixels(n):
    """Raise (or lower) the pixel limit of ``load_image`` for this process (the tools' ``--max-pixels``);
    None restores ``DEFAULT_MAX_PIXELS``. Worker processes forked afterwards inherit it."""
    if n is not None and int(n) < 1:
        raise SRError(f"--max-pixels must be >= 1, got {n}")
    _max_pixels[0] = None if n is None else int(n)


def max_pixels():
    """The pixel limit ``load_image`` applies now."""
    return _max_pixels[0] or DEFAULT_MAX_PIXELS


def open_image(path, limit=None):
    """``PIL.Image.open(path)`` (header only) after the pixel-limit check; the caller closes it.

    Pillow's own check (a warning above its limit, an error above twice it) is bypassed for this one
    open, under a lock, so the limit that applies is ``limit`` / ``max_pixels()`` and the message says
    how to raise it; Pillow's global setting is restored before anything is decoded.
    """
    path = os.fspath(path)
    limit = int(limit or max_pixels())
    with _open_lock:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            im = Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    w, h = im.size
    if w * h > limit:
        im.close()
        raise SRError(f"image {path} is {w}x{h} = {w * h:,} pixels, above the limit of {limit:,} pixels (Pillow's "
                      f"guard against decompression bombs); if you trust the file, pass --max-pixels {w * h} "
                      f"(or more), or downscale it")
    return im


def load_image(path, alpha=False, limit=None):
    """Read an image file as HxWx3 uint8 RGB, upright (its EXIF orientation applied).

    Grayscale is replicated to three channels, palette images are expanded, 16-bit PNG/TIFF are scaled
    by their bit depth (65535 -> 255), float TIFFs by their range ([0, 1] when no value is above 1,
    else [0, 255]), all with rounding. Alpha is dropped, or with ``alpha=True`` returned too:
    ``(rgb, a)`` with ``a`` an HxW uint8 array, or None for an opaque file. Unreadable files and
    images above the pixel limit (``limit`` or ``max_pixels()``) raise SRError.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise SRError(f"image {path} does not exist; check the path")
    try:
        try:
            im = open_image(path, limit)
        except UnidentifiedImageError:
            rgb, a = _read_tiff(path, limit)  # RGB float / 16-bit TIFFs Pillow cannot open
        else:
            with im:
                im.load()
                im = ImageOps.exif_transpose(im)  # returns a new upright image without the tag
                rgb, a = _to_rgb8(im), _alpha8(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise SRError(f"cannot read image {path}: {e}. Is it a valid PNG/JPEG? Re-export or remove it") from None
    return (rgb, a) if alpha else rgb


def _read_tiff(path, limit):
    """(rgb, alpha) of a TIFF through tifffile (installed with scikit-image): float or 16-bit RGB(A)."""
    if not path.lower().endswith((".tif", ".tiff")):
        raise UnidentifiedImageError(f"cannot identify image file {path!r}")
    try:
        import tifffile
    except ImportError:
        raise UnidentifiedImageError(f"cannot identify image file {path!r} (pip install tifffile reads more "
                                     f"TIFF kinds)") from None
    try:
        with tifffile.TiffFile(path) as tf:
            page = tf.pages[0]
            h, w = page.shape[:2]
            if w * h > int(limit or max_pixels()):
                raise SRError(f"image {path} is {w}x{h} = {w * h:,} pixels, above the limit of "
                              f"{int(limit or max_pixels()):,} pixels; if you trust the file, pass --max-pixels "
                              f"{w * h} (or more), or downscale it")
            a = page.asarray()
    except SRError:
        raise
    except Exception as e:  # noqa: BLE001 - tifffile raises assorted types for broken files
        raise UnidentifiedImageError(f"cannot identify image file {path!r} ({type(e).__name__}: {e})") from None
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise UnidentifiedImageError(f"unsupported TIFF layout {a.shape} in {path!r}")
    a8 = _scale8(a)
    color = a8[:, :, :1].repeat(3, axis=2) if a8.shape[2] < 3 else a8[:, :, :3]
    alpha = a8[:, :, -1] if a8.shape[2] in (2, 4) else None
    return np.ascontiguousarray(color), alpha


def _scale8(a):
    """Any integer or float array -> uint8 by its real range: 8 bit as is, 16 bit / 65535, float [0, 1]
    (or [0, 255] when values go above 1)."""
    if a.dtype == np.uint8:
        return a
    if np.issubdtype(a.dtype, np.floating):
        a = np.nan_to_num(a.astype(np.float64))
        peak = 1.0 if a.size == 0 or a.max() <= 1.0 else 255.0
    else:
        peak = 65535.0 if a.dtype.itemsize >= 2 and a.max() > 255 or a.dtype == np.uint16 else 255.0
    return np.clip(np.round(a.astype(np.float64) * 255.0 / peak), 0, 255).astype(np.uint8)


def _to_rgb8(im):
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im)
        if im.mode.startswith("I;16"):
            a = a.astype(np.uint16)
        return np.repeat(_scale8(a)[:, :, None], 3, axis=2)
    if im.mode in ("RGB;16", "RGBA;16") or (im.mode == "RGB" and np.asarray(im).dtype != np.uint8):
        a = np.asarray(im).astype(np.float64)[..., :3]
        return np.clip(np.round(a * 255.0 / 65535.0), 0, 255).astype(np.uint8)
    if im.mode == "F":
        return np.repeat(_scale8(np.asarray(im))[:, :, None], 3, axis=2)
    if im.mode in ("L", "1", "LA"):
        a = np.asarray(im.convert("L"))
        return np.repeat(a[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB")).copy()


def _alpha8(im):
    """HxW uint8 alpha of a PIL image, or None when it has none (palette transparency counts)."""
    if "A" in im.getbands() or "a" in im.getbands():
        return np.asarray(im.getchannel("A" if "A" in im.getbands() else "a")).copy()
    if "transparency" in im.info:
        return np.asarray(im.convert("RGBA").getchannel("A")).copy()
    return None


def is_grayscale_file(path):
    """True when the file itself is single-channel (mode L/I;16/1/LA), e.g. Set14 ``bridge.png``."""
    try:
        im = open_image(path)
    except UnidentifiedImageError:
        return False  # a TIFF only tifffile reads (RGB float / 16 bit); load_image says if it is unreadable
    with im:
        return im.mode in ("L", "1", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def list_images(folder):
    """Sorted image files in ``folder``; SRError for a missing or image-less folder."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise SRError(f"folder {folder} does not exist; pass a folder of images (or download the data "
                      f"with the scripts in data_scripts/)")
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))
    if not files:
        raise SRError(f"folder {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)}); point to the folder "
                      f"that contains the image files")
    return files


def to_tensor_range(img):
    """HxWx3 uint8 -> 3xHxW float32 in [-1, 1]."""
    return (img.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0)


def hwc_to_uint8(x):
    """HxWxC float in [-1, 1] -> uint8, clipped and rounded; no layout guessing (a 3-row block stays one)."""
    return np.clip(np.round((np.asarray(x, dtype=np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def to_uint8(x):
    """CxHxW (or HxWxC when ``x.shape[-1] == 3`` and not CHW) float in [-1, 1] -> HxWx3 uint8, clipped and rounded.

    Clipping before the cast is what removes the notebooks' "bright spots" (uint8 wrap-around).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3 and x.shape[0] in (1, 3) and x.shape[-1] not in (1, 3):
        x = x.transpose(1, 2, 0)
    elif x.ndim == 3 and x.shape[0] == 3 and x.shape[-1] == 3:
        x = x.transpose(1, 2, 0)  # ambiguous 3x?x3: the suite's tensors are CHW
    return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


class PngRows:
    """Write a PNG from row blocks, top to bottom, without holding the image: ``PngRows(f, w, h, c)``
    then ``write(block)`` with ``n x w x c`` uint8 blocks (c = 3: RGB, 4: RGBA), then ``close()``.

    Each row gets PNG's "Sub" filter (the difference to the pixel on its left, what most encoders pick
    for photographs) and the zlib stream is written in IDAT chunks of about 1 MB, so the memory is one
    block plus the compressor's window, whatever the image's size.
    """

    def __init__(self, f, width, height, channels, compress_level=6):
        import struct
        import zlib

        self._f, self._w, self._h, self._c = f, int(width), int(height), int(channels)
        self._struct, self._zlib = struct, zlib
        self._z = zlib.compressobj(compress_level)
        self._rows, self._pending = 0, []
        f.write(b"\x89PNG\r\n\x1a\n")
        self._chunk(b"IHDR", struct.pack(">IIBBBBB", self._w, self._h, 8, {3: 2, 4: 6}[self._c], 0, 0, 0))

    def _chunk(self, kind, data):
        s = self._struct
        self._f.write(s.pack(">I", len(data)) + kind + data + s.pack(">I", self._zlib.crc32(kind + data) & 0xFFFFFFFF))

    def _emit(self, data, final=False):
        if data:
            self._pending.append(data)
        if self._pending and (final or sum(map(len, self._pending)) >= 2 ** 20):
            self._chunk(b"IDAT", b"".join(self._pending))
            self._pending = []

    def write(self, block):
        block = np.ascontiguousarray(block, dtype=np.uint8)
        n = block.shape[0]
        if block.shape[1:] != (self._w, self._c) or self._rows + n > self._h:
            raise ValueError(f"PNG block {block.shape} does not fit a {self._w}x{self._h}x{self._c} image "
                             f"at row {self._rows}")
        flat = block.reshape(n, self._w * self._c)
        filtered = np.empty((n, 1 + flat.shape[1]), np.uint8)
        filtered[:, 0] = 1  # Sub
        filtered[:, 1:1 + self._c] = flat[:, :self._c]
        np.subtract(flat[:, self._c:], flat[:, :-self._c], out=filtered[:, 1 + self._c:])  # mod 256
        self._emit(self._z.compress(filtered.tobytes()))
        self._rows += n

    def close(self):
        if self._rows != self._h:
            raise ValueError(f"PNG got {self._rows} of {self._h} rows")
        self._emit(self._z.flush(), final=True)
        self._chunk(b"IEND", b"")


def save_png(img, path, compress_level=6, replace=True):
    """Write an HxWx3 uint8 array as PNG atomically (``core.files.atomic_write``: temporary file in the
    same folder, then rename; normal umask permissions). ``compress_level`` 1 is fast for large results.
    ``replace=False``: never replace a file that appeared meanwhile (SRError)."""
    from paddle_sr.core.files import atomic_write

    return atomic_write(path, lambda tmp: Image.fromarray(img).save(tmp, format="PNG", compress_level=compress_level),
                        ".png", replace=replace)
