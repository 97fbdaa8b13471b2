"""Issue 20 (part A): EXIF orientation, float / 16-bit files, alpha, the pixel limit, --skip-existing and
predict's memory plan, on real files on disk and the real CLIs."""
import io
import json
import struct
import subprocess
import sys
import tracemalloc
import zlib

import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_sr.image import io as imageio
from paddle_sr.core.errors import SRError, cli_main
from paddle_sr.image.io import load_image
from paddle_sr.models import create
from paddle_sr.predict import main, predict
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def espcn(tmp_path_factory):
    paddle.seed(0)
    path = tmp_path_factory.mktemp("w") / "espcn_x2.pdparams"
    model = create("espcn", scale=2)
    paddle.save(model.state_dict(), str(path))
    return model, path


def _args(weights, *rest):
    return ["--model", "espcn", "--weights", str(weights), "--scale", "2", "--quiet", *map(str, rest)]


def _rng_image(h, w, c=3, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (h, w, c)).astype(np.uint8)


def test_exif_orientation_is_applied_and_output_upright(tmp_path, espcn):
    img = np.zeros((20, 40, 3), np.uint8)
    img[:, :20] = (255, 0, 0)  # left half red, as stored
    im = Image.fromarray(img)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    up = load_image(tmp_path / "phone.jpg")
    assert up.shape == (40, 20, 3)  # upright: portrait
    assert up[:15, :, 0].mean() > 200 and up[-15:, :, 0].mean() < 50  # the red half is on top
    main(_args(espcn[1], tmp_path / "phone.jpg", "--out", tmp_path / "out"))
    out = Image.open(tmp_path / "out" / "phone_x2.png")
    assert out.size == (40, 80) and out.getexif().get(0x0112) is None


