"""Benchmark evaluation: bicubic baseline numbers, JSON schema, gray conventions, user errors."""
import json
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_sr.core.errors import SRError, cli_main
from paddle_sr.evaluate import evaluate, main
from paddle_sr.runtime.scoring import resolve_set
from paddle_sr.models import create

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_cli(argv, capsys):
    with pytest.raises(SystemExit) as e:
        cli_main(lambda: main(argv))
    err = capsys.readouterr().err.strip()
    return e.value.code, err.split("\r")[-1]  # what stays on a terminal once tqdm has cleared its bar


def _small_set(tmp_path, shared, names=("baby", "bird"), size=72):
    folder = tmp_path / "Tiny" / "HR"
    folder.mkdir(parents=True)
    for n in names:
        img = np.asarray(Image.open(shared / "benchmarks" / "Set5" / "HR" / f"{n}.png").convert("RGB"))
        Image.fromarray(img[100:100 + size, 90:90 + size + 3]).save(folder / f"{n}.png")
    return folder.parent


def test_bicubic_set5_x4_matches_published(shared):
    r = evaluate("bicubic", 4, [shared / "benchmarks" / "Set5"], progress=False)
    assert abs(r["Set5"]["psnr"] - 28.42) < 0.02  # published bicubic x4 Set5 (Y, border 4)
    assert abs(r["Set5"]["ssim"] - 0.8104) < 0.002
    assert sorted(r["Set5"]["images"]) == ["baby", "bird", "butterfly", "head", "woman"]
    assert r["protocol"]["crop_border"] == 4 and r["protocol"]["gray"] == "matlab"


def test_set_folder_or_hr_subfolder(shared):
    s5 = shared / "benchmarks" / "Set5"
    assert resolve_set(s5) == ("Set5", str(s5 / "HR"))
    assert resolve_set(s5 / "HR") == ("Set5", str(s5 / "HR"))


def test_cli_json_schema_and_saved_images(tmp_path, shared, capsys):
    data = _small_set(tmp_path, shared)
    out, saved = tmp_path / "res" / "r.json", tmp_path / "sr"
    main(["--model", "bicubic", "--scale", "3", "--data", str(data), "--out", str(out), "--save-images", str(saved),
          "--quiet"])
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("bicubic x3 | HR modcrop, LR MATLAB bicubic") and "border 3" in printed[0]
    assert printed[-1].split()[0] == "Tiny"
    r = json.loads(out.read_text())
    assert set(r) == {"Tiny", "protocol"}
    assert set(r["Tiny"]) == {"psnr", "ssim", "images"}
    assert set(r["Tiny"]["images"]) == {"baby", "bird"}
    for v in r["Tiny"]["images"].values():
        assert set(v) == {"psnr", "ssim"} and 15 < v["psnr"] < 60 and 0 < v["ssim"] <= 1
    assert r["Tiny"]["psnr"] == pytest.approx(np.mean([v["psnr"] for v in r["Tiny"]["images"].values()]))
    assert r["protocol"]["scale"] == 3 and r["protocol"]["channel"].startswith("Y")
    sr = np.asarray(Image.open(saved / "Tiny" / "baby.png"))
    assert sr.shape == (72, 75, 3) and sr.dtype == np.uint8  # modcrop of 72x75 to x3


def test_gray_file_conventions(tmp_path, shared):
    folder = tmp_path / "G"
    folder.mkdir()
    gray = np.asarray(Image.open(shared / "benchmarks" / "Set14" / "HR" / "bridge.png"))[:96, :96]
    assert gray.ndim == 2
    Image.fromarray(gray).save(folder / "bridge.png")
    Image.fromarray(np.repeat(gray[:, :, None], 3, axis=2)).save(folder / "bridge_rgb.png")
    m = evaluate(None, 4, [folder], gray="matlab", progress=False)["G"]["images"]
    b = evaluate(None, 4, [folder], gray="basicsr", progress=False)["G"]["images"]
    # The gray file is scored on its gray values (matlab) or on Y (basicsr, 16 + 219/255 gray: higher);
    # the same pixels stored as RGB are always colour images, scored on Y.
    assert b["bridge"]["psnr"] - m["bridge"]["psnr"] == pytest.approx(20 * np.log10(255 / 219), abs=0.02)
    assert m["bridge_rgb"] == b["bridge_rgb"]
    assert b["bridge"]["psnr"] == pytest.approx(b["bridge_rgb"]["psnr"], abs=1e-9)


