"""show_image: panels, scores in the titles equal to paddle_sr.metrics, clipping, PNG, weights files."""
import re

import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_sr import data as D
from paddle_sr import models
from paddle_sr.core.files import atomic_save
from paddle_sr.core.errors import SRError
from paddle_sr.image.imresize import imresize
from paddle_sr.runtime.tiling import super_resolve
from paddle_sr.image.io import load_image, to_uint8
from paddle_sr.image.metrics import psnr, ssim
from paddle_sr.runtime import scoring
from paddle_sr.apps.viz import show_image


class Constant(paddle.nn.Layer):
    """Nearest upscaling plus an offset: outputs far outside [-1, 1] when the offset is large."""

    def __init__(self, scale, offset):
        super().__init__()
        self.scale, self.offset = scale, offset

    def forward(self, x):
        return paddle.nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest") * 0.0 + self.offset


@pytest.fixture(scope="module")
def hr():
    return D.embedded_images("val")[0][1][60:124, 180:248]  # 64x68 piece of chelsea


def _scores(title):
    m = re.search(r"PSNR ([\d.]+) dB / SSIM ([\d.]+)", title)
    return (float(m.group(1)), float(m.group(2))) if m else None


def test_panels_scores_and_png(hr, tmp_path):
    paddle.seed(0)
    net = models.create("rlfn_ntire", scale=4)
    weights = tmp_path / "Best.pdparams"
    atomic_save(net.state_dict(), weights)
    out = tmp_path / "fig" / "compare.png"
    fig = show_image(hr=hr, models={"mine": net, "rlfn_ntire": str(weights),
                                    "tuple": ("rlfn_ntire", 4, str(weights))},
                     scale=4, save=out, show=False)
    assert out.is_file()
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > im.size[1]
    axes = fig.axes
    assert len(axes) == 6  # LR, bicubic, 3 models, HR
    titles = [a.get_title() for a in axes]
    assert titles[0].startswith("LR") and titles[1].startswith("Bicubic") and titles[-1] == "HR"
    assert _scores(titles[0]) is None and _scores(titles[-1]) is None

    hr4 = D.modcrop(hr, 4)
    lr = imresize(hr4, 0.25)
    bic = imresize(lr, 4)
    assert _scores(titles[1]) == (round(psnr(bic, hr4, 4), 2), round(ssim(bic, hr4, 4), 4))
    sr = to_uint8(super_resolve(net, lr, 4).transpose(2, 0, 1))  # the scoring step's rounding
    expect = (round(psnr(sr, hr4, 4), 2), round(ssim(sr, hr4, 4), 4))
    for j in (2, 3, 4):  # the same weights three ways: layer, Best.pdparams, (name, scale, path)
        assert _scores(titles[j]) == expect
        assert np.array_equal(np.asarray(axes[j].images[0].get_array()), sr)
    assert np.array_equal(np.asarray(axes[-1].images[0].get_array()), hr4)


def test_out_of_range_sr_saturates(hr):
    fig = show_image(hr=hr, models={"hot": Constant(4, 1.7), "cold": Constant(4, -1.3)}, scale=4, show=False)
    hot = np.asarray(fig.axes[2].images[0].get_array())
    cold = np.asarray(fig.axes[3].images[0].get_array())
    assert hot.dtype == np.uint8 and (hot == 255).all()  # the notebooks' np.uint8 wrapped 1.7 to 88
    assert (cold == 0).all()


def test_crop_row_lr_only_and_errors(hr, tmp_path):
    fig = show_image(hr=hr, models=Constant(2, 0.0), scale=2, crop=(8, 10, 20, 24), lr_panel="bicubic", show=False)
    assert len(fig.axes) == 8  # two rows of LR, bicubic, SR, HR
    zoom = fig.axes[5]
    assert zoom.get_xlim() == (10, 34) and zoom.get_ylim() == (28, 8)
    lr_only = show_image(lr=hr[:20, :20], scale=3, show=False)
    assert len(lr_only.axes) == 2 and all(_scores(a.get_title()) is None for a in lr_only.axes)
    Image.fromarray(hr).convert("L").save(tmp_path / "gray.png")
    assert len(show_image(path=tmp_path / "gray.png", scale=4, show=False).axes) == 3
    with pytest.raises(SRError, match="built for x4 but the figure is x2"):
        show_image(hr=hr, models={"x": models.create("rlfn_ntire", scale=4)}, scale=2, show=False)
    with pytest.raises(SRError, match="cannot tell which model"):
        show_image(hr=hr, models={"my run": str(tmp_path / "Best.pdparams")}, scale=4, show=False)
    with pytest.raises(SRError, match="does not exist"):
        show_image(hr=hr, models={"rlfn_ntire": str(tmp_path / "missing.pdparams")}, scale=4, show=False)
    with pytest.raises(SRError, match="leaves the"):
        show_image(hr=hr, scale=4, crop=(60, 0, 30, 30), show=False)


def test_scores_are_the_scoring_steps(hr, tmp_path):
    """A real tiny model and a real image file: every score in the titles and every SR panel is exactly
    ``scoring.score_image``'s (the one scoring step ``evaluate`` uses)."""
    Image.fromarray(hr).save(tmp_path / "piece.png")
    paddle.seed(3)
    net = models.create("espcn", scale=4)
    fig = show_image(path=tmp_path / "piece.png", models={"espcn": net}, scale=4, show=False)
    hr4 = D.modcrop(load_image(tmp_path / "piece.png"), 4)
    lr = imresize(hr4, 0.25)
    for j, (title, model) in ((1, ("Bicubic", None)), (2, ("espcn", net))):
        sr, p, s = scoring.score_image(model, lr, hr4, 4)
        assert fig.axes[j].get_title() == f"{title}\nPSNR {p:.2f} dB / SSIM {s:.4f}"
        assert np.array_equal(np.asarray(fig.axes[j].images[0].get_array()), sr)


class HalfSteps(paddle.nn.Layer):
    """Outputs, tiled over the SR image, every float32 value v with (v + 1) * 127.5 at a .5 boundary
    (k + 0.5, k = 0..254) and its float32 neighbours on either side."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale
        v = ((2 * np.arange(255) + 1) / 255.0 - 1).astype(np.float32)
        self.values = np.concatenate([v, np.nextafter(v, np.float32(2)), np.nextafter(v, np.float32(-2))])

    def forward(self, x):
        h, w = x.shape[2] * self.scale, x.shape[3] * self.scale
        out = np.resize(self.values, 3 * h * w).reshape(1, 3, h, w)
        return paddle.to_tensor(out) + x[:, :, :1, :1] * 0.0


def test_sr_rounding_is_the_scoring_steps_at_half_steps(hr):
    model = HalfSteps(4)
    values = model.values
    # float64 rounding (show_image's old own) and the scoring step's disagree on some of these values
    old = np.clip(np.round((values.astype(np.float64) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    assert (old != to_uint8(values.reshape(1, 1, -1))[0, :, 0]).any()
    fig = show_image(hr=hr, models={"half": model}, scale=4, show=False)
    hr4 = D.modcrop(hr, 4)
    sr, p, s = scoring.score_image(model, imresize(hr4, 0.25), hr4, 4)
    assert np.array_equal(np.asarray(fig.axes[2].images[0].get_array()), sr)
    assert fig.axes[2].get_title() == f"half\nPSNR {p:.2f} dB / SSIM {s:.4f}"
    lr_only = show_image(lr=imresize(hr4, 0.25), models={"half": model}, scale=4, show=False)
    assert np.array_equal(np.asarray(lr_only.axes[2].images[0].get_array()), sr)
