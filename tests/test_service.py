"""paddle_sr.service: the model handling behind the comparison app (choices, one cached model, tiled
runs with progress, degrade-then-restore scores equal to evaluate's, one-line errors)."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from paddle_sr import pretrained, train
from paddle_sr.runtime import scoring as evaluate
from paddle_sr.apps import service
from paddle_sr.image.io import load_image
from paddle_sr.data.sources import EMBEDDED_VAL, _embedded_table
from paddle_sr.core.errors import SRError

TINY_RDN = {"num_features": 8, "num_blocks": 2, "num_layers": 2, "growth_rate": 4}


def tiny_run(folder, **extra):
    """A real run folder of the demo recipe (2 iterations of a tiny RDN, x2): output/demo_x2/Best.pdparams."""
    opts = dict(iterations=2, batch_size=2, patch_size=8, val_every=2, val_max_size=32, progress="false",
                output=str(folder), model_kwargs=json.dumps(TINY_RDN))
    opts.update(extra)
    assert train.main(["demo"] + [f"--{k}={v}" for k, v in opts.items()]) == 0
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tiny_run(tmp_path_factory.mktemp("output"))


@pytest.fixture(scope="module")
def choice(runs):
    found = service.run_choices(runs)
    assert len(found) == 1
    return found[0]


@pytest.fixture()
def photo(tmp_path):
    """A 96x72 crop of the embedded validation photo, alone in a benchmark-style folder."""
    img = load_image(dict(_embedded_table("val"))[EMBEDDED_VAL[0][0]])[100:172, 150:246]
    folder = tmp_path / "One" / "HR"
    folder.mkdir(parents=True)
    Image.fromarray(img).save(folder / "cat.png")
    return folder / "cat.png"


def test_run_folders_are_offered_with_their_model_and_scale(runs, choice):
    assert choice.kind == "run" and choice.model == "rdn" and choice.scale == 2
    assert choice.weights == str(runs / "demo_x2" / "Best.pdparams")
    assert "demo_x2" in choice.label and not choice.arbitrary
    assert service.run_choices(runs / "nothing-here") == []


def test_official_checkpoints_are_offered_only_when_usable_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("PADDLE_SR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PADDLE_SR_WEIGHTS", raising=False)
    assert service.official_choices() == []
    cached = pretrained.BY_ID["rlfn_x4"]
    os.makedirs(os.path.dirname(pretrained.converted_path(cached)))
    open(pretrained.converted_path(cached), "wb").close()
    local = tmp_path / "weights"
    local.mkdir()
    (local / pretrained.BY_ID["imdn_x2"].name).write_bytes(b"x")  # found by name in PADDLE_SR_WEIGHTS
    monkeypatch.setenv("PADDLE_SR_WEIGHTS", str(local))
    found = {c.weights: c for c in service.official_choices()}
    assert set(found) == {"official:rlfn_x4", "official:imdn_x2"}
    assert "cached" in found["official:rlfn_x4"].label and "local file" in found["official:imdn_x2"].label
    assert (found["official:imdn_x2"].model, found["official:imdn_x2"].scale) == ("imdn", 2)


def test_one_model_is_kept_at_a_time(choice, tmp_path):
    import shutil

    service.unload()
    a = service.load_model(choice)
    assert service.load_model(choice) is a and service.loaded() is a
    assert service.load_model(service.Choice.custom("rdn", 2, choice.weights)) is a  # same file, "any model" path
    for name in ("Best.pdparams", "config.json"):  # another run folder
        shutil.copy(os.path.join(os.path.dirname(choice.weights), name), tmp_path / name)
    b = service.load_model(service.Choice.custom("rdn", 2, str(tmp_path / "Best.pdparams")))
    assert b is not a and service.loaded() is b  # the previous one is dropped
    assert b.sr_scale == 2 and b.SFENet1.weight.shape[0] == TINY_RDN["num_features"]  # the run's config.json


def test_degrade_then_restore_scores_equal_evaluate(choice, photo):
    model = service.load_model(choice)
    hr, lr, results = service.degrade_restore([("tiny", model)], load_image(photo), 2, path=photo)
    assert hr.shape == (72, 96, 3) and lr.shape == (36, 48, 3)
    assert [r.name for r in results] == ["bicubic", "tiny"]
    ref = evaluate.evaluate(model, 2, [photo.parent], progress=False)["One"]["images"]["cat"]
    assert (results[1].psnr, results[1].ssim) == (ref["psnr"], ref["ssim"])
    bic = evaluate.evaluate("bicubic", 2, [photo.parent], progress=False)["One"]["images"]["cat"]
    assert (results[0].psnr, results[0].ssim) == (bic["psnr"], bic["ssim"])
    line = service.protocol_line(2, "rdn")
    assert line == evaluate.protocol_line(evaluate.evaluate(model, 2, [photo.parent], progress=False)["protocol"])


def test_degrade_then_restore_scores_a_gray_file_like_evaluate(choice, photo):
    gray = photo.parent / "cat.png"
    Image.open(photo).convert("L").save(gray)
    model = service.load_model(choice)
    _, _, results = service.degrade_restore([("tiny", model)], load_image(gray), 2, path=gray)
    for convention in ("matlab", "basicsr"):
        _, _, results = service.degrade_restore([("tiny", model)], load_image(gray), 2, path=gray, gray=convention)
        ref = evaluate.evaluate(model, 2, [photo.parent], gray=convention, progress=False)["One"]["images"]["cat"]
        assert (results[1].psnr, results[1].ssim) == (ref["psnr"], ref["ssim"])


def test_large_images_run_tiled_with_progress(choice):
    model = service.load_model(choice)
    lr = load_image(dict(_embedded_table("val"))["coffee"])[:120, :160]
    calls = []
    tiled = service.upscale(model, lr, 2, progress=lambda d, t: calls.append((d, t)), max_memory_mb=1)
    assert tiled.tile is not None and tiled.image.shape == (240, 320, 3) and tiled.image.dtype == np.uint8
    total = calls[-1][1]
    assert total > 1 and [d for d, _ in calls] == list(range(1, total + 1)) and {t for _, t in calls} == {total}
    whole = service.upscale(model, lr, 2)
    assert whole.tile is None
    assert np.abs(tiled.image.astype(int) - whole.image.astype(int)).max() <= 1


def test_arbitrary_scale_models_take_a_free_scale(tmp_path):
    from paddle_sr import models

    kwargs = dict(encoder_kwargs=dict(num_features=8, num_blocks=1, num_layers=1, growth_rate=4), hidden_list=[8])
    path = tmp_path / "Best.pdparams"  # a LIIF run folder: its config.json rebuilds the small model
    import paddle

    paddle.save(models.create("liif", scale=4, **kwargs).state_dict(), str(path))
    (tmp_path / "config.json").write_text(json.dumps({"model": "liif", "scale": 4, "model_kwargs": kwargs}))
    c = service.Choice.custom("liif", None, str(path))
    assert c.arbitrary and c.scale is None
    assert service.build_scale(c, 2.5) == 2.5 and service.build_scale(c, 3.0) == 3
    with pytest.raises(SRError, match="x1.5 to x8"):
        service.build_scale(c, 12)
    with pytest.raises(SRError, match="integer scale"):
        service.degrade(np.zeros((40, 40, 3), np.uint8), 2.5)
    model = service.load_model(c, 2.5)
    r = service.upscale(model, np.zeros((10, 14, 3), np.uint8), 2.5)
    assert r.image.shape == (25, 35, 3)
    assert service.bicubic(np.zeros((10, 14, 3), np.uint8), r.image.shape[:2]).image.shape == (25, 35, 3)


def test_a_text_file_renamed_png_is_a_one_line_error(tmp_path):
    fake = tmp_path / "photo.png"
    fake.write_text("this is not an image\n")
    with pytest.raises(SRError, match=r"cannot read image photo\.png.*valid PNG/JPEG"):
        service.read_image(fake)


def test_a_too_large_image_is_refused_with_a_tile_size(tmp_path, choice):
    big = tmp_path / "big.png"
    Image.new("RGB", (300, 200)).save(big)
    with pytest.raises(SRError, match=r"300x200 = 60,000 pixels is above this app's limit of 50,000 pixels "
                                      r"\(--max-pixels 50000\).*--tile \d+"):
        service.read_image(big, max_pixels=50_000)
    model = service.load_model(choice)
    with pytest.raises(SRError, match=r"--tile \d+") as e:
        service.check_pixels((2000, 2000), 1_000_000, 2, model)
    assert "\n" not in str(e.value)
    # the output is capped too: 16x the input cap (x4 of the largest input)
    service.check_pixels((1000, 1000), 1_000_000, 4)
    with pytest.raises(SRError, match="16,000,000 output pixels"):
        service.check_pixels((1000, 1000), 1_000_000, 8)


def test_a_missing_weights_file_is_a_one_line_error(tmp_path):
    c = service.Choice.custom("rdn", 2, str(tmp_path / "nope.pdparams"))
    with pytest.raises(SRError, match=r"weights file .*nope\.pdparams does not exist"):
        service.load_model(c)
    with pytest.raises(SRError, match="needs a weights file"):
        service.Choice.custom("rdn", 2, "  ")
    with pytest.raises(SRError, match="unknown model"):
        service.Choice.custom("no_such_model", 2, "x.pdparams")
    with pytest.raises(SRError, match="fixed scales"):
        service.Choice.custom("rdn", 2.5, "x.pdparams")


def test_the_zoom_box_is_the_same_place_on_every_result():
    a = np.arange(40 * 60 * 3, dtype=np.uint32).reshape(40, 60, 3).astype(np.uint8)
    crops, box = service.zooms([a, a[::-1].copy(), a], 0.5, 0.5, 0.25)
    assert box == (15, 25, 10, 10)
    assert crops[0].shape == crops[1].shape and np.array_equal(crops[0], crops[2])
    assert np.array_equal(crops[0][::32, ::32], a[15:25, 25:35])  # nearest-neighbour enlargement
    assert service.crop_box((40, 60), 1.0, 1.0, 0.25) == (30, 50, 10, 10)  # kept inside the image
    assert service.preview(np.zeros((4000, 2000, 3), np.uint8)).shape == (1600, 800, 3)


def test_compare_runs_the_choices_one_at_a_time_and_scores_like_evaluate(choice, photo, tmp_path):
    import shutil

    for name in ("Best.pdparams", "config.json"):  # a second run folder of the same model
        shutil.copy(os.path.join(os.path.dirname(choice.weights), name), tmp_path / name)
    second = service.Choice.custom("rdn", 2, str(tmp_path / "Best.pdparams"))
    steps = []
    hr, lr, results = service.compare([choice, second], load_image(photo), 2, degrade_first=True, path=photo,
                                      progress=lambda f, text: steps.append((f, text)))
    assert [r.name for r in results] == ["bicubic", "run demo_x2", "rdn"]
    assert service.loaded() is service.load_model(second)  # only the last one is held
    ref = evaluate.evaluate(service.load_model(choice), 2, [photo.parent], progress=False)["One"]["images"]["cat"]
    assert (results[1].psnr, results[1].ssim) == (results[2].psnr, results[2].ssim) == (ref["psnr"], ref["ssim"])
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and "loading run demo_x2" in steps[0][1]
    _, _, up = service.compare([choice], lr, 2)
    assert [r.image.shape for r in up] == [hr.shape, hr.shape] and up[0].psnr is None


# --- the app's Run (paddle_sr.app.App.run, no Gradio needed) and its clean stop (issue 20) ---

def test_result_panels_carry_the_models_names_and_an_error_clears_them(runs, choice, photo, tmp_path):
    from paddle_sr import app as app_mod

    app = app_mod.App(str(runs), root=str(tmp_path / "root"))
    try:
        label = next(label for label in app.choices if label == choice.label)
        out = app.run(str(photo), app_mod.UPSCALE, label, label_b=label)
        assert out.state is not None, out.status
        labels = [p[0] for p in out.panels]
        name = choice.label.split(" — ")[0]  # "run demo_x2", not "Model"
        assert labels == [app_mod.BICUBIC_LABEL, name, name] and "Model" not in labels
        assert all(p[1].shape[:2] == (144, 192) for p in out.panels) and len(out.files) == 3
        # a failing run after a good one: no old result stays on the page under the new message
        bad = tmp_path / "holiday.png"
        bad.write_text("not an image")
        failed = app.run(str(bad), app_mod.UPSCALE, label)
        assert failed.status.startswith("**Error:** cannot read image holiday.png")
        assert failed.panels == [None, None, None] and failed.files is None and failed.state is None
    finally:
        app.close()
    assert not (tmp_path / "root").exists()


def test_the_app_removes_its_temporary_folder_when_stopped(tmp_path):
    """A real process: main() with Gradio's blocking launch stood in by a sleep, stopped by SIGTERM (as `kill`
    or a service manager stops it); its temporary folder (results, Gradio's cache) is gone afterwards."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "run_app.py"
    script.write_text(
        "import sys, time\n"
        "from paddle_sr import app\n"
        "class Demo:\n"
        "    def queue(self, **kw): pass\n"
        "    def launch(self, **kw):\n"
        "        print('ready', app.os.environ['GRADIO_TEMP_DIR'], flush=True)\n"
        "        time.sleep(120)\n"
        "app._import_gradio = lambda: None\n"
        "app.build = lambda a: Demo()\n"
        "sys.exit(app.main(['--output', sys.argv[1]]))\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"), CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1",
               PADDLE_SR_WEIGHTS=str(tmp_path / "typo"), PYTHONPATH=root)  # this checkout's paddle_sr
    env.pop("GRADIO_TEMP_DIR", None)
    (tmp_path / "tmp").mkdir()
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "output")], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = ""
    while not line.startswith("ready") and proc.poll() is None:
        line = proc.stdout.readline()
    assert line.startswith("ready"), (line, proc.stderr.read() if proc.poll() is not None else "")
    assert line.split()[1].startswith(str(tmp_path / "tmp" / "paddle_sr_app_"))  # Gradio's cache inside it
    assert os.listdir(tmp_path / "tmp")
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert os.listdir(tmp_path / "tmp") == [] and "removed the app's temporary folder" in out
    # a mistyped PADDLE_SR_WEIGHTS is named at start (it would only make official checkpoints missing)
    assert "warning: PADDLE_SR_WEIGHTS names" in err