def test_model_path_with_tiles_and_self_ensemble(tmp_path, shared):
    data = _small_set(tmp_path, shared, names=("baby",), size=48)
    paddle.seed(0)
    model = create("rdn", scale=2, num_features=8, num_blocks=1, num_layers=2, growth_rate=4)
    whole = evaluate(model, 2, [data], progress=False)
    tiled = evaluate(model, 2, [data], tile=10, tile_overlap=16, progress=False)
    assert whole["Tiny"]["psnr"] == pytest.approx(tiled["Tiny"]["psnr"], abs=0.01)
    assert whole["protocol"]["model"] == "rdn"
    ens = evaluate(model, 2, [data], self_ensemble=True, progress=False)
    assert ens["protocol"]["self_ensemble"] and np.isfinite(ens["Tiny"]["psnr"])
    with pytest.raises(SRError, match="x3"):
        evaluate(model, 3, [data], progress=False)


def test_sixteen_bit_png_is_read_correctly(tmp_path, shared):
    gray = np.asarray(Image.open(shared / "benchmarks" / "Set14" / "HR" / "bridge.png"))[:64, :64]
    for name, arr in (("eight", gray), ("sixteen", gray.astype(np.uint16) * 257)):
        (tmp_path / name).mkdir()
        Image.fromarray(arr).save(tmp_path / name / "img.png")
    assert Image.open(tmp_path / "sixteen" / "img.png").mode.startswith("I")
    r8 = evaluate(None, 2, [tmp_path / "eight"], progress=False)["eight"]
    r16 = evaluate(None, 2, [tmp_path / "sixteen"], progress=False)["sixteen"]
    assert r16["psnr"] == r8["psnr"] and r16["ssim"] == r8["ssim"]


def test_errors_are_one_clear_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "x.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not an image")
    cases = [
        (["--model", "bicubic", "--scale", "4", "--data", str(tmp_path / "missing")], "does not exist"),
        (["--model", "bicubic", "--scale", "4", "--data", str(empty)], "holds no images"),
        (["--model", "bicubic", "--scale", "4", "--data", str(corrupt)], "cannot read image"),
        (["--model", "rdn", "--scale", "5", "--data", str(empty)], "supports scale"),
        (["--model", "rdn", "--scale", "2", "--data", str(empty)], "needs --weights"),
        (["--model", "nosuch", "--scale", "2", "--data", str(empty)], "unknown model"),
    ]
    for argv, msg in cases:
        code, err = _run_cli(argv, capsys)
        assert code == 2 and err.startswith("error: ") and msg in err and "\n" not in err, (argv, err)


def test_weights_for_another_model(tmp_path, capsys):
    paddle.seed(0)
    path = tmp_path / "rlfn_s.pdparams"
    paddle.save(create("rlfn_s", scale=2).state_dict(), str(path))
    code, err = _run_cli(["--model", "rlfn", "--scale", "2", "--weights", str(path), "--data", str(tmp_path)], capsys)
    assert code == 2 and "does not fit model 'rlfn'" in err and "\n" not in err


