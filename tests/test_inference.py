"""Tiled vs whole-image inference, self-ensemble, arbitrary-scale (render) models."""
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest

from paddle_sr.errors import SRError
from paddle_sr.imresize import imresize
from paddle_sr.inference import _axis_plan, super_resolve
from paddle_sr.metrics import psnr
from paddle_sr.models import create
from paddle_sr.models.common import SRModel


def _small_rdn(scale=2):
    # D=2, C=2: receptive-field radius about 8.5 LR pixels (2 SFE convs, 2x2 RDB convs, GFF, UPNet),
    # so tile_overlap=16 (>= 8 px of context at every blending weight > 0) reproduces the whole image.
    paddle.seed(0)
    model = create("rdn", scale=scale, num_features=8, num_blocks=2, num_layers=2, growth_rate=4)
    # RDN starts from PyTorch's default init, whose random outputs are already of image-like spread
    # (std ~0.1-2); the tiling tests need non-flat outputs, asserted where they are used.
    return model


def _psnr_float(a, b):
    return psnr((a + 1) * 127.5, (b + 1) * 127.5, 0, y_channel=False)


@pytest.fixture(scope="module")
def comic_lr(shared):
    from paddle_sr.data import load_image
    hr = load_image(shared / "benchmarks" / "Set14" / "HR" / "comic.png")
    return imresize(hr[:360, :250], 1 / 2)  # 180x125, odd width


def test_tiled_matches_whole_on_set14(comic_lr):
    model = _small_rdn()
    whole = super_resolve(model, comic_lr, 2)
    assert whole.shape == (360, 250, 3) and whole.dtype == np.float32
    assert 0.1 < whole.std() < 2
    tiled = super_resolve(model, comic_lr, 2, tile=40, tile_overlap=16, batch_size=3)
    assert _psnr_float(tiled, whole) > 50
    np.testing.assert_allclose(tiled, whole, atol=1e-4)
    # Without overlap the seams show (tiles lack context at their borders): the test above could fail.
    seams = super_resolve(model, comic_lr, 2, tile=40, tile_overlap=0)
    assert np.abs(seams - whole).max() > 1e-2 > 100 * np.abs(tiled - whole).max()


def test_tile_larger_than_image_is_whole_image(comic_lr):
    model = _small_rdn()
    whole = super_resolve(model, comic_lr, 2)
    np.testing.assert_array_equal(super_resolve(model, comic_lr, 2, tile=500), whole)


