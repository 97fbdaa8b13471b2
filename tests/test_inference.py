"""Tiled vs whole-image inference, self-ensemble, arbitrary-scale (render) models."""
import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest

from paddle_sr.core.errors import SRError
from paddle_sr.image.imresize import imresize
from paddle_sr.runtime.facts import model_facts
from paddle_sr.runtime import tiling as inference
from paddle_sr import models
from paddle_sr.image.io import to_uint8
from paddle_sr.runtime.tiling import _axis_plan, default_overlap, plan_tile, super_resolve
from paddle_sr.image.metrics import psnr
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
    from paddle_sr.image.io import load_image
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


# --- Automatic tiling, default overlaps, too-small images (issue 11) ---

# Reduced configurations (as tests/test_export.py): the same layer types, so default_overlap's probe
# (one poked LR pixel) runs the same mechanism as on the full model, only on a shallower network.
from tiny import SMALL  # noqa: E402  (the one table of reduced settings)
# Measured max |tiled - whole| in grey levels (uint8) where 1 is not reached (module docstring).
BOUND = {}


def _image_like(name, lr):
    """Model ``name`` (reduced) whose output on ``lr`` spans about the image range, so grey levels mean something."""
    paddle.seed(0)
    scale = 2 if 2 in (models.scales(name) or (2,)) else models.scales(name)[0]
    model = create(name, scale=scale, **SMALL.get(name, {}))
    model.eval()
    x = paddle.to_tensor(lr.transpose(2, 0, 1)[None].astype("float32") / 127.5 - 1)
    with paddle.no_grad():
        out = model(x).numpy()
    last = [l for l in model.sublayers() if isinstance(l, (nn.Conv2D, nn.Linear)) and not l.weight.stop_gradient][-1]
    spread = float(np.abs(out - out.mean()).max())
    if spread > 1e-3:  # a random network can be almost flat (or far too bright): rescale its last layer
        last.weight.set_value(last.weight * (0.8 / spread))
    return model, scale


@pytest.mark.parametrize("name", models.names())
def test_tiled_with_default_overlap_matches_whole(name, comic_lr):
    lr = comic_lr[40:80, 20:56]  # 40x36, three tiles of 16 a side
    model, scale = _image_like(name, lr)
    whole = super_resolve(model, lr, scale)
    ov = default_overlap(model)
    assert 2 <= ov <= 50
    tiled = super_resolve(model, lr, scale, tile=16)  # tile_overlap=None: the model's default
    diff = np.abs(to_uint8(tiled).astype(int) - to_uint8(whole).astype(int)).max()
    assert diff <= BOUND.get(name, 1), f"{name}: overlap {ov}, max difference {diff} grey levels"


def test_auto_tiling_follows_memory_budget(comic_lr, monkeypatch):
    model = _small_rdn()
    whole = super_resolve(model, comic_lr, 2)
    assert plan_tile(model, comic_lr.shape[:2], (360, 250)) is None  # fits: bit-identical to before
    tile = plan_tile(model, comic_lr.shape[:2], (360, 250), max_memory_mb=20)
    assert tile is not None and tile < 180
    calls = []
    tiled = super_resolve(model, comic_lr, 2, max_memory_mb=20, progress=lambda d, t: calls.append((d, t)))
    assert len(calls) > 1 and calls[-1][0] == calls[-1][1] == len(calls)
    np.testing.assert_allclose(tiled, whole, atol=1e-4)
    monkeypatch.setenv("PADDLE_SR_MAX_MEMORY_MB", "20")
    assert inference.memory_budget_mb() == 20 and plan_tile(model, comic_lr.shape[:2], (360, 250)) == tile
    assert inference.memory_budget_mb(30) == 30


def test_auto_tiling_follows_im2col_limit(comic_lr, monkeypatch):
    model = _small_rdn()
    facts = model_facts(model)
    # The largest conv in this RDN: a 3x3 conv over the 8 + 2 * 4 = 16 concatenated channels at LR.
    assert facts.col_per_px == 16 * 9
    monkeypatch.setattr(inference, "IM2COL_LIMIT", 144 * 60 * 60)
    tile = plan_tile(model, comic_lr.shape[:2], (360, 250), max_memory_mb=10 ** 6)
    ov = default_overlap(model)
    assert tile is not None and (tile + 2 * ov) ** 2 <= 3600 < (tile + 1 + 2 * ov) ** 2


def test_srresnet_x4_plan_keeps_every_conv_under_2_31():
    # The issue's SIGSEGV: a 200x200 photo at x4, whose 9x9 64-channel tail conv at 800x800 would
    # need an im2col buffer of 64 * 81 * 800 * 800 = 3.3e9 > 2^31 elements.
    paddle.seed(0)
    model = create("srresnet", scale=4)
    facts = model_facts(model)
    assert facts.col_per_px == 64 * 81 * 16
    tile, ov = inference._plan(model, (200, 200), (800, 800), None, None, 1)
    assert tile is not None
    window = min(tile + 2 * ov, 200)
    assert window ** 2 * facts.col_per_px < 2 ** 31 / 2


