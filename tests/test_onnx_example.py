"""examples/onnx_upscale.py runs with onnxruntime, numpy and Pillow only: ``import paddle`` (and paddle_sr,
paddle2onnx) raise ImportError in its process, and its PNG equals the suite's own onnxruntime result."""
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("paddle2onnx")

from PIL import Image  # noqa: E402

from paddle_sr.image.io import to_uint8  # noqa: E402
from paddle_sr.runtime.tiling import super_resolve  # noqa: E402
from paddle_sr.runtime.onnx_engine import OnnxEngine  # noqa: E402
from paddle_sr.runtime.onnx_export import export_onnx  # noqa: E402
from test_export import _case  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLOCKER = """import sys
class _NoPaddle:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('paddle', 'paddle_sr', 'paddle2onnx', 'torch'):
            raise ImportError(name + ' is blocked: the example must run without it')
sys.meta_path.insert(0, _NoPaddle())
"""


def _run_example(tmp_path, *args):
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    return subprocess.run([sys.executable, os.path.join(ROOT, "examples", "onnx_upscale.py")] + list(args),
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_blocker_blocks_paddle(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    r = subprocess.run([sys.executable, "-c", "import paddle"], env=dict(os.environ, PYTHONPATH=str(site)),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "paddle is blocked" in r.stderr


@pytest.mark.parametrize("tile", [None, 12])
def test_example_upscales_without_paddle(tmp_path, tile):
    model, scale = _case("rdn")  # receptive radius ~8.5 LR px: tiles with overlap 16 give the whole image
    path = export_onnx(model, tmp_path / "rdn.onnx", name="rdn", scale=scale)
    lr = np.random.default_rng(0).integers(0, 256, (30, 26, 3), dtype=np.uint8)
    Image.fromarray(lr).save(tmp_path / "in.png")
    args = [str(path), "in.png", "out.png"] + (["--tile", str(tile)] if tile else [])
    r = _run_example(tmp_path, *args)
    assert r.returncode == 0, r.stderr
    assert f"rdn x{scale}: 26x30 -> {26 * scale}x{30 * scale}" in r.stdout
    out = np.asarray(Image.open(tmp_path / "out.png"))
    ref = to_uint8(super_resolve(OnnxEngine(path), lr, scale, engine="eager"))
    assert out.shape == ref.shape
    assert np.abs(out.astype(int) - ref).max() <= (0 if tile is None else 1)
