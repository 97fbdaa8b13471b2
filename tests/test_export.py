"""Every registered model exports with dynamic H/W and the exported graph equals eager.

Checked three ways: ``paddle.jit.load``, the Paddle Inference predictor with Paddle's own CPU
kernels, and the predictor with oneDNN (the deployment default). Tolerances are on the 0-255
scale; random weights are rescaled (last trainable layer) so outputs are image-like, because an
absolute tolerance means nothing on the +-3e4 outputs some randomly initialised models produce.
"""
import json

import numpy as np
import paddle
import pytest

from paddle_sr import models
from paddle_sr.runtime.export_format import META_FILE, model_files
from paddle_sr.runtime.predictor import InferenceEngine
from paddle_sr.core.errors import SRError
from paddle_sr.export import export, main
from paddle_sr.runtime.tiling import super_resolve

# Reduced configurations where the full model would make export/run slow; others are full size.
from tiny import SMALL  # noqa: E402  (the one table of reduced settings)
TOL = 1e-3  # max abs difference, 0-255 scale


def _image_like(model, x):
    """Scale the last trainable layer so the model's output on ``x`` is within about [-1, 1]."""
    with paddle.no_grad():
        peak = float(model(paddle.to_tensor(x)).abs().max())
    last = [l for l in model.sublayers() if getattr(l, "weight", None) is not None and not l.weight.stop_gradient][-1]
    last.weight.set_value(last.weight / peak)
    if getattr(last, "bias", None) is not None:
        last.bias.set_value(last.bias / peak)


def _case(name):
    scale = (models.scales(name) or (3,))[0]
    paddle.seed(0)
    model = models.create(name, scale=scale, **SMALL.get(name, {}))
    model.eval()
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 17, 23)).astype("float32")  # RLFN's ESA needs >= 15
    _image_like(model, x)
    return model, scale


@pytest.mark.parametrize("name", models.names())
def test_exported_equals_eager(name, tmp_path):
    model, scale = _case(name)
    export(model, tmp_path / "exp", name=name, scale=scale)
    meta = json.loads((tmp_path / "exp" / META_FILE).read_text())
    assert meta["model"] == name and meta["scale"] == scale
    loaded = paddle.jit.load(str(tmp_path / "exp" / "model"))
    plain = InferenceEngine(tmp_path / "exp", device="cpu", mkldnn=False)
    onednn = InferenceEngine(tmp_path / "exp", device="cpu", mkldnn=True)
    for shape in ((1, 3, 17, 23), (2, 3, 20, 16)):  # dynamic batch, height and width
        x = np.random.default_rng(1).uniform(-1, 1, shape).astype("float32")
        with paddle.no_grad():
            ref = model(paddle.to_tensor(x)).numpy()
        assert ref.shape == (shape[0], 3, round(shape[2] * scale), round(shape[3] * scale))
        assert 0.05 < np.abs(ref).max() < 3  # image-like, so the 0-255 tolerance is meaningful
        for label, out in (("jit.load", loaded(paddle.to_tensor(x)).numpy()), ("predictor", plain(x)),
                           ("oneDNN predictor", onednn(x))):
            assert out.shape == ref.shape, label
            assert np.abs(out - ref).max() * 127.5 < TOL, label


def test_liif_exports_non_integer_scale(tmp_path):
    # The graph computes round(H * s) from the dynamic input shape: Python's half-to-even round in
    # float64, like eager (5 x 2.5 = 12.5 -> 12, 7 x 2.5 = 17.5 -> 18, 25 x 2.3 = 57.4999... -> 57).
    paddle.seed(0)
    model = models.create("liif_edsr_baseline", scale=2.5, **SMALL["liif_edsr_baseline"])
    model.eval()
    _image_like(model, np.random.default_rng(0).uniform(-1, 1, (1, 3, 10, 12)).astype("float32"))
    for scale, shape, out_hw in ((2.5, (1, 3, 5, 7), (12, 18)), (2.3, (1, 3, 25, 4), (57, 9))):
        model.scale = scale
        export(model, tmp_path / str(scale))
        loaded = paddle.jit.load(str(tmp_path / str(scale) / "model"))
        x = np.random.default_rng(4).uniform(-1, 1, shape).astype("float32")
        with paddle.no_grad():
            ref = model(paddle.to_tensor(x)).numpy()
            out = loaded(paddle.to_tensor(x)).numpy()
        assert ref.shape[-2:] == out.shape[-2:] == out_hw
        assert np.abs(out - ref).max() * 127.5 < TOL


def test_export_leaves_model_eager(tmp_path):
    model, _ = _case("rlfn_ntire")
    export(model, tmp_path / "a")
    assert "forward" not in vars(model)  # the static forward is not left on the instance
    x = paddle.to_tensor(np.zeros((1, 3, 16, 16), "float32"))
    with paddle.no_grad():
        assert model(x).shape == [1, 3, 32, 32]  # x2: first supported scale


def test_official_rlfn_ntire_onednn_close_to_eager(shared, tmp_path):
    from paddle_sr.convert import convert
    from paddle_sr.image.io import load_image, to_tensor_range
    from paddle_sr.image.imresize import imresize

    model = convert("rlfn_ntire", 4, shared / "weights" / "rlfn" / "rlfn_ntire_x4.pth", tmp_path / "w.pdparams")
    main(["--model", "rlfn_ntire", "--scale", "4", "--weights", str(tmp_path / "w.pdparams"),
          "--out", str(tmp_path / "exp")])
    hr = load_image(shared / "benchmarks" / "Set14" / "HR" / "baboon.png")
    x = to_tensor_range(imresize(hr[:192, :192], 1 / 4))[None]
    model.eval()
    with paddle.no_grad():
        ref = model(paddle.to_tensor(x)).numpy()
    engine = InferenceEngine(tmp_path / "exp", device="cpu")
    assert engine.sr_name == "rlfn_ntire" and engine.sr_scale == 4
    assert np.abs(engine(x) - ref).max() * 127.5 < TOL


def test_engine_inside_tiled_inference(tmp_path):
    # Small RDN (receptive radius ~8.5 LR px): tiles with overlap 16 reproduce the whole image.
    model, _ = _case("rdn")
    export(model, tmp_path / "exp", name="rdn", scale=2)
    engine = InferenceEngine(tmp_path / "exp", device="cpu")
    lr = (np.random.default_rng(2).uniform(0, 255, (40, 52, 3))).astype(np.uint8)
    whole_eager = super_resolve(model, lr, 2)
    tiled_engine = super_resolve(engine, lr, 2, tile=16, tile_overlap=16)
    assert tiled_engine.shape == (80, 104, 3)
    assert np.abs(tiled_engine - whole_eager).max() * 127.5 < TOL


def test_errors(tmp_path):
    with pytest.raises(SRError, match="no exported model"):
        model_files(tmp_path)
    with pytest.raises(SRError, match="does not exist"):
        main(["--model", "rlfn_ntire", "--weights", str(tmp_path / "missing.pdparams"), "--out", str(tmp_path / "o")])
    with pytest.raises(SRError, match="unknown model"):
        main(["--model", "nope", "--weights", "w", "--out", str(tmp_path / "o")])


def test_engine_from_model_matches_eager():
    model, scale = _case("rlfn_ntire")
    engine = InferenceEngine.from_model(model, device="cpu")
    assert engine.sr_name == "rlfn_ntire" and engine.sr_scale == scale
    lr = (np.random.default_rng(3).uniform(0, 255, (24, 30, 3))).astype(np.uint8)
    assert np.abs(super_resolve(engine, lr, scale) - super_resolve(model, lr, scale)).max() * 127.5 < TOL
