"""PSNR / SSIM protocol: known values, Y conversion, border crop, gray conventions, skimage check."""
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from paddle_sr.image.metrics import psnr, rgb_to_gray, rgb_to_y, scoring_channels, ssim


def _rand(shape, seed=0):
    return np.random.RandomState(seed).randint(0, 256, size=shape).astype(np.uint8)


def test_rgb_to_y_known_values():
    img = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    np.testing.assert_allclose(rgb_to_y(img)[0], [16, 235, 16 + 65.481, 16 + 128.553, 16 + 24.966], atol=1e-9)


def test_psnr_uniform_offset():
    hr = np.full((20, 20, 3), 100, np.uint8)
    sr = hr + 5  # every RGB value +5 -> Y offset 5 * 219/255
    expected_y = 10 * np.log10(255 ** 2 / (5 * 219 / 255) ** 2)
    assert psnr(sr, hr, 0) == pytest.approx(expected_y, abs=1e-9)
    assert psnr(sr, hr, 0, y_channel=False) == pytest.approx(10 * np.log10(255 ** 2 / 25), abs=1e-9)
    assert psnr(hr, hr, 0) == float("inf")


def test_psnr_crop_border_ignores_the_border():
    hr = _rand((30, 30, 3))
    sr = hr.copy()
    sr[:4] = 0
    sr[:, -4:] = 255
    assert psnr(sr, hr, crop_border=4) == float("inf")
    assert np.isfinite(psnr(sr, hr, crop_border=3))


def test_psnr_is_float64_on_uint8():
    # uint8 subtraction would wrap around: 0 - 255 must count as 255, not 1.
    hr = np.zeros((16, 16), np.uint8)
    sr = np.full((16, 16), 255, np.uint8)
    assert psnr(sr, hr, 0) == pytest.approx(0.0, abs=1e-12)


def test_ssim_identity_and_range():
    img = _rand((40, 50, 3))
    assert ssim(img, img, 4) == pytest.approx(1.0, abs=1e-12)
    other = _rand((40, 50, 3), seed=1)
    assert -1 < ssim(other, img, 4) < 0.2


@pytest.mark.parametrize("y_channel", [True, False])
def test_ssim_matches_skimage(y_channel):
    hr = _rand((48, 57, 3), seed=3).astype(np.float64)
    # a correlated degraded copy, so SSIM is in an informative range
    sr = np.clip(hr * 0.7 + _rand((48, 57, 3), seed=4) * 0.3, 0, 255).round()
    c = 3
    a = scoring_channels(sr, y_channel)[c:-c, c:-c]
    b = scoring_channels(hr, y_channel)[c:-c, c:-c]
    ref = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=255, channel_axis=None if y_channel else 2)
    assert ssim(sr, hr, c, y_channel=y_channel) == pytest.approx(ref, abs=1e-10)


def test_gray_conventions():
    gray = _rand((30, 30), seed=5)
    hr = np.repeat(gray[:, :, None], 3, axis=2)
    sr = np.clip(hr.astype(int) + 6, 0, 255).astype(np.uint8)
    np.testing.assert_allclose(rgb_to_gray(hr), gray, atol=1e-9)
    # matlab: the gray value itself; basicsr: the replicated RGB mapped to Y (16 + 219/255 gray).
    assert psnr(sr, hr, 2, gray="matlab") == pytest.approx(psnr(sr[..., 0], gray, 2), abs=1e-9)
    assert psnr(sr, hr, 2, gray="basicsr") == pytest.approx(psnr(sr, hr, 2), abs=1e-12)
    assert psnr(sr, hr, 2, gray="basicsr") > psnr(sr, hr, 2, gray="matlab")  # Y compresses differences
    assert ssim(sr, hr, 2, gray="matlab") == pytest.approx(ssim(sr[..., 0], gray, 2), abs=1e-12)
    with pytest.raises(ValueError):
        psnr(sr, hr, 2, gray="opencv")


def test_shape_mismatch_and_too_small():
    with pytest.raises(ValueError):
        psnr(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)), 0)
    with pytest.raises(ValueError):
        ssim(np.zeros((12, 12, 3)), np.zeros((12, 12, 3)), 2)