@pytest.mark.parametrize("name,hw,least", [("rlfn_ntire", (8, 8), 11), ("rlfn", (10, 40), 11), ("espcn", (1, 5), 2),
                                           ("lapsrn", (7, 1), 2), ("drrn", (1, 1), 2), ("swinir_light", (3, 9), 4)])
def test_too_small_image_is_a_clear_error(name, hw, least):
    model = create(name, scale=4, **SMALL.get(name, {}))
    with pytest.raises(SRError) as e:
        super_resolve(model, np.zeros(hw + (3,), np.uint8), 4)
    msg = str(e.value)
    assert f"{hw[0]}x{hw[1]}" in msg and name in msg and f"at least {least}x{least}" in msg
    assert super_resolve(model, np.zeros((least, least + 3, 3), np.uint8), 4).shape == (4 * least, 4 * least + 12, 3)


def test_tile_smaller_than_model_takes_is_a_clear_error():
    model = create("rlfn_ntire", scale=2)
    with pytest.raises(SRError, match="tile 4x4 is smaller than rlfn_ntire"):
        super_resolve(model, np.zeros((30, 30, 3), np.uint8), 2, tile=2, tile_overlap=1)


def test_rlfn_official_tiled_bound_is_the_measured_one(shared, tmp_path):
    # RLFN's ESA interpolates a pooled map to the input size: tiles cannot match exactly (module
    # docstring). Measured with the official RLFN_ntire x4 weights on barbara: 12 grey levels at most,
    # on 0.5 % of the values; the default auto plan does not tile an image this small at all.
    from paddle_sr.convert import convert
    from paddle_sr.image.io import load_image
    model = convert("rlfn_ntire", 4, shared / "weights" / "rlfn" / "rlfn_ntire_x4.pth", tmp_path / "w.pdparams")
    lr = imresize(load_image(shared / "benchmarks" / "Set14" / "HR" / "barbara.png"), 1 / 4)
    assert plan_tile(model, lr.shape[:2], (4 * lr.shape[0], 4 * lr.shape[1])) is None
    whole = to_uint8(super_resolve(model, lr, 4)).astype(int)
    diff = np.abs(to_uint8(super_resolve(model, lr, 4, tile=48)).astype(int) - whole)
    assert diff.max() <= 12 and (diff > 1).mean() < 0.006


# --- issue 20: no MKL noise from the size probe; a user's wrapper without sr_scale at x3/x4 ---

def test_small_image_prints_no_mkl_error(tmp_path):
    # min_side's tiny forwards (1x1 LR) once called MKL's sgemm with a negative size in RLFN's ESA (3x3,
    # stride 2, no padding), which printed "Intel MKL ERROR: Parameter 11 was incorrect on entry to
    # cblas_sgemm" on stdout from C, on every image under 32 px and in the notebooks' training logs.
    import os
    import subprocess
    import sys
    from pathlib import Path

    from PIL import Image

    paddle.seed(0)
    weights = tmp_path / "rlfn_ntire_x2.pdparams"
    paddle.save(create("rlfn_ntire", scale=2).state_dict(), str(weights))
    Image.fromarray(np.random.RandomState(0).randint(0, 256, (20, 24, 3)).astype(np.uint8)).save(tmp_path / "a.png")
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-m", "paddle_sr.predict", str(tmp_path / "a.png"), "--model", "rlfn_ntire",
                        "--scale", "2", "--weights", str(weights), "--out", str(tmp_path / "out"), "--quiet",
                        "--engine", "eager"],
                       cwd=root, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "out" / "a_x2.png").size == (48, 40)
    assert "MKL" not in r.stdout + r.stderr


class _Wrapper(nn.Layer):
    """A user's own wrapper: no sr_name, no sr_scale, forward delegates."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


@pytest.mark.parametrize("scale", [3, 4])
def test_a_wrapper_without_sr_scale_tiles_at_its_scale(scale, comic_lr):
    # The overlap probe assumed x2 for a model without sr_scale and failed with "was it built for this
    # --scale?" at x3/x4 although the caller passed the scale.
    paddle.seed(0)
    inner = create("rlfn_ntire", scale=scale)
    model = _Wrapper(inner)
    lr = comic_lr[:40, :36]
    tiled = super_resolve(model, lr, scale, tile=16, engine="eager")
    assert tiled.shape == (40 * scale, 36 * scale, 3)
    assert default_overlap(model) == default_overlap(inner)  # the same radius as the model it wraps


def test_evaluate_takes_a_wrapper_without_sr_scale_at_x3(comic_lr, tmp_path):
    from PIL import Image

    from paddle_sr.evaluate import evaluate

    folder = tmp_path / "One" / "HR"
    folder.mkdir(parents=True)
    Image.fromarray(comic_lr[:96, :90]).save(folder / "comic.png")
    paddle.seed(0)
    res = evaluate(_Wrapper(create("rlfn_ntire", scale=3)), 3, [str(folder.parent)], tile=16, progress=False,
                   engine="eager")
    assert res["One"]["images"]["comic"]["psnr"] > 0 and res["protocol"]["tile_overlap"] > 0
