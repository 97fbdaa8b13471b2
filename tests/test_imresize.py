"""MATLAB-compatible bicubic resize: properties, hand-computed values, and a naive reference."""
import math
import time

import numpy as np
import pytest

from paddle_sr.image.imresize import imresize


def _naive_1d(line, out_len, scale):
    """MATLAB's formula, one output pixel at a time (independent of the vectorised code)."""
    def k(x):
        a = abs(x)
        if a <= 1:
            return 1.5 * a ** 3 - 2.5 * a ** 2 + 1
        if a <= 2:
            return -0.5 * a ** 3 + 2.5 * a ** 2 - 4 * a + 2
        return 0.0

    n = len(line)
    width, aa = (4.0 / scale, scale) if scale < 1 else (4.0, 1.0)
    out = []
    for x in range(1, out_len + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = [(aa * k(aa * (u - j)), j) for j in range(left, left + math.ceil(width) + 2)]
        total = sum(w for w, _ in taps)
        acc = 0.0
        for w, j in taps:
            m = (j - 1) % (2 * n)  # symmetric border: 1..n, n..1, ...
            acc += w / total * line[m if m < n else 2 * n - 1 - m]
        out.append(acc)
    return out


def _naive(img, out_shape, scales, uint8):
    x = img.astype(np.float64)
    order = [0, 1] if scales[0] <= scales[1] else [1, 0]
    for axis in order:
        x = np.moveaxis(x, axis, 0)
        y = np.zeros((out_shape[axis],) + x.shape[1:])
        for idx in np.ndindex(*x.shape[1:]):
            y[(slice(None),) + idx] = _naive_1d(x[(slice(None),) + idx], out_shape[axis], scales[axis])
        if uint8:
            y = np.clip(np.floor(y + 0.5), 0, 255)
        x = np.moveaxis(y, 0, axis)
    return x


def test_hand_computed_upscale():
    # [0, 255] upscaled x2; weights -0.0234375, 0.2265625, 0.8671875, -0.0703125 worked out by hand.
    row = np.array([[0.0, 255.0]])
    out = imresize(row, 2)
    expected = [-23.90625, 51.796875, 203.203125, 278.90625]
    assert out.shape == (2, 4) and out.dtype == np.float64
    np.testing.assert_allclose(out, [expected, expected], atol=1e-9)
    out8 = imresize(row.astype(np.uint8), 2)
    assert out8.dtype == np.uint8
    np.testing.assert_array_equal(out8[0], [0, 52, 203, 255])


@pytest.mark.parametrize("scale", [1 / 4, 1 / 3, 1 / 2, 0.7, 2, 3, 1.5])
def test_matches_naive_reference(scale):
    rng = np.random.RandomState(0)
    img = rng.randint(0, 256, size=(13, 17, 2)).astype(np.uint8)
    out = imresize(img, scale)
    shape = (math.ceil(13 * scale - 1e-9), math.ceil(17 * scale - 1e-9))
    assert out.shape == shape + (2,) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, _naive(img, shape, (scale, scale), uint8=True))
    outf = imresize(img.astype(np.float64), scale)
    np.testing.assert_allclose(outf, _naive(img, shape, (scale, scale), uint8=False), atol=1e-9)


def test_output_shape_orders_smaller_scale_first():
    # Height grows, width shrinks: MATLAB shrinks the width first; uint8 rounding makes order visible.
    rng = np.random.RandomState(1)
    img = rng.randint(0, 256, size=(9, 16)).astype(np.uint8)
    out = imresize(img, output_shape=(14, 5))
    assert out.shape == (14, 5)
    np.testing.assert_array_equal(out, _naive(img, (14, 5), (14 / 9, 5 / 16), uint8=True))


def test_uint8_rounds_after_each_pass():
    rng = np.random.RandomState(2)
    img = rng.randint(0, 256, size=(40, 40, 3)).astype(np.uint8)
    once = np.clip(np.floor(imresize(img.astype(np.float64), 1 / 3) + 0.5), 0, 255)
    twice = imresize(img, 1 / 3)
    assert np.array_equal(twice, _naive(img, (14, 14), (1 / 3, 1 / 3), uint8=True))
    assert not np.array_equal(twice, once)  # rounding only at the end would differ somewhere


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("scale", [1 / 4, 1 / 3, 2, 4, 2.5])
def test_constant_stays_constant(dtype, scale):
    img = np.full((24, 30, 3), 137, dtype=dtype)
    out = imresize(img, scale)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, 137, atol=1e-4)


@pytest.mark.parametrize("h,w,scale,expected", [(255, 100, 1 / 3, (85, 34)), (10, 10, 1 / 4, (3, 3)),
                                                (7, 9, 2, (14, 18)), (5, 5, 0.7, (4, 4)),
                                                (512, 384, 1 / 4, (128, 96)), (321, 480, 1 / 3, (107, 160))])
def test_output_size_ceil(h, w, scale, expected):
    assert imresize(np.zeros((h, w), np.uint8), scale).shape == expected


def test_float_is_not_clipped_and_keeps_dtype():
    img = np.zeros((8, 8), np.float32)
    img[:, 4:] = 1.0
    out = imresize(img, 2)
    assert out.dtype == np.float32
    assert out.min() < 0 and out.max() > 1  # cubic overshoot at the edge stays


def test_down_then_up_is_close():
    y, x = np.mgrid[0:64, 0:64]
    img = (127.5 + 100 * np.sin(x / 7.0) * np.cos(y / 9.0)).astype(np.float64)
    back = imresize(imresize(img, 1 / 2), 2)
    assert np.abs(back - img)[4:-4, 4:-4].max() < 3.0


def test_2k_image_is_fast():
    img = np.random.RandomState(0).randint(0, 256, size=(1356, 2040, 3)).astype(np.uint8)
    t = time.perf_counter()
    lr = imresize(img, 1 / 4)
    assert lr.shape == (339, 510, 3)
    assert time.perf_counter() - t < 3.0  # a few tenths of a second on an idle 2-core CPU


def test_bad_input():
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4)), None)
    with pytest.raises(TypeError):
        imresize(np.zeros((4, 4), np.int32), 2)