def test_cli_exit_status_in_a_real_process(tmp_path):
    p = subprocess.run([sys.executable, "-m", "paddle_sr.evaluate", "--model", "bicubic", "--scale", "4",
                        "--data", str(tmp_path / "nothing")], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 2
    lines = [l for l in p.stderr.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and "does not exist" in lines[0]


def test_engine_inference_same_psnr_as_eager(tmp_path, shared):
    data = _small_set(tmp_path, shared, names=("baby",), size=48)
    paddle.seed(0)
    model = create("rlfn_s", scale=2)
    model.eval()
    with paddle.no_grad():  # image-like outputs (last layer rescaled), so PSNR is not decided by clipping
        peak = float(model(paddle.rand([1, 3, 24, 25]) * 2 - 1).abs().max())
    model.upsampler[0].weight.set_value(model.upsampler[0].weight / peak)
    model.upsampler[0].bias.set_value(model.upsampler[0].bias / peak)
    weights = tmp_path / "rlfn_s_x2.pdparams"
    paddle.save(model.state_dict(), str(weights))
    base = ["--model", "rlfn_s", "--scale", "2", "--weights", str(weights), "--data", str(data), "--quiet",
            "--self-ensemble"]  # eight orientations: H x W and W x H inputs through one exported graph
    eager = main(base + ["--engine", "eager", "--save-images", str(tmp_path / "eager")])
    inf = main(base + ["--engine", "inference", "--save-images", str(tmp_path / "inf")])
    assert eager["protocol"]["engine"] == "eager" and inf["protocol"]["engine"] == "inference"
    assert 5 < eager["Tiny"]["psnr"] < 40
    assert inf["Tiny"]["psnr"] == pytest.approx(eager["Tiny"]["psnr"], abs=0.01)
    a, b = (np.asarray(Image.open(tmp_path / d / "Tiny" / "baby.png")).astype(int) for d in ("eager", "inf"))
    assert a.shape == b.shape == (48, 50, 3) and np.abs(a - b).max() <= 1
    with pytest.raises(SRError, match="unknown engine"):
        evaluate(model, 2, [data], engine="onnx", progress=False)


def test_weights_in_a_run_folder_rebuild_the_trained_configuration(tmp_path):
    """A run folder's config.json (model_kwargs) tells evaluate/predict the model's configuration."""
    from paddle_sr.models.resolve import model_for_weights

    kwargs = dict(num_features=8, num_blocks=2, num_layers=2, growth_rate=4)
    run = tmp_path / "run"
    run.mkdir()
    paddle.seed(0)
    trained = create("rdn", scale=2, **kwargs)
    paddle.save(trained.state_dict(), str(run / "Best.pdparams"))
    (run / "config.json").write_text(json.dumps({"model": "rdn", "scale": 2, "model_kwargs": kwargs}))
    model = model_for_weights("rdn", 2, str(run / "Best.pdparams"))
    x = paddle.rand([1, 3, 8, 8]) * 2 - 1
    trained.eval()
    np.testing.assert_array_equal(model(x).numpy(), trained(x).numpy())
    with pytest.raises(SRError, match="trained as --model rdn --scale 2"):
        model_for_weights("rdn", 4, str(run / "Best.pdparams"))
    # The same file without its run folder: default RDN, and the mismatch is named.
    alone = tmp_path / "alone.pdparams"
    alone.write_bytes((run / "Best.pdparams").read_bytes())
    with pytest.raises(SRError, match="does not fit"):
        model_for_weights("rdn", 2, str(alone))


def test_cli_lr_float_reproduces_lapsrn_set5(tmp_path, shared, capsys):
    """--lr-float is LapSRN's test_LapSRN.m protocol (LR from the double image): the paper's Set5 rows
    37.52 / 31.54 from the command line, from the authors' files (measured 37.517 / 31.539). Without it the
    LR is rounded to uint8 first, which costs x2 0.035 dB (37.482)."""
    from paddle_sr.convert import convert

    lapsrn = shared / "weights" / "lapsrn"
    if not lapsrn.is_dir():
        pytest.skip(f"{lapsrn} is not beside the checkout")
    for scale, paper in ((2, 37.52), (4, 31.54)):
        weights = tmp_path / f"lapsrn_x{scale}.pdparams"
        convert("lapsrn", scale, lapsrn / f"LapSRN_x{scale}.mat", weights)
        argv = ["--model", "lapsrn", "--scale", str(scale), "--weights", str(weights), "--data",
                str(shared / "benchmarks" / "Set5"), "--quiet", "--engine", "eager"]
        r = main(argv + ["--lr-float"])
        out = capsys.readouterr().out
        assert "LR MATLAB bicubic (double, not rounded)" in out.splitlines()[0]
        assert abs(r["Set5"]["psnr"] - paper) <= 0.005, (scale, r["Set5"]["psnr"])
        assert "not rounded" in r["protocol"]["lr"]
        if scale == 2:  # the flag is what makes the difference
            plain = main(argv)
            assert "not rounded" not in capsys.readouterr().out.splitlines()[0]
            assert r["Set5"]["psnr"] - plain["Set5"]["psnr"] > 0.02
