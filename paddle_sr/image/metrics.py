"""PSNR and SSIM with the super-resolution benchmark protocol.

Protocol (the EDSR / RDN / RCAN MATLAB scripts and BasicSR's ``calculate_psnr/ssim``):

- Inputs are HxWx3 RGB (or HxW gray) arrays on [0, 255], uint8 or float; SR must already be
  clipped and rounded to uint8 by the caller when the protocol asks for it. All arithmetic is float64.
- ``crop_border`` pixels are removed at each of the four borders (the scale, for benchmark sets).
- ``y_channel=True``: score the BT.601 luma ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255``
  (R, G, B in [0, 1]; Y on [0, 255], not rounded — MATLAB ``rgb2ycbcr`` on ``im2double``).
  ``y_channel=False``: score all three RGB channels.
- An image that is grayscale in its file (Set14 ``bridge.png``) is scored by one of two conventions,
  the ``gray`` argument: ``'matlab'`` (MATLAB-era tables: bicubic, EDSR, RDN, RCAN) scores the gray
  value itself (no 16-235 mapping; for a 3-channel SR the full-range BT.601 luma
  ``(65.481 R + 128.553 G + 24.966 B) / 219``, which is the gray value of a replicated image);
  ``'basicsr'`` (BasicSR, the RLFN paper) converts the replicated RGB to Y like any colour image.
  An HxW array is always scored as it is.
- PSNR = 10 log10(255^2 / MSE); identical images give ``inf``.
- SSIM: Wang et al.'s ``ssim_index.m`` / MATLAB ``ssim``: 11x11 Gaussian window, sigma 1.5,
  'valid' filtering (no padding), K1 = 0.01, K2 = 0.03, L = 255, mean of the SSIM map; for RGB the
  mean over channels.
"""
import numpy as np

GRAY_CONVENTIONS = ("matlab", "basicsr")


def rgb_to_y(img):
    """HxWx3 RGB on [0, 255] -> HxW BT.601 Y on [16, 235], float64 (not rounded)."""
    img = np.asarray(img, dtype=np.float64)
    return 16.0 + (65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]) / 255.0


def rgb_to_gray(img):
    """HxWx3 RGB -> HxW full-range BT.601 luma ``(Y - 16) * 255 / 219``, float64 (not rounded).

    The coefficients sum to exactly 219/219, so a replicated gray image gives back its gray value.
    """
    img = np.asarray(img, dtype=np.float64)
    return (65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]) / 219.0


def scoring_channels(img, y_channel=True, gray=None):
    """The float64 array that is scored: HxW (Y, gray) or HxWx3 (RGB).

    Args:
        img: HxWx3 or HxW on [0, 255].
        y_channel: score Y (True) or RGB (False).
        gray: None for a colour image; 'matlab' or 'basicsr' when the image is gray in its file.
    """
    img = np.asarray(img)
    if img.ndim == 2:
        return img.astype(np.float64)
    if img.ndim != 3 or img.shape[2] not in (1, 3):
        raise ValueError(f"expected HxW or HxWx3, got shape {img.shape}")
    if img.shape[2] == 1:
        return img[..., 0].astype(np.float64)
    if gray is not None and gray not in GRAY_CONVENTIONS:
        raise ValueError(f"gray must be None or one of {GRAY_CONVENTIONS}, got {gray!r}")
    if gray == "matlab":
        return rgb_to_gray(img)
    return rgb_to_y(img) if y_channel else img.astype(np.float64)


def _prepare(sr, hr, crop_border, y_channel, gray):
    sr, hr = np.asarray(sr), np.asarray(hr)
    if sr.shape != hr.shape:
        raise ValueError(f"sr {sr.shape} and hr {hr.shape} differ in shape")
    a = scoring_channels(sr, y_channel, gray)
    b = scoring_channels(hr, y_channel, gray)
    c = int(crop_border or 0)
    if c:
        if a.shape[0] <= 2 * c or a.shape[1] <= 2 * c:
            raise ValueError(f"crop_border {c} leaves nothing of a {a.shape[:2]} image")
        a, b = a[c:-c, c:-c], b[c:-c, c:-c]
    return a, b


def psnr(sr, hr, crop_border=0, y_channel=True, gray=None):
    """PSNR in dB between two [0, 255] images (see the module docstring for the protocol)."""
    a, b = _prepare(sr, hr, crop_border, y_channel, gray)
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0 ** 2 / mse))


def gaussian_window(size=11, sigma=1.5):
    """Normalised 1-D Gaussian (MATLAB ``fspecial('gaussian')`` is its outer product)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def _filter_valid(x, g):
    """Separable 'valid' correlation of HxW[xC] ``x`` with ``outer(g, g)``."""
    k = g.size
    h, w = x.shape[0] - k + 1, x.shape[1] - k + 1
    rows = sum(g[i] * x[i:i + h] for i in range(k))
    return sum(g[j] * rows[:, j:j + w] for j in range(k))


def ssim(sr, hr, crop_border=0, y_channel=True, gray=None):
    """MATLAB-style SSIM between two [0, 255] images (see the module docstring for the protocol)."""
    a, b = _prepare(sr, hr, crop_border, y_channel, gray)
    if min(a.shape[:2]) < 11:
        raise ValueError(f"SSIM needs at least 11x11 pixels after cropping, got {a.shape[:2]}")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = gaussian_window()
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    var_a = _filter_valid(a * a, g) - mu_a ** 2
    var_b = _filter_valid(b * b, g) - mu_b ** 2
    cov = _filter_valid(a * b, g) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())  # for RGB: mean over pixels and channels == mean of channel means