def test_axis_plan_covers_with_unit_weight():
    # Linear ramps of neighbours sum to 1 where cores are at least ``ov`` long; with a wider overlap
    # they overlap each other and super_resolve divides by the weight sum, which must stay positive.
    for n, out_n, tile, ov in [(125, 250, 40, 16), (181, 724, 32, 8), (50, 125, 7, 4), (97, 194, 10, 30)]:
        plan = _axis_plan(n, out_n, tile, ov)
        total = np.zeros(out_n)
        lengths = set()
        for i0, i1, o0, o1, w in plan:
            assert 0 <= i0 < i1 <= n and o1 - o0 == len(w)
            assert (o0, o1) == (i0 * out_n // n, i1 * out_n // n)  # each window maps exactly onto the grid
            total[o0:o1] += w
            lengths.add(i1 - i0)
        assert len(lengths) == 1  # equal windows, so tiles can be batched
        if ov <= tile:
            np.testing.assert_allclose(total, 1.0, atol=1e-6)
        else:
            assert total.min() > 0.2


class _SymmetricModel(SRModel):
    """Nearest upsampling + a 3x3 conv with a dihedrally symmetric kernel: flip/rot90 equivariant."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale
        k = np.array([[0.05, 0.1, 0.05], [0.1, 0.4, 0.1], [0.05, 0.1, 0.05]], np.float32)
        self.conv = nn.Conv2D(3, 3, 3, padding=1, bias_attr=False)
        self.conv.weight.set_value(np.einsum("ij,kl->ijkl", np.eye(3, dtype=np.float32), k))

    def forward_native(self, x):
        return self.conv(F.interpolate(x, scale_factor=self.scale, mode="nearest"))


def test_self_ensemble_of_equivariant_model_is_plain_output():
    lr = np.random.RandomState(0).randint(0, 256, size=(23, 31, 3)).astype(np.uint8)
    model = _SymmetricModel(3)
    plain = super_resolve(model, lr, 3)
    np.testing.assert_allclose(super_resolve(model, lr, 3, self_ensemble=True), plain, atol=1e-6)


def test_self_ensemble_averages_the_inverse_transformed_outputs():
    lr = np.random.RandomState(1).randint(0, 256, size=(20, 27, 3)).astype(np.uint8)
    model = _small_rdn()
    runs = []
    for flip in (False, True):
        for k in range(4):
            t = np.rot90(np.flip(lr, 1) if flip else lr, k).copy()
            y = np.rot90(super_resolve(model, t, 2), -k)
            runs.append(np.flip(y, 1) if flip else y)
    ens = super_resolve(model, lr, 2, self_ensemble=True)
    np.testing.assert_allclose(ens, np.mean(runs, axis=0), atol=1e-5)
    assert np.abs(ens - super_resolve(model, lr, 2)).max() > 1e-3  # not equivariant: the average differs
    tiled = super_resolve(model, lr, 2, self_ensemble=True, tile=8, tile_overlap=16)
    np.testing.assert_allclose(tiled, ens, atol=1e-4)


class _RenderModel(SRModel):
    """A LIIF-like arbitrary-scale model: encoder conv, bilinear query at output pixel centres, HR conv."""

    def __init__(self):
        super().__init__()
        paddle.seed(1)
        self.enc = nn.Conv2D(3, 8, 3, padding=1)
        self.dec = nn.Conv2D(8, 3, 3, padding=1)
        self.scale = None

    def render(self, lr, out_size):
        feat = self.enc(self.to_native(lr))
        return self.from_native(self.dec(F.interpolate(feat, size=list(out_size), mode="bilinear",
                                                       align_corners=False)))


@pytest.mark.parametrize("scale,out_size", [(2.5, None), (1.5, None), (None, (76, 69))])
def test_render_model_tiles_at_non_integer_scale(scale, out_size):
    lr = np.random.RandomState(2).randint(0, 256, size=(38, 46, 3)).astype(np.uint8)
    model = _RenderModel()
    whole = super_resolve(model, lr, scale, out_size=out_size)
    expected = out_size or (round(38 * scale), round(46 * scale))
    assert whole.shape[:2] == tuple(expected)
    tiled = super_resolve(model, lr, scale, out_size=out_size, tile=12, tile_overlap=8, batch_size=2)
    assert _psnr_float(tiled, whole) > 50


def test_wrong_scale_and_mode_restored():
    model = _small_rdn()
    model.train()
    lr = np.zeros((10, 12, 3), np.uint8)
    with pytest.raises(SRError, match="--scale"):
        super_resolve(model, lr, 4)
    assert model.training
    super_resolve(model, lr, 2)
    assert model.training


def _small_liif():
    paddle.seed(3)
    return create("liif", scale=2.5, encoder_kwargs={"num_features": 8, "num_blocks": 1, "num_layers": 2,
                                                     "growth_rate": 4}, hidden_list=(16, 16))


@pytest.mark.parametrize("lr_hw,scale,out_size", [((60, 46), 2.5, None), ((47, 53), None, (113, 127))])
def test_liif_tiles_its_encoder(lr_hw, scale, out_size):
    # x2.5 on even sizes tiles on an aligned grid (p = 2); 47x53 -> 113x127 has no common factor, so the
    # tiles are cut on the pixel grid and queried at the whole image's output coordinates.
    lr = np.random.RandomState(4).randint(0, 256, size=lr_hw + (3,)).astype(np.uint8)
    model = _small_liif()
    whole = super_resolve(model, lr, scale, out_size=out_size)
    out_hw = out_size or (150, 115)
    assert whole.shape[:2] == out_hw
    assert len(_axis_plan(lr_hw[0], out_hw[0], 10, 16, align=scale is not None)) > 1
    tiled = super_resolve(model, lr, scale, out_size=out_size, tile=10, tile_overlap=16)
    assert _psnr_float(tiled, whole) > 50


def test_output_size_is_checked():
    model = _SymmetricModel(3)  # no sr_scale: the output shape reveals the mismatch
    with pytest.raises(SRError, match="was it built for this --scale"):
        super_resolve(model, np.zeros((8, 9, 3), np.uint8), 2)
