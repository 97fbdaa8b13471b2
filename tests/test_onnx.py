"""ONNX export (paddle2onnx) and the onnxruntime engine: real exports, real ONNX files, real sessions.

Every registered model either exports with dynamic N/H/W and ONNX Runtime float32 equals eager within
the Paddle Inference tolerance of ``tests/test_export.py`` (1e-3 on 0-255), or is refused with one
SRError, and the refusal is still needed (the conversion or the session really fails without it).
"""
import json
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("paddle2onnx")

from paddle_sr.runtime import engines as C  # noqa: E402
from paddle_sr import models  # noqa: E402
from paddle_sr.runtime import onnx_export as OE  # noqa: E402
from paddle_sr.runtime.export_format import META_FILE  # noqa: E402
from paddle_sr.core.errors import SRError  # noqa: E402
from paddle_sr.runtime.tiling import super_resolve  # noqa: E402
from paddle_sr.runtime.onnx_engine import OnnxEngine  # noqa: E402
from test_export import TOL, _case  # noqa: E402  (same reduced models, same tolerance as Paddle Inference)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFUSED = {"liif", "liif_edsr_baseline", "san", "ignn"}


@pytest.mark.parametrize("name", models.names())
def test_onnx_equals_eager_or_is_refused(name, tmp_path, monkeypatch):
    model, scale = _case(name)
    path = tmp_path / f"{name}.onnx"
    if name in REFUSED:
        with pytest.raises(SRError, match="cannot be exported to ONNX.*--format paddle"):
            OE.export_onnx(model, path, name=name, scale=scale)
        assert not path.exists()
        monkeypatch.setattr(OE, "onnx_refusal", lambda m: None)  # without the refusal it really fails
        with pytest.raises(Exception):
            OnnxEngine(OE.export_onnx(model, path, name=name, scale=scale)).run(
                np.zeros((1, 3, 17, 23), np.float32))
        return
    OE.export_onnx(model, path, name=name, scale=scale)
    if name == "rlfn":
        from paddle_sr.export import export
        export(model, tmp_path / "paddle", name=name, scale=scale)
    meta = OE.read_onnx_meta(path)
    assert meta["model"] == name and meta["scale"] == str(scale)
    assert meta["fingerprint"] == C.fingerprint(model)
    assert meta["input"].startswith("NCHW float32 in [-1, 1]") and meta["output"] == "NCHW float32 in [-1, 1]"
    vr = getattr(model, "value_range", None)
    assert meta["weights_range"] == (",".join(f"{float(v):g}" for v in vr.numpy()) if vr is not None else "-1,1")
    paddle_meta = json.loads((tmp_path / "paddle" / META_FILE).read_text()) if name == "rlfn" else None
    if name == "rlfn":  # the Paddle export of the same weights says the same
        assert {k: paddle_meta[k] for k in ("model", "weights_range", "fingerprint")} == \
            {k: meta[k] for k in ("model", "weights_range", "fingerprint")}
    engine = OnnxEngine(path)
    assert (engine.sr_name, engine.sr_scale) == (name, scale)
    for shape in ((1, 3, 17, 23), (2, 3, 20, 16)):  # dynamic batch, height and width
        x = np.random.default_rng(1).uniform(-1, 1, shape).astype("float32")
        with paddle.no_grad():
            ref = model(paddle.to_tensor(x)).numpy()
        out = engine(x)
        assert out.shape == ref.shape == (shape[0], 3, round(shape[2] * scale), round(shape[3] * scale))
        assert 0.05 < np.abs(ref).max() < 3
        assert np.abs(out - ref).max() * 127.5 < TOL


def test_onnx_engine_in_super_resolve_with_tiles():
    # Small RDN (receptive radius ~8.5 LR px): onnxruntime tiles with overlap 16 reproduce eager's whole image.
    model, scale = _case("rdn")
    lr = np.random.default_rng(2).uniform(0, 255, (40, 52, 3)).astype(np.uint8)
    whole = super_resolve(model, lr, scale, engine="eager")
    tiled = super_resolve(model, lr, scale, tile=16, tile_overlap=16, engine="onnxruntime")
    assert C.chosen(model) == "onnxruntime"
    assert isinstance(C.engine_for(model, "onnxruntime"), OnnxEngine)
    assert tiled.shape == whole.shape == (80, 104, 3)
    assert np.abs(tiled - whole).max() * 127.5 < TOL
    with pytest.raises(SRError, match="engine onnxruntime: liif.*cannot be exported to ONNX"):
        super_resolve(_case("liif")[0], lr[:20, :20], 2, engine="onnxruntime")


