"""Issue 11: run folders' weights everywhere, one-line errors instead of tracebacks, and the smaller traps.

Real files throughout: PNGs written with PIL, a tiny run folder laid out as the train tool writes it
(``config.json`` from ``configs.to_json`` beside ``Best.pdparams`` of the demo recipe's small RDN),
and real ``python -m paddle_sr.<tool>`` processes wherever the exit status and the one stderr line
are the point.
"""
import json
import os
import resource
import shutil
import stat
import subprocess
import sys

import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_sr.training import recipes as configs
from paddle_sr.core.files import atomic_save, atomic_write_json
from paddle_sr.core.errors import SRError, cli_main
from paddle_sr.image.io import save_png
from paddle_sr.runtime.tiling import super_resolve
from paddle_sr.models import create

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = configs.resolve("demo")  # the small RDN: num_features=16, num_blocks=4, num_layers=3, growth_rate=16, x2
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _cli(tool, *args, limit_file_size=None):
    """Run ``python -m paddle_sr.<tool> args`` in a real process; returns the CompletedProcess."""
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")

    def limits():
        if limit_file_size:  # a real "disk full" for this process: writes past the limit fail with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))
    return subprocess.run([sys.executable, "-m", f"paddle_sr.{tool}", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180, preexec_fn=limits)


def _one_line_error(r, *fragments):
    """Exit status 2, no traceback, and stderr is the single ``error: ...`` line; returns that line."""
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A training run folder as ``python -m paddle_sr.train demo`` leaves it: config.json + Best.pdparams."""
    run = tmp_path_factory.mktemp("output") / "demo_x2"
    run.mkdir()
    (run / "config.json").write_text(configs.to_json(DEMO))
    paddle.seed(0)
    model = create(DEMO.model, scale=DEMO.scale, **DEMO.model_kwargs)
    atomic_save(model.state_dict(), run / "Best.pdparams")
    return run


def _trained(run_dir):
    model = create("rdn", scale=2, **DEMO.model_kwargs)
    model.set_state_dict(paddle.load(str(run_dir / "Best.pdparams")))
    model.eval()
    return model


def _photos(folder, sizes=((20, 24), (18, 22))):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(0)
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.randint(0, 256, (h, w, 3)).astype(np.uint8)).save(folder / f"{'abcdefg'[i]}.png")
    return folder


def _hr_set(tmp_path):
    folder = tmp_path / "Tiny" / "HR"
    folder.mkdir(parents=True)
    Image.fromarray(np.random.RandomState(1).randint(0, 256, (48, 48, 3)).astype(np.uint8)).save(folder / "x.png")
    return folder.parent


def _blocked(tmp_path, how):
    """A folder path nothing can be written under: chmod 0o500 (not for root, who ignores permission
    bits) or a path whose parent is a regular file (blocks everyone, root included)."""
    if how == "chmod":
        if IS_ROOT:
            pytest.skip("running as root: chmod does not stop root's writes (the 'under_file' case covers it)")
        ro = tmp_path / "readonly"
        ro.mkdir()
        ro.chmod(0o500)
        return ro / "out"
    plain = tmp_path / "plain_file"
    plain.write_text("a file, not a folder")
    return plain / "out"


@pytest.fixture
def restore_permissions(tmp_path):
    yield
    for p in tmp_path.rglob("*"):
        if p.is_dir():
            p.chmod(0o700)


# ---------------------------------------------------------------- 1. a run folder's weights everywhere

def test_viz_builds_the_run_folders_model(run_dir):
    from paddle_sr.apps.viz import _as_model, show_image

    hr = np.random.RandomState(2).randint(0, 256, (32, 36, 3)).astype(np.uint8)
    best = str(run_dir / "Best.pdparams")
    fig = show_image(hr=hr, models={"rdn": best, "tuple": ("rdn", 2, best), "demo run": best}, scale=2, show=False)
    assert [a.get_title().split("\n")[0] for a in fig.axes][2:5] == ["rdn", "tuple", "demo run"]
    lr = hr[::2, ::2].copy()
    expected = super_resolve(_trained(run_dir), lr, 2)
    for m in (best, ("rdn", 2, best)):
        np.testing.assert_array_equal(super_resolve(_as_model("rdn", m, 2), lr, 2), expected)
    with pytest.raises(SRError, match="trained for x2.*pass scale=2"):
        show_image(hr=hr, models={"rdn": best}, scale=4, show=False)
    with pytest.raises(SRError, match="trained as model 'rdn'"):
        show_image(hr=hr, models={"rlfn": best}, scale=2, show=False)


def test_export_builds_the_run_folders_model_and_takes_arg(run_dir, tmp_path):
    from paddle_sr.runtime.predictor import InferenceEngine
    from paddle_sr.runtime.export_format import read_meta
    from paddle_sr.export import main

    main(["--weights", str(run_dir / "Best.pdparams"), "--out", str(tmp_path / "exp")])  # model, scale: the run's
    assert read_meta(tmp_path / "exp")["model"] == "rdn" and read_meta(tmp_path / "exp")["scale"] == 2
    lr = np.random.RandomState(3).randint(0, 256, (12, 14, 3)).astype(np.uint8)
    engine = InferenceEngine(tmp_path / "exp", device="cpu", mkldnn=False)
    assert np.abs(super_resolve(engine, lr, 2) - super_resolve(_trained(run_dir), lr, 2)).max() < 1e-4
    # The same weights outside their run folder: --arg describes the model, like convert's.
    bare = tmp_path / "bare.pdparams"
    shutil.copy(run_dir / "Best.pdparams", bare)
    line = _one_line_error(_cli("export", "--model", "rdn", "--scale", "2", "--weights", bare, "--out",
                                tmp_path / "bad"), "does not fit model 'rdn' x2")
    assert "Traceback" not in line and not (tmp_path / "bad").exists()
    args = [a for k, v in DEMO.model_kwargs.items() for a in ("--arg", f"{k}={v}")]
    r = _cli("export", "--model", "rdn", "--scale", "2", "--weights", bare, "--out", tmp_path / "exp2", *args)
    assert r.returncode == 0, r.stderr
    again = InferenceEngine(tmp_path / "exp2", device="cpu", mkldnn=False)
    np.testing.assert_array_equal(super_resolve(again, lr, 2), super_resolve(engine, lr, 2))


# ---------------------------------------------------------------- 2. one line and exit 2, before the work

@pytest.mark.parametrize("how", ["chmod", "under_file"])
def test_unwritable_outputs_fail_before_the_work(how, run_dir, tmp_path, restore_permissions):
    blocked = _blocked(tmp_path, how)
    photos = _photos(tmp_path / "photos")
    best = run_dir / "Best.pdparams"
    _one_line_error(_cli("predict", "--model", "rdn", "--scale", "2", "--weights", best, photos, "--out", blocked,
                         "--quiet"), "cannot write --out folder", str(blocked))
    data = _hr_set(tmp_path)
    for option, value in (("--out", blocked / "r.json"), ("--save-images", blocked)):
        r = _cli("evaluate", "--model", "bicubic", "--scale", "2", "--data", data, option, value, "--quiet")
        _one_line_error(r, "cannot write", option)
        assert r.stdout == ""  # refused before the table was computed, not after
    _one_line_error(_cli("export", "--model", "rdn", "--scale", "2", "--weights", best, "--out", blocked),
                    "cannot write --out folder")
    torch = pytest.importorskip("torch")
    pth = tmp_path / "espcn.pth"
    torch.save({k: torch.from_numpy(v.numpy()) for k, v in create("espcn", scale=2).state_dict().items()
                if k != "value_range"}, str(pth))
    _one_line_error(_cli("convert", "--model", "espcn", "--scale", "2", pth, blocked / "espcn.pdparams"),
                    "cannot write output file")


def test_disk_full_is_one_line_and_keeps_what_was_written(run_dir, tmp_path):
    """RLIMIT_FSIZE makes the process's writes past 32 KiB fail (EFBIG), as a full disk would, mid-run."""
    rng = np.random.RandomState(4)
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(rng.randint(0, 256, (16, 16, 3)).astype(np.uint8)).save(photos / "a_small.png")
    Image.fromarray(rng.randint(0, 256, (120, 120, 3)).astype(np.uint8)).save(photos / "b_large.png")
    out = tmp_path / "sr"
    r = _cli("predict", "--model", "rdn", "--scale", "2", "--weights", run_dir / "Best.pdparams", photos, "--out",
             out, "--quiet", limit_file_size=32 * 1024)
    _one_line_error(r, "File too large", str(out / "b_large_x2.png"), "write to another disk or free space")
    assert sorted(p.name for p in out.iterdir()) == ["a_small_x2.png"]  # no torn file, no stray temporary
    assert Image.open(out / "a_small_x2.png").size == (32, 32)


@pytest.mark.skipif(paddle.is_compiled_with_cuda(), reason="needs a CPU build of Paddle")
def test_gpu_device_on_a_cpu_paddle(run_dir, tmp_path):
    best, photos, data = run_dir / "Best.pdparams", _photos(tmp_path / "photos"), _hr_set(tmp_path)
    runs = {"predict": ["--model", "rdn", "--scale", "2", "--weights", best, photos, "--out", tmp_path / "o",
                        "--quiet"],
            "evaluate": ["--model", "rdn", "--scale", "2", "--weights", best, "--data", data, "--quiet"],
            "export": ["--weights", best, "--out", tmp_path / "e"]}
    for tool, args in runs.items():
        _one_line_error(_cli(tool, *args, "--device", "gpu:0"), "--device gpu:0", "CPU build", "--device cpu")
    assert not (tmp_path / "o").exists() and not (tmp_path / "e").exists()


def test_output_file_or_folder_in_the_way(run_dir, tmp_path):
    photos = _photos(tmp_path / "photos")
    taken = tmp_path / "existing.png"
    taken.write_bytes((photos / "a.png").read_bytes())
    _one_line_error(_cli("predict", "--model", "rdn", "--scale", "2", "--weights", run_dir / "Best.pdparams", photos,
                         "--out", taken, "--quiet"), "is an existing file, not a folder")
    assert taken.read_bytes() == (photos / "a.png").read_bytes()
    # convert IN DIR --force must not try to replace a folder (and what is in it) with a file
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "keep.pdparams").write_bytes(b"precious")
    _one_line_error(_cli("convert", "--model", "rlfn", "--scale", "4", tmp_path / "any.pth", folder, "--force"),
                    "is an existing folder", "rlfn_x4.pdparams")
    assert (folder / "keep.pdparams").read_bytes() == b"precious"


