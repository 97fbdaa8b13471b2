"""Atomic weight files and the clear errors of loading a file that does not fit."""
import json
import os
import stat

import numpy as np
import paddle
import pytest

from paddle_sr.core import files
from paddle_sr.models.resolve import model_for_weights
from paddle_sr.training import run as training_run
from paddle_sr.weights.state import load_weights
from paddle_sr.core.errors import SRError
from paddle_sr.models import create

TINY = dict(num_features=8, num_blocks=1, num_layers=1, growth_rate=4)


def test_atomic_save_writes_a_loadable_file_with_umask_permissions(tmp_path):
    model = create("rdn", scale=2, **TINY)
    path = tmp_path / "Model.pdparams"
    files.atomic_save(model.state_dict(), path)
    loaded = paddle.load(str(path))
    np.testing.assert_array_equal(loaded["SFENet1.weight"].numpy(), model.SFENet1.weight.numpy())
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["Model.pdparams"]


def test_failed_save_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "Best.pdparams"
    files.atomic_save({"w": paddle.ones([2])}, path)
    with pytest.raises(Exception):
        files.atomic_save({"w": lambda: 0}, path)  # paddle.save cannot pickle a lambda
    assert os.listdir(tmp_path) == ["Best.pdparams"]
    np.testing.assert_array_equal(paddle.load(str(path))["w"].numpy(), [1, 1])


def test_load_weights_names_missing_torn_and_mismatched_files(tmp_path):
    model = create("rdn", scale=2, **TINY)
    with pytest.raises(SRError, match="does not exist"):
        load_weights(model, tmp_path / "nope.pdparams")
    torn = tmp_path / "torn.pdparams"
    torn.write_bytes(b"\x80\x04garbage")
    with pytest.raises(SRError, match="cannot read weights file"):
        load_weights(model, torn)
    x4 = tmp_path / "x4.pdparams"
    paddle.save(create("rdn", scale=4, **TINY).state_dict(), str(x4))
    with pytest.raises(SRError, match=r"does not fit model 'rdn' x2.*(missing|shape)"):
        load_weights(model, x4)


def test_json_gets_umask_permissions_and_a_folder_in_the_way_is_named(tmp_path):
    old = os.umask(0o027)
    try:
        files.atomic_write_json({"a": 1}, tmp_path / "r.json")
        assert stat.S_IMODE(os.stat(tmp_path / "r.json").st_mode) == 0o640  # not mkstemp's 0600
    finally:
        os.umask(old)
    (tmp_path / "taken").mkdir()
    with pytest.raises(SRError, match="is an existing folder; name the file"):
        files.atomic_save({"w": paddle.ones([1])}, tmp_path / "taken")
    assert sorted(os.listdir(tmp_path)) == ["r.json", "taken"]


def test_check_writable_before_the_work(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("x")
    files.check_writable(tmp_path / "new" / "deeper", folder=True)  # may not exist yet
    files.check_writable(tmp_path / "new" / "r.json")
    assert sorted(os.listdir(tmp_path)) == ["plain"]  # the probe leaves nothing behind, creates no folder
    with pytest.raises(SRError, match=r"cannot write --out folder .*plain/out: .*plain is a file"):
        files.check_writable(plain / "out", "--out folder", folder=True)
    with pytest.raises(SRError, match="is an existing file, not a folder"):
        files.check_writable(plain, "--out folder", folder=True)
    with pytest.raises(SRError, match="is an existing folder; name the file"):
        files.check_writable(tmp_path, "--out file")
    if os.geteuid() != 0:  # root ignores permission bits
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            with pytest.raises(SRError, match="cannot write .*Permission denied"):
                files.check_writable(ro / "out", folder=True)
        finally:
            ro.chmod(0o700)


def test_model_for_weights_explicit_kwargs_and_arbitrary_scale_runs(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    enc = dict(num_features=8, num_blocks=1, num_layers=1, growth_rate=4)
    kwargs = dict(encoder_kwargs=enc, hidden_list=(8,))
    files.atomic_save(create("liif", scale=4, **kwargs).state_dict(), run / "Best.pdparams")
    (run / "config.json").write_text(json.dumps({"model": "liif", "scale": 4, "model_kwargs": kwargs}))
    # LIIF does not depend on the scale: its run's x4 weights render at x2.5 too
    assert model_for_weights("liif", 2.5, run / "Best.pdparams").sr_scale == 2.5
    bare = tmp_path / "rdn.pdparams"
    files.atomic_save(create("rdn", scale=2, **TINY).state_dict(), bare)
    model = model_for_weights("rdn", 2, bare, model_kwargs=TINY)  # --arg KEY=VALUE of export
    assert model.SFENet1.weight.shape[0] == 8 and not model.training
    with pytest.raises(SRError, match="does not accept the arguments"):
        model_for_weights("rdn", 2, bare, model_kwargs=dict(TINY, no_such_argument=1))


def test_a_training_state_file_passed_as_weights_is_named_as_such(tmp_path):
    # state.pdstate once got "it was probably saved for another model", pointing the wrong way.
    import subprocess
    import sys

    from paddle_sr.training import recipes as configs
    from paddle_sr.train import make_net

    import json

    cfg = configs.resolve("demo", {"model_kwargs": json.dumps(TINY)})
    model = create("rdn", scale=2, **TINY)
    run = tmp_path / "output" / "demo_x2"
    run.mkdir(parents=True)
    (run / "config.json").write_text(configs.to_json(cfg))
    progress = dict(iteration=5, best_psnr=30.0, best_iteration=5, config={"model": "rdn"})
    training_run.write_checkpoint(str(run), progress, [make_net("model", model, cfg, 1e-4)], None, None, True, None)
    state = run / training_run.STATE
    with pytest.raises(SRError, match=r"state.pdstate is a training state file .*not weights; pass the run's "
                                      r"Best.pdparams .*Model.pdparams .*beside it: .*Best.pdparams"):
        load_weights(create("rdn", scale=2, **TINY), state)
    img = tmp_path / "a.png"
    from PIL import Image
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(img)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, "-m", "paddle_sr.predict", str(img), "--model", "rdn", "--scale", "2",
                        "--weights", str(state), "--out", str(tmp_path / "out")], cwd=root, capture_output=True,
                       text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 2 and "is a training state file" in r.stderr and "another model" not in r.stderr, r.stderr


def test_atomic_write_without_replace_keeps_a_file_that_appeared_meanwhile(tmp_path):
    # Two runs into one output folder: the one that finishes second must not replace the first's file
    # when it was not told --force (the existence check before the work cannot see a file written later).
    path = tmp_path / "a.png"

    def write(tmp):
        path.write_bytes(b"the other process's result")  # appears while this one is still writing
        with open(tmp, "wb") as f:
            f.write(b"mine")
    with pytest.raises(SRError, match=r"a.png was written by another process while this one worked .*--force"):
        files.atomic_write(path, write, replace=False)
    assert path.read_bytes() == b"the other process's result" and os.listdir(tmp_path) == ["a.png"]
    files.atomic_write(path, write, replace=True)  # --force: the whole new file
    assert path.read_bytes() == b"mine" and os.listdir(tmp_path) == ["a.png"]
    files.atomic_write(tmp_path / "b.png", lambda tmp: open(tmp, "wb").write(b"new"), replace=False)
    assert (tmp_path / "b.png").read_bytes() == b"new" and sorted(os.listdir(tmp_path)) == ["a.png", "b.png"]
