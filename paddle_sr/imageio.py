"""Image files: reading any PNG/JPEG/TIFF (gray, 16-bit, palette, alpha) as HxWx3 uint8 RGB, listing image
folders, and the conversions between uint8 images and the suite's float32 CHW tensors in [-1, 1].
"""
import os

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import SRError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def load_image(path):
    """Read an image file as HxWx3 uint8 RGB.

    Grayscale is replicated to three channels, alpha is dropped, palette images are expanded, and
    16-bit PNGs are scaled to 8 bit with rounding (65535 -> 255). Unreadable files raise SRError.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise SRError(f"image {path} does not exist; check the path")
    try:
        with Image.open(path) as im:
            im.load()
            arr = _to_rgb8(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise SRError(f"cannot read image {path}: {e}. Is it a valid PNG/JPEG? Re-export or remove it") from None
    return arr


def _to_rgb8(im):
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im).astype(np.float64)
        peak = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        a = np.clip(np.round(a * 255.0 / peak), 0, 255).astype(np.uint8)
        return np.repeat(a[:, :, None], 3, axis=2)
    if im.mode in ("RGB;16", "RGBA;16") or (im.mode == "RGB" and np.asarray(im).dtype != np.uint8):
        a = np.asarray(im).astype(np.float64)[..., :3]
        return np.clip(np.round(a * 255.0 / 65535.0), 0, 255).astype(np.uint8)
    if im.mode == "F":
        a = np.asarray(im)
        return np.repeat(np.clip(np.round(a), 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    if im.mode in ("L", "1", "LA"):
        a = np.asarray(im.convert("L"))
        return np.repeat(a[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB")).copy()


def is_grayscale_file(path):
    """True when the file itself is single-channel (mode L/I;16/1/LA), e.g. Set14 ``bridge.png``."""
    with Image.open(path) as im:
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
