"""Training at the edges (issue 11): bad data ends the run in seconds with one line, for every worker
count; Ctrl-C / SIGTERM save at the iteration boundary and resume exactly; periodic saves; a crash
between checkpoint files leaves a resumable folder; paper recipes say what they train on."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import paddle
import pytest
from PIL import Image

from paddle_sr import train
from paddle_sr.training import run as training_run
from paddle_sr.training import recipes as configs
from paddle_sr.core.errors import SRError

from test_train import tiny_args, weights

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1")


def photo(path, size=(96, 80), seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size[1], :size[0]]
    img = np.stack([(xx * 2 + yy) % 256, (yy * 3) % 256, (xx * yy) % 256], -1) + rng.integers(0, 20, (size[1], size[0], 3))
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return path


def run_cli(args, timeout=120):
    return subprocess.run([sys.executable, "-m", "paddle_sr.train", *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("workers", [0, 2])
def test_an_unreadable_image_ends_the_run_in_seconds_with_one_line(tmp_path, workers):
    data = tmp_path / "data"
    data.mkdir()
    photo(data / "a.png")
    (data / "x.png").write_text("hi\n")
    t0 = time.time()
    res = run_cli(tiny_args("demo", tmp_path, data=str(data), num_workers=workers, run="h"), timeout=60)
    assert time.time() - t0 < 60
    assert res.returncode == 2, res.stderr
    assert error_lines(res.stderr) == [error_lines(res.stderr)[0]] and "x.png" in res.stderr
    assert "Traceback" not in res.stderr and "cannot read training image" in res.stderr


@pytest.mark.parametrize("workers", [0, 2])
def test_an_image_that_fails_only_when_decoded_ends_the_run_with_one_line(tmp_path, workers):
    """The header reads (so the up-front check passes) but the pixels are cut off: the worker's error must reach
    the main loop, not hang it (the old DataLoader thread printed it and waited forever)."""
    data = tmp_path / "data"
    data.mkdir()
    full = photo(tmp_path / "full.png", size=(400, 300))
    blob = full.read_bytes()
    (data / "cut.png").write_bytes(blob[:len(blob) // 2])
    res = run_cli(tiny_args("demo", tmp_path, data=str(data), num_workers=workers, iterations=50, run="t"),
                  timeout=60)
    assert res.returncode == 2, res.stdout[-500:] + res.stderr[-2000:]
    assert len(error_lines(res.stderr)) == 1 and "cut.png" in res.stderr and "truncated" in res.stderr


def test_images_smaller_than_the_patch_fail_up_front(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    photo(data / "big.png", size=(200, 200))
    photo(data / "tiny.png", size=(20, 30))
    with pytest.raises(SRError, match=r"tiny.png is 20x30 .*smaller than an LR patch of 16x16 at x2.*--patch_size"):
        train.main(tiny_args("demo", tmp_path, data=str(data), patch_size=16))
    assert not (tmp_path / "demo_x2").exists()


def test_a_paper_recipe_without_its_data_refuses_and_names_the_download(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/DIV2K here
    args = [a for a in tiny_args("rdn", tmp_path) if not a.startswith("--data=")]
    with pytest.raises(SRError) as e:
        train.main(args)
    msg = str(e.value)
    assert "data/DIV2K does not exist" in msg and "python data_scripts/div2k.py --root data/DIV2K" in msg
    assert "--data=embedded:train" in msg and "DIV2K, 800 training images" in msg
    args = [a for a in tiny_args("vdsr", tmp_path) if not a.startswith("--data=")]
    with pytest.raises(SRError, match=r"no default data.*291 images.*--data=FOLDER.*--data=embedded:train"):
        train.main(args)
    assert not any(tmp_path.iterdir())


def test_the_run_says_what_it_trains_on(tmp_path, capsys):
    assert train.main(tiny_args("rdn", tmp_path, iterations=1, val_every=1)) == 0
    out = capsys.readouterr().out
    assert "data: embedded:train (11 images); LR patches 8x8 -> HR 32x32, batch 2; 1000 iterations = 2,000 patches" in out
    assert "the paper: DIV2K, 800 training images (Sec. 5.1)" in out
    assert "WARNING: rdn_x4 trains on the 11 embedded photos, a stand-in for the paper's DIV2K" in out
    assert "validation: embedded_val (2 images)" in out
    assert train.main(tiny_args("demo", tmp_path, iterations=1, val_every=1)) == 0
    assert "WARNING" not in capsys.readouterr().out  # the demo is meant to run on the embedded photos


def test_recipe_help_shows_the_recipes_values_and_each_options_meaning(capsys):
    assert train.main(["rlfn", "--stage=2", "--help"]) == 0
    out = capsys.readouterr().out
    assert "options (type, value in recipe 'rlfn')" in out
    assert "--batch_size=64  (int) patches per iteration" in out
    assert "--data=div2k:data/DIV2K  (str) training images" in out
    assert "--save_every=1000  (int) write Model/state every N iterations" in out
    meaning = configs.option_help()
    missing = [f for f in configs.FIELD_TYPES if not meaning.get(f)]
    assert not missing, f"options without a meaning in Recipe's comments: {missing}"


def sigint_args(tmp_path, run, **extra):
    # val_every far away: only the interrupt (or the end) writes a checkpoint.
    return tiny_args("rdn", tmp_path, iterations=300, val_every=1000, save_every=0, save_minutes=0, batch_size=2,
                     milestones="100,200", ema=0.5, run=run, sample_images=0, **extra)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_at_the_iteration_boundary_and_the_resumed_run_is_exact(tmp_path, sig):
    proc = subprocess.Popen([sys.executable, "-m", "paddle_sr.train", *sigint_args(tmp_path, "cut", progress="true")],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # the tqdm bar (stderr) shows the iteration; signal once a few have run
    buf = ""
    deadline = time.time() + 120
    while time.time() < deadline:
        ch = proc.stderr.read(1)
        buf += ch
        done = [int(n) for n in re.findall(r"\| (\d+)/300", buf)]
        if not ch or (done and done[-1] >= 4):
            break
    t_signal = time.time()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert time.time() - t_signal < 30
    assert proc.returncode == 128 + sig, err[-2000:]
    folder = tmp_path / "cut"
    k = paddle.load(str(folder / train.STATE))["iteration"]
    assert 4 <= k < 300
    assert f"stopped at iteration {k} ({signal.Signals(sig).name}); checkpoint: {folder / train.STATE}" in out
    assert (folder / "Model.pdparams").is_file()
    # resume: from k, not from 0, and the same weights as a run that was never interrupted
    assert train.main(sigint_args(tmp_path, "cut")) == 0
    assert train.main(sigint_args(tmp_path, "straight")) == 0
    for name in ("Model.pdparams", "Best.pdparams"):
        a, b = weights(folder / name), weights(tmp_path / "straight" / name)
        assert all(np.array_equal(a[key], b[key]) for key in a), name


def test_save_every_writes_a_resumable_state_between_validations(tmp_path):
    assert train.main(tiny_args("rdn", tmp_path, iterations=5, val_every=100, save_every=2, stop_after=3,
                                save_minutes=0, run="p")) == 0
    state = paddle.load(str(tmp_path / "p" / train.STATE))
    assert state["iteration"] == 3  # saved at 2 (save_every) and at 3 (stop_after)
    assert not (tmp_path / "p" / "Best.pdparams").exists()  # no validation has run yet


def test_a_crash_between_checkpoint_files_leaves_a_folder_that_resumes(tmp_path, monkeypatch):
    """The state is written first; a full disk on the weights file ends with one line, and the rerun resumes
    from that state and rewrites the weights it lacked."""
    real = training_run.atomic_save
    calls = []

    def full_disk(obj, path):
        calls.append(os.path.basename(path))
        if os.path.basename(path) == "Best.pdparams":
            raise OSError(28, "No space left on device", path)
        return real(obj, path)

    monkeypatch.setattr(training_run, "atomic_save", full_disk)  # what train's write_checkpoint writes with
    args = tiny_args("rdn", tmp_path, iterations=4, val_every=2, save_every=0, run="full")
    with pytest.raises(SRError, match=r"cannot write the checkpoint of iteration 2 .*No space left on device.*"
                                      r"previous checkpoint \(none yet\) is intact.*rerun the same command"):
        train.main(args)
    assert calls[:2] == [train.STATE, "Best.pdparams"]
    folder = tmp_path / "full"
    assert paddle.load(str(folder / train.STATE))["iteration"] == 2 and not (folder / "Best.pdparams").exists()
    monkeypatch.setattr(training_run, "atomic_save", real)
    assert train.main(args) == 0
    assert train.main(tiny_args("rdn", tmp_path, iterations=4, val_every=2, save_every=0, run="clean")) == 0
    for name in ("Model.pdparams", "Best.pdparams"):
        a, b = weights(folder / name), weights(tmp_path / "clean" / name)
        assert all(np.array_equal(a[key], b[key]) for key in a), name


def test_the_notebook_loader_stream_is_the_same_for_every_worker_count_and_stops_its_workers(tmp_path):
    from paddle_sr import data

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        photo(folder / f"{i}.png", seed=i)
    ds = data.PatchDataset(str(folder), 2, 8, seed=5)
    one = data.batches(ds, 4, start=3)
    two = data.batches(ds, 4, start=3, num_workers=2)
    for _ in range(3):
        (a_lr, a_hr), (b_lr, b_hr) = next(one), next(two)
        assert a_lr.dtype == np.float32 and np.array_equal(a_lr, b_lr) and np.array_equal(a_hr, b_hr)
    two.close()  # the pool is shut down with the stream, not left to the interpreter's exit
    shutil.rmtree(folder)
    with pytest.raises(SRError, match="does not exist"):
        next(data.batches(ds, 4, start=100))  # files gone mid-run: a clear error, not a hang


@pytest.mark.parametrize("gray", ["matlab", "basicsr"])
def test_training_validation_and_evaluate_score_set14_the_same(shared, tmp_path, gray):
    """One scoring path: the numbers behind Best.pdparams and the VisualDL curves are evaluate's, gray file
    (bridge.png) included, for either convention."""
    from paddle_sr import models
    from paddle_sr.evaluate import evaluate

    paddle.seed(3)
    model = models.create("rdn", scale=4, num_features=8, num_blocks=1, num_layers=1, growth_rate=4)
    model.eval()
    cfg = configs.resolve("rdn", {"val_data": str(shared / "benchmarks" / "Set14"), "val_gray": gray,
                                  "data": "embedded:train"})
    val = train.validate(model, train.validation_sets(cfg.val_data, cfg.scale, cfg.val_max_size), cfg)
    psnr, ssim, images = val["Set14"]
    ref = evaluate(model, 4, [str(shared / "benchmarks" / "Set14")], gray=gray, progress=False)["Set14"]
    assert len(images) == 14 and psnr == ref["psnr"] and ssim == ref["ssim"]
    bicubic = train.validate(None, train.validation_sets(cfg.val_data, cfg.scale, 0), cfg)["Set14"]
    assert bicubic[0] == evaluate(None, 4, [str(shared / "benchmarks" / "Set14")], gray=gray, progress=False)["Set14"]["psnr"]


def test_a_run_folder_is_locked_while_a_training_writes_it(tmp_path):
    import json
    import socket

    folder = tmp_path / "busy"
    lock = folder / training_run.LOCK

    def args(**extra):  # never ends by itself: stopped by SIGTERM below
        return tiny_args("rdn", tmp_path, iterations=100000, val_every=100000, save_every=0, save_minutes=0,
                         batch_size=2, run="busy", sample_images=0, **extra)
    proc = subprocess.Popen([sys.executable, "-m", "paddle_sr.train", *args(progress="true")],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        buf, deadline = "", time.time() + 120
        while time.time() < deadline:
            ch = proc.stderr.read(1)
            buf += ch
            if not ch or re.search(r"\| [1-9]\d*/100000", buf):
                break
        owner = json.loads(lock.read_text())
        assert owner["pid"] == proc.pid and owner["host"] == socket.gethostname()
        second = run_cli(args())
        assert second.returncode == 2 and len(error_lines(second.stderr)) == 1, second.stderr
        assert f"is being written by another training (pid {proc.pid} on {owner['host']}" in second.stderr
        assert "--run=NAME" in second.stderr and json.loads(lock.read_text())["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM and not lock.exists()  # released on the way out

    # a lock left by a training that was killed (its pid no longer runs on this host): taken over, with a note
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "start": 1, "started": "earlier"}))
    res = run_cli(args(stop_after=1))
    assert res.returncode == 0, res.stderr
    assert f"took over the stale lock of {folder} (pid {dead.pid} on {socket.gethostname()}" in res.stdout
    assert not lock.exists()

    # a lock from another machine cannot be checked from here: say so and how to remove it
    lock.write_text(json.dumps({"pid": 1, "host": "gpu-node-7.example", "start": None, "started": "earlier"}))
    res = run_cli(args(stop_after=1))
    assert res.returncode == 2 and len(error_lines(res.stderr)) == 1, res.stderr
    assert "locked by a training on another machine (pid 1 on gpu-node-7.example" in res.stderr
    assert f"delete {lock} and rerun" in res.stderr and lock.exists()


def test_a_live_unrelated_process_with_a_reused_pid_is_not_the_owner(tmp_path):
    # The lock names its owner by pid and process start time: a pid that now belongs to another process
    # (here: a sleeping child, with a start time that does not match) is a stale lock.
    import json
    import socket

    other = subprocess.Popen(["sleep", "60"])
    try:
        run_dir = tmp_path / "r"
        run_dir.mkdir()
        (run_dir / training_run.LOCK).write_text(json.dumps({"pid": other.pid, "host": socket.gethostname(),
                                                            "start": 12345, "started": "long ago"}))
        with training_run.RunLock(str(run_dir)):
            assert json.loads((run_dir / training_run.LOCK).read_text())["pid"] == os.getpid()
        assert not (run_dir / training_run.LOCK).exists()
        # the same child as the owner, with its real start time: refused
        (run_dir / training_run.LOCK).write_text(json.dumps({"pid": other.pid, "host": socket.gethostname(),
                                                            "start": training_run._process_start(other.pid)}))
        with pytest.raises(SRError, match=f"being written by another training \\(pid {other.pid}"):
            training_run.RunLock(str(run_dir)).acquire()
    finally:
        other.kill()
        other.wait()


def test_training_logs_carry_no_mkl_noise(tmp_path):
    # RLFN's validation LR (64 px HR at x4 = 16 px) is under the size probe's 32 px: its 1x1 forward once
    # printed "Intel MKL ERROR: Parameter 11 was incorrect on entry to cblas_sgemm" into every such log.
    res = run_cli(tiny_args("rlfn_ntire", tmp_path, run="quiet"))
    assert res.returncode == 0, res.stderr
    assert "iteration 2:" in res.stdout and "MKL" not in res.stdout + res.stderr