def test_float_and_16_bit_files_by_their_range(tmp_path):
    import tifffile

    Image.fromarray(np.full((6, 5), 0.5, np.float32)).save(tmp_path / "gray_float.tif")  # mode F, [0, 1]
    tifffile.imwrite(tmp_path / "rgb_float.tif", np.full((6, 5, 3), 0.25, np.float32), photometric="rgb")
    Image.fromarray(np.full((6, 5), 40000, np.uint16)).save(tmp_path / "gray16.png")
    tifffile.imwrite(tmp_path / "rgb16.tif", np.full((6, 5, 3), 65535 // 5, np.uint16), photometric="rgb")
    assert (load_image(tmp_path / "gray_float.tif") == 128).all()
    assert (load_image(tmp_path / "rgb_float.tif") == 64).all()
    assert (load_image(tmp_path / "gray16.png") == 156).all()
    assert (load_image(tmp_path / "rgb16.tif") == 51).all()
    Image.fromarray(np.full((6, 5), 200.0, np.float32)).save(tmp_path / "f255.tif")  # above 1: a 0-255 float
    assert (load_image(tmp_path / "f255.tif") == 200).all()


def test_alpha_is_upscaled_bicubically_and_written_rgba(tmp_path, espcn):
    rgba = _rng_image(12, 16, 4)
    rgba[..., 3] = np.linspace(0, 255, 16)[None, :].astype(np.uint8)
    Image.fromarray(rgba).save(tmp_path / "logo.png")
    main(_args(espcn[1], tmp_path / "logo.png", "--out", tmp_path / "out"))
    out = Image.open(tmp_path / "out" / "logo_x2.png")
    assert out.mode == "RGBA" and out.size == (32, 24)
    expected = np.asarray(Image.fromarray(rgba[..., 3]).resize((32, 24), Image.BICUBIC))
    assert np.array_equal(np.asarray(out)[..., 3], expected)
    # the colour is the model's output on the RGB channels
    from paddle_sr.image.io import to_uint8
    from paddle_sr.runtime.tiling import super_resolve

    rgb = to_uint8(super_resolve(espcn[0], rgba[..., :3], 2).transpose(2, 0, 1))
    assert np.abs(np.asarray(out)[..., :3].astype(int) - rgb).max() <= 1


def _bomb_png(path, w=19000, h=19000):
    """A 1-bit PNG of w x h (361 MP > twice Pillow's limit) without building the image: 45 MB of zeros."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = zlib.compress(bytes((1 + (w + 7) // 8) * h), 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
    return path


def test_pixel_limit_predict_folder_goes_on_and_exits_2(tmp_path, espcn, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    _bomb_png(folder / "a_bomb.png")
    Image.fromarray(_rng_image(10, 12)).save(folder / "b_ok.png")
    with pytest.raises(SystemExit) as e:
        cli_main(lambda: main(_args(espcn[1], folder, "--out", tmp_path / "out")))
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert "a_bomb.png is 19000x19000 = 361,000,000 pixels" in err and "178,956,970" in err
    assert "--max-pixels 361000000" in err
    assert (tmp_path / "out" / "b_ok_x2.png").exists() and not (tmp_path / "out" / "a_bomb_x2.png").exists()
    # --max-pixels sets the limit both ways: 120 pixels refuses the 10x12 image, 200 takes it
    with pytest.raises(SRError, match=r"1 of 1 image\(s\) failed"):
        main(_args(espcn[1], folder / "b_ok.png", "--out", tmp_path / "o2", "--max-pixels", "100"))
    assert "b_ok.png is 12x10 = 120 pixels, above the limit of 100 pixels" in capsys.readouterr().err
    main(_args(espcn[1], folder / "b_ok.png", "--out", tmp_path / "o3", "--max-pixels", "200"))
    imageio.set_max_pixels(None)  # predict() keeps the last limit for the process
    assert (tmp_path / "o3" / "b_ok_x2.png").exists()


def test_pixel_limit_in_evaluate_and_train(tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    _bomb_png(folder / "bomb.png")
    env = {"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "paddle_sr.evaluate", "--model", "bicubic", "--scale", "2",
                        "--data", str(folder), "--quiet"], cwd=ROOT, capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 2 and "bomb.png is 19000x19000" in r.stderr and "--max-pixels" in r.stderr
    assert "Traceback" not in r.stderr
    from paddle_sr import train

    with pytest.raises(SRError, match=r"bomb.png is 19000x19000 = 361,000,000 pixels.*--max-pixels"):
        train.main(["espcn", f"--data={folder}", "--iterations=1", f"--output={tmp_path / 'runs'}",
                    "--progress=false"])
    with pytest.raises(SRError, match=r"--max_pixels takes a number"):
        train.main(["espcn", "--max_pixels=lots"])
    assert "--max_pixels=N" in __import__("paddle_sr.training.recipes").training.recipes.help_text()


def test_skip_existing_continues_a_folder(tmp_path, espcn, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for i, name in enumerate(("a", "b", "c")):
        Image.fromarray(_rng_image(8, 10, seed=i)).save(folder / f"{name}.png")
    out = tmp_path / "out"
    out.mkdir()
    kept = out / "b_x2.png"
    Image.fromarray(np.zeros((16, 20, 3), np.uint8)).save(kept)  # done by an earlier, interrupted run
    before = kept.read_bytes()
    with pytest.raises(SystemExit) as e:
        cli_main(lambda: main(_args(espcn[1], folder, "--out", out)))
    assert e.value.code == 2 and "--skip-existing" in capsys.readouterr().err
    main(_args(espcn[1], folder, "--out", out, "--skip-existing"))
    assert kept.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["a_x2.png", "b_x2.png", "c_x2.png"]
    assert "skipping 1 image(s)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(_args(espcn[1], folder, "--out", out, "--skip-existing", "--force"))
    assert e.value.code == 2  # argparse: not allowed together


def test_png_rows_round_trip():
    from paddle_sr.image.io import PngRows

    a = _rng_image(37, 53, 4, seed=5)
    for c in (3, 4):
        buf = io.BytesIO()
        png = PngRows(buf, 53, 37, c)
        for y in range(0, 37, 10):
            png.write(a[y:y + 10, :, :c])
        png.close()
        buf.seek(0)
        assert np.array_equal(np.asarray(Image.open(buf)), a[:, :, :c])


def test_memory_plan_refuses_before_any_work(tmp_path, espcn, capsys):
    Image.fromarray(_rng_image(400, 300)).save(tmp_path / "big.png")
    with pytest.raises(SystemExit) as e:
        cli_main(lambda: main(_args(espcn[1], tmp_path / "big.png", "--out", tmp_path / "out", "--max-memory", "3")))
    err = capsys.readouterr().err
    assert e.value.code == 2 and "MB budget (--max-memory 3)" in err and "fits at this scale" in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    fit = err.split("an input up to ")[1].split(" ")[0]  # WxH that the message says would fit
    w, h = (int(v) for v in fit.split("x"))
    assert 0 < w < 300 and 0 < h < 400
    Image.fromarray(_rng_image(h, w)).save(tmp_path / "fits.png")
    main(_args(espcn[1], tmp_path / "fits.png", "--out", tmp_path / "out", "--max-memory", "3"))
    assert Image.open(tmp_path / "out" / "fits_x2.png").size == (2 * w, 2 * h)


def test_tiled_predict_holds_no_full_size_float_canvas(tmp_path, espcn):
    """numpy's allocations (traced) stay under one float32 copy of the output: tiles are blended in a
    strip and rows go straight to the PNG encoder."""
    Image.fromarray(_rng_image(600, 100)).save(tmp_path / "tall.png")
    canvas = 600 * 2 * 100 * 2 * 3 * 4
    tracemalloc.start()
    try:
        predict(espcn[0], [tmp_path / "tall.png"], tmp_path / "out", scale=2, tile=16, tile_overlap=8,
                progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert Image.open(tmp_path / "out" / "tall_x2.png").size == (200, 1200)
    assert peak < canvas, (peak, canvas)  # the old float canvas + weight map + division: over 2.3x canvas
