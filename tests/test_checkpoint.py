"""Atomic weight files and the clear errors of loading a file that does not fit."""
import os
import stat

import numpy as np
import paddle
import pytest

from paddle_sr import checkpoint
from paddle_sr.errors import SRError
from paddle_sr.models import create

TINY = dict(num_features=8, num_blocks=1, num_layers=1, growth_rate=4)


def test_atomic_save_writes_a_loadable_file_with_umask_permissions(tmp_path):
    model = create("rdn", scale=2, **TINY)
    path = tmp_path / "Model.pdparams"
    checkpoint.atomic_save(model.state_dict(), path)
    loaded = paddle.load(str(path))
    np.testing.assert_array_equal(loaded["SFENet1.weight"].numpy(), model.SFENet1.weight.numpy())
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["Model.pdparams"]


def test_failed_save_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "Best.pdparams"
    checkpoint.atomic_save({"w": paddle.ones([2])}, path)
    with pytest.raises(Exception):
        checkpoint.atomic_save({"w": lambda: 0}, path)  # paddle.save cannot pickle a lambda
    assert os.listdir(tmp_path) == ["Best.pdparams"]
    np.testing.assert_array_equal(paddle.load(str(path))["w"].numpy(), [1, 1])


def test_load_weights_names_missing_torn_and_mismatched_files(tmp_path):
    model = create("rdn", scale=2, **TINY)
    with pytest.raises(SRError, match="does not exist"):
        checkpoint.load_weights(model, tmp_path / "nope.pdparams")
    torn = tmp_path / "torn.pdparams"
    torn.write_bytes(b"\x80\x04garbage")
    with pytest.raises(SRError, match="cannot read weights file"):
        checkpoint.load_weights(model, torn)
    x4 = tmp_path / "x4.pdparams"
    paddle.save(create("rdn", scale=4, **TINY).state_dict(), str(x4))
    with pytest.raises(SRError, match=r"does not fit model 'rdn' x2.*(missing|shape)"):
        checkpoint.load_weights(model, x4)