def test_unknown_model_in_the_models_table():
    r = _cli("models", "rdn", "nope")
    _one_line_error(r, "unknown model 'nope'", "known models: ")
    assert r.stdout == ""


def test_cli_main_turns_an_os_error_into_one_line(tmp_path, capsys):
    folder, plain = tmp_path / "a_folder", tmp_path / "plain"
    folder.mkdir()
    plain.write_text("x")
    with pytest.raises(SystemExit) as e:
        cli_main(lambda: atomic_write_json({"a": 1}, plain / "y.json"))
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and err == f"error: File exists: {plain}; a file is in the way where a folder is " \
                                        f"needed; choose another path or move the file", err
    with pytest.raises(SystemExit) as e:
        cli_main(lambda: open(folder, "w"))
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and err == f"error: Is a directory: {folder}; a folder is in the way where a file " \
                                        f"was expected; name a file, or move the folder"


# ---------------------------------------------------------------- 3. smaller traps

def test_a_bad_image_does_not_stop_the_folder(run_dir, tmp_path):
    photos = _photos(tmp_path / "photos", sizes=((20, 24), (18, 22), (16, 20)))
    (photos / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n but then nothing a PNG reader wants")
    out = tmp_path / "sr"
    r = _cli("predict", "--model", "rdn", "--scale", "2", "--weights", run_dir / "Best.pdparams", photos,
             "--out", out, "--quiet")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 2 and lines[0].startswith(f"skipped {photos / 'b.png'}: cannot read image"), lines
    assert lines[1].startswith("error: 1 of 3 image(s) failed (b.png;") and "2 were written" in lines[1], lines
    assert sorted(p.name for p in out.iterdir()) == ["a_x2.png", "c_x2.png"]


def test_out_equal_to_the_input_folder_skips_earlier_outputs(run_dir, tmp_path, capsys):
    from paddle_sr.predict import main

    photos = _photos(tmp_path / "photos")
    args = ["--model", "rdn", "--scale", "2", "--weights", str(run_dir / "Best.pdparams"), str(photos),
            "--out", str(photos), "--quiet"]
    assert len(main(args)) == 2
    first = (photos / "a_x2.png").read_bytes()
    with pytest.raises(SRError, match="a_x2.png.*already exists.*--force"):  # not 'a_x2_x2.png would be written'
        main(args)
    assert len(main(args + ["--force"])) == 2
    assert sorted(p.name for p in photos.iterdir()) == ["a.png", "a_x2.png", "b.png", "b_x2.png"]
    assert (photos / "a_x2.png").read_bytes() == first
    # files given by name are always taken, and outputs of other folders are ordinary inputs
    main(["--model", "rdn", "--scale", "2", "--weights", str(run_dir / "Best.pdparams"), str(photos / "a_x2.png"),
          "--out", str(tmp_path / "again"), "--quiet"])
    assert Image.open(tmp_path / "again" / "a_x2_x2.png").size == (96, 80)


def test_outputs_get_umask_permissions(run_dir, tmp_path):
    from paddle_sr.evaluate import main as evaluate_main
    from paddle_sr.predict import main as predict_main
    from paddle_sr.apps.viz import show_image

    old = os.umask(0o022)
    try:
        photos = _photos(tmp_path / "photos")
        predict_main(["--model", "rdn", "--scale", "2", "--weights", str(run_dir / "Best.pdparams"), str(photos),
                      "--out", str(tmp_path / "sr"), "--quiet"])
        evaluate_main(["--model", "bicubic", "--scale", "2", "--data", str(_hr_set(tmp_path)), "--out",
                       str(tmp_path / "r.json"), "--save-images", str(tmp_path / "imgs"), "--quiet"])
        save_png(np.zeros((4, 4, 3), np.uint8), tmp_path / "p.png")
        atomic_write_json({"a": 1}, tmp_path / "j.json")
        show_image(hr=np.full((16, 16, 3), 128, np.uint8), scale=2, save=tmp_path / "comparison.png", show=False)
        written = [tmp_path / "sr" / "a_x2.png", tmp_path / "r.json", tmp_path / "imgs" / "Tiny" / "x.png",
                   tmp_path / "p.png", tmp_path / "j.json", tmp_path / "comparison.png"]
        modes = {p.name: oct(stat.S_IMODE(os.stat(p).st_mode)) for p in written}
        assert set(modes.values()) == {"0o644"}, modes
        assert json.loads((tmp_path / "r.json").read_text())["protocol"]["model"] == "bicubic"
    finally:
        os.umask(old)


def test_one_overwrite_rule_for_every_tool_that_writes(run_dir, tmp_path):
    """evaluate --out / --save-images, export --out, reproduce --out, bench --csv, show_image(save=) and
    plot_curves(save=) refuse an existing output (one line, exit 2, before any work, the file untouched)
    unless --force / force=True, as predict and convert do."""
    from paddle_sr.apps.viz import show_image

    data = _hr_set(tmp_path)
    out = tmp_path / "r.json"
    out.write_text("keep me")
    _one_line_error(_cli("evaluate", "--model", "bicubic", "--scale", "2", "--data", data, "--out", out, "--quiet"),
                    f"{out} already exists; pass --force")
    assert out.read_text() == "keep me"
    shot = tmp_path / "imgs" / "Tiny" / "x.png"
    shot.parent.mkdir(parents=True)
    shot.write_bytes(b"keep me")
    _one_line_error(_cli("evaluate", "--model", "bicubic", "--scale", "2", "--data", data, "--save-images",
                         tmp_path / "imgs", "--quiet"), f"{shot} already exists; pass --force")
    assert shot.read_bytes() == b"keep me"
    r = _cli("evaluate", "--model", "bicubic", "--scale", "2", "--data", data, "--out", out, "--save-images",
             tmp_path / "imgs", "--quiet", "--force")
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["protocol"]["model"] == "bicubic" and Image.open(shot).size == (48, 48)

    best = run_dir / "Best.pdparams"
    exp = tmp_path / "exp"
    assert _cli("export", "--weights", best, "--out", exp).returncode == 0
    before = (exp / "sr_meta.json").stat().st_mtime_ns
    _one_line_error(_cli("export", "--weights", best, "--out", exp), "already exists; pass --force")
    assert (exp / "sr_meta.json").stat().st_mtime_ns == before
    assert _cli("export", "--weights", best, "--out", exp, "--force").returncode == 0

    csv = tmp_path / "b.csv"
    csv.write_text("keep me")
    _one_line_error(_cli("bench", "--models", "espcn", "--scales", "2", "--no-runtime", "--csv", csv),
                    f"{csv} already exists; pass --force")
    rep = tmp_path / "rep.json"
    rep.write_text("keep me")
    _one_line_error(_cli("reproduce", "--data", data, "--out", rep), f"{rep} already exists; pass --force")
    assert csv.read_text() == rep.read_text() == "keep me"

    fig = tmp_path / "fig.png"
    fig.write_bytes(b"keep me")
    hr = np.full((16, 16, 3), 128, np.uint8)
    with pytest.raises(SRError, match="fig.png already exists; pass force=True"):
        show_image(hr=hr, scale=2, save=fig, show=False)
    assert fig.read_bytes() == b"keep me"
    show_image(hr=hr, scale=2, save=fig, show=False, force=True)
    assert Image.open(fig).size[0] > 16
    from paddle_sr.apps.notebook import plot_curves
    with pytest.raises(SRError, match="fig.png already exists; pass force=True"):
        plot_curves(run_dir, save=fig, show=False)


@pytest.mark.parametrize("force", [False, True])
def test_two_predicts_into_one_out_folder(run_dir, tmp_path, force):
    """No lock: every PNG is written whole under a temporary name and renamed (or, without --force, hard-linked,
    which fails if another run wrote the name meanwhile). Whatever the interleaving, each output is a whole,
    correct image, no temporary file is left, and without --force no output is replaced."""
    photos = _photos(tmp_path / "photos", sizes=[(20 + i, 24) for i in range(6)])
    out = tmp_path / "sr"
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "paddle_sr.predict", "--model", "rdn", "--scale", "2", "--weights",
           str(run_dir / "Best.pdparams"), str(photos), "--out", str(out), "--quiet", "--engine", "eager"]
    cmd += ["--force"] if force else []
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0, results
    if force:
        assert codes == [0, 0], results
    for code, err in results:  # the loser (if any) says why, on one line
        if code:
            assert code == 2 and ("already exists; pass --force" in err or "written by another process" in err), err
    model = _trained(run_dir)
    names = sorted(os.listdir(out))
    assert names == sorted(f"{'abcdefg'[i]}_x2.png" for i in range(6)), names  # no *.tmp left behind
    for i in range(6):
        lr = np.asarray(Image.open(photos / f"{'abcdefg'[i]}.png").convert("RGB"))
        expected = np.clip(np.round((super_resolve(model, lr, 2, engine="eager") + 1) * 127.5), 0, 255)
        got = np.asarray(Image.open(out / f"{'abcdefg'[i]}_x2.png").convert("RGB")).astype(np.float64)
        assert np.abs(got - expected).max() <= 1