def _cli(args, tmp_path, block=None):
    """``python -m ...`` from the checkout, optionally with ``import <block>`` failing (a meta-path blocker)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if block:
        site = tmp_path / "blocker"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(
            "import sys\n"
            "class _Block:\n"
            f"    names = {tuple(block)!r}\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in self.names:\n"
            "            raise ImportError(f'{name} blocked by the test')\n"
            "sys.meta_path.insert(0, _Block())\n")
        env["PYTHONPATH"] = str(site) + os.pathsep + env["PYTHONPATH"]
    return subprocess.run([sys.executable, "-m"] + args, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def _weights(tmp_path, name, scale, **kw):
    paddle.seed(0)
    model = models.create(name, scale=scale, **kw)
    path = tmp_path / f"{name}_x{scale}.pdparams"
    paddle.save(model.state_dict(), str(path))
    return model, path


def test_cli_export_onnx_and_bad_inputs(tmp_path):
    model, w = _weights(tmp_path, "espcn", 4)
    out = tmp_path / "espcn_x4.onnx"
    r = _cli(["paddle_sr.export", "--format", "onnx", "--model", "espcn", "--scale", "4", "--weights", str(w),
              "--out", str(out)], tmp_path)
    assert r.returncode == 0, r.stderr
    meta = OE.read_onnx_meta(out)
    model.eval()
    assert meta["model"] == "espcn" and meta["scale"] == "4" and meta["fingerprint"] == C.fingerprint(model)

    img = tmp_path / "in.png"
    from PIL import Image
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(img)
    # An ONNX file of another model: one line, exit 2.
    r = _cli(["paddle_sr.predict", str(img), "--model", "rlfn_ntire", "--scale", "4", "--weights", str(out),
              "--out", str(tmp_path / "sr"), "--quiet"], tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "was exported from espcn x4, not rlfn_ntire x4" in r.stderr
    # The right model runs it and writes the image.
    r = _cli(["paddle_sr.predict", str(img), "--model", "espcn", "--scale", "4", "--weights", str(out),
              "--out", str(tmp_path / "sr"), "--quiet"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path / "sr" / "in_x4.png").size == (96, 80)
    # A model that cannot be exported.
    _, lw = _weights(tmp_path, "san", 2, n_resgroups=1, n_resblocks=1, n_feats=16, reduction=4)
    r = _cli(["paddle_sr.export", "--format", "onnx", "--model", "san", "--scale", "2", "--weights", str(lw),
              "--arg", "n_resgroups=1", "--arg", "n_resblocks=1", "--arg", "n_feats=16", "--arg", "reduction=4",
              "--out", str(tmp_path / "san.onnx")], tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "san cannot be exported to ONNX" in r.stderr
    assert not (tmp_path / "san.onnx").exists()
    # --out that is not an .onnx file.
    r = _cli(["paddle_sr.export", "--format", "onnx", "--model", "espcn", "--scale", "4", "--weights", str(w),
              "--out", str(tmp_path / "folder")], tmp_path)
    assert r.returncode == 2 and "path ending in .onnx" in r.stderr
    # onnxruntime missing: --engine onnxruntime says how to install it (and paddle2onnx missing for export).
    r = _cli(["paddle_sr.predict", str(img), "--model", "espcn", "--scale", "4", "--weights", str(w),
              "--engine", "onnxruntime", "--out", str(tmp_path / "sr2"), "--quiet"], tmp_path, block=["onnxruntime"])
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "needs onnxruntime, which is not installed; pip install onnxruntime" in r.stderr
    r = _cli(["paddle_sr.export", "--format", "onnx", "--model", "espcn", "--scale", "4", "--weights", str(w),
              "--out", str(tmp_path / "x.onnx")], tmp_path, block=["paddle2onnx"])
    assert r.returncode == 2 and "needs the paddle2onnx package" in r.stderr


def test_onnx_engine_checks_the_file(tmp_path):
    model, scale = _case("espcn")
    path = OE.export_onnx(model, tmp_path / "e.onnx", name="espcn", scale=scale)
    with pytest.raises(SRError, match="exported from espcn x2, not espcn x3"):
        OnnxEngine(path, expect=("espcn", 3))
    with pytest.raises(SRError, match="does not exist"):
        OnnxEngine(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(SRError, match="not a readable ONNX model"):
        OnnxEngine(tmp_path / "junk.onnx")


def test_auto_keeps_the_faster_of_paddle_inference_and_onnxruntime(monkeypatch):
    from paddle_sr.runtime.predictor import InferenceEngine

    monkeypatch.setattr(C, "EAGER_MACS_PER_S", 1e3)  # as if eager were very slow: the first call exports
    lr = np.random.default_rng(5).uniform(0, 255, (24, 28, 3)).astype(np.uint8)
    for name in ("espcn", "rdn"):
        model, scale = _case(name)
        eager = super_resolve(model, lr, scale, engine="eager")
        out = super_resolve(model, lr, scale)
        net = C.engine_for(model, "auto", 1)
        assert set(net.measured) == {"inference", "onnxruntime"}
        kind = min(net.measured, key=net.measured.get)  # the one measured faster is the one kept
        assert C.chosen(model) == kind
        assert isinstance(net, OnnxEngine if kind == "onnxruntime" else InferenceEngine)
        assert np.abs(out - eager).max() * 127.5 < TOL
    monkeypatch.setattr(C, "AUTO_CANDIDATES", ("inference",))  # ONNX Runtime out of the race
    model, scale = _case("espcn")
    super_resolve(model, lr, scale)
    assert C.chosen(model) == "inference"
