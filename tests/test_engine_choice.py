"""``engine='auto'`` (the default of super_resolve, evaluate, predict, the app): eager until the work
pays for an export, then the model exported once and run by Paddle Inference (oneDNN on CPU).

Real models, real exports: the switch happens where the cost model says, the exported output
stays within ``TOL`` of eager (the largest difference measured, RLFN_ntire at 256x256 LR, is
1.45e-3), a change of weights is noticed (also one that keeps every absolute value), and a failed
export falls back to eager with one warning.
"""
import warnings

import numpy as np
import paddle
import pytest

from paddle_sr.runtime import device as E
from paddle_sr.runtime.predictor import InferenceEngine
from paddle_sr.runtime import engines as C
from paddle_sr.runtime import tiling as I
from paddle_sr import models

TOL = 2e-3  # max abs difference from eager on 0-255


@pytest.fixture(autouse=True)
def _paddle_inference_only(monkeypatch):
    """These tests pin auto's switch to Paddle Inference; its race against ONNX Runtime is tests/test_onnx.py's."""
    monkeypatch.setattr(C, "AUTO_CANDIDATES", ("inference",))


def _image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 255, (h // 8 + 1, w // 8 + 1, 3))
    img = np.kron(low, np.ones((8, 8, 1)))[:h, :w] + rng.normal(0, 6, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _model(name="edsr_baseline", scale=2, **kw):
    paddle.seed(3)
    m = models.create(name, scale=scale, **kw)
    m.eval()
    return m


def test_tiny_model_stays_eager_and_bit_identical():
    model, lr = _model(n_resblocks=1, n_feats=8), _image(40, 48)
    eager = I.super_resolve(model, lr, 2, engine="eager")
    for _ in range(3):  # a few thousand MACs per pixel never pay for a one-second export
        assert np.array_equal(I.super_resolve(model, lr, 2), eager)
    assert C.chosen(model) == "eager"
    assert C.eager_seconds(model, 40 * 48) * 3 < C.export_seconds(model)


def test_auto_exports_once_the_predicted_eager_time_reaches_the_export_cost():
    """RLFN_ntire at full size: 0.30 MMAC per LR pixel, 53 sublayers (export about 1.1 s)."""
    model, lr = _model("rlfn_ntire", scale=4), _image(64, 72, seed=1)
    per_call = C.eager_seconds(model, 64 * 72)
    assert C.macs_per_px(model) == pytest.approx(299560, rel=0.01)  # the NTIRE report's 19.70 G at 256x256
    need = int(np.ceil(C.export_seconds(model) / per_call))  # calls until the sum reaches the export cost
    assert need >= 2
    eager = I.super_resolve(model, lr, 4, engine="eager")
    outs = []
    for i in range(need + 1):
        outs.append(I.super_resolve(model, lr, 4))
        assert C.chosen(model) == ("inference" if i >= need - 1 else "eager"), i
    assert all(np.array_equal(o, eager) for o in outs[:need - 1])  # eager calls: the eager result itself
    diff = max(np.abs(o - eager).max() for o in outs[need - 1:]) * 127.5
    assert 0 < diff < TOL  # oneDNN: another summation order, same image
    assert I.engine_for(model, "auto", 1) is I.engine_for(model, "auto", 1)  # built once, then cached


def test_one_big_call_exports_at_once_and_new_weights_start_over(monkeypatch):
    model, lr = _model(n_resblocks=2, n_feats=16), _image(48, 48, seed=2)
    monkeypatch.setattr(C, "EAGER_MACS_PER_S", 1e3)  # as if eager were very slow: the first call pays
    I.super_resolve(model, lr, 2)
    first = I.engine_for(model, "auto", 1)
    assert isinstance(first, InferenceEngine) and C.chosen(model) == "inference"
    assert "forward" not in vars(model) and not model.training  # still a plain eager layer
    with paddle.no_grad():  # flip the signs of one bias: every absolute value stays the same
        model.head[0].bias.set_value(-model.head[0].bias - 0.01)
    assert C.chosen(model) == "inference"  # no lookup yet
    monkeypatch.setattr(C, "EAGER_MACS_PER_S", 1e30)  # now eager is free: the new weights stay eager
    assert I.engine_for(model, "auto", 48 * 48) is model and C.chosen(model) == "eager"
    monkeypatch.setattr(C, "EAGER_MACS_PER_S", 1e3)
    second = I.engine_for(model, "auto", 48 * 48)
    assert isinstance(second, InferenceEngine) and second is not first
    eager = I.super_resolve(model, lr, 2, engine="eager")
    assert np.abs(I.super_resolve(model, lr, 2) - eager).max() * 127.5 < TOL


def test_fingerprint_sees_values_not_only_magnitudes():
    model = _model(n_resblocks=1, n_feats=8)
    a = C.fingerprint(model)
    assert C.fingerprint(model) == a
    with paddle.no_grad():
        model.head[0].weight.set_value(-model.head[0].weight)
    assert C.fingerprint(model) != a


def test_failed_export_warns_once_and_runs_eager(monkeypatch):
    model, lr = _model(n_resblocks=1, n_feats=8), _image(32, 32, seed=4)
    monkeypatch.setattr(C, "EAGER_MACS_PER_S", 1e3)
    calls = []

    def broken(m, engine, weights=None):
        calls.append(engine)
        raise RuntimeError("to_static cannot convert this layer")
    monkeypatch.setattr(C, "with_engine", broken)
    eager = I.super_resolve(model, lr, 2, engine="eager")
    with pytest.warns(RuntimeWarning, match="export for Paddle Inference failed, running eager.*to_static"):
        out = I.super_resolve(model, lr, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning, no second try
        out2 = I.super_resolve(model, lr, 2)
    assert calls == ["inference"] and np.array_equal(out, eager) and np.array_equal(out2, eager)
    with paddle.no_grad():  # new weights (a training run's next validation): still no second try
        model.head[0].bias.set_value(model.head[0].bias + 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        I.super_resolve(model, lr, 2)
    assert calls == ["inference"] and C.chosen(model) == "eager"
    with pytest.raises(RuntimeError, match="to_static"):  # asked for explicitly: the error is the user's
        C.engine_for(_model(n_resblocks=1, n_feats=4), "inference")


def test_auto_stays_eager_off_the_cpu_and_for_renderers(monkeypatch):
    model = _model(n_resblocks=1, n_feats=8)
    monkeypatch.setattr(C, "EAGER_MACS_PER_S", 1e3)
    monkeypatch.setattr(E, "current_device", lambda: "gpu")  # cuDNN: eager is the fast path there
    assert C.engine_for(model, "auto", 10 ** 6) is model
    monkeypatch.setattr(E, "current_device", lambda: "cpu")
    liif = models.create("liif_edsr_baseline", scale=2, encoder_kwargs=dict(n_resblocks=1, n_feats=8),
                         hidden_list=(8,))
    assert C.engine_for(liif, "auto", 10 ** 6) is liif


def test_process_default_and_cli_choices(monkeypatch, tmp_path):
    monkeypatch.delenv(C.ENGINE_ENV, raising=False)
    assert C.default_engine() == "auto"
    monkeypatch.setenv(C.ENGINE_ENV, "eager")
    model = _model(n_resblocks=1, n_feats=8)
    monkeypatch.setattr(C, "EAGER_MACS_PER_S", 1e3)
    assert I.engine_for(model, None, 10 ** 6) is model  # PADDLE_SR_ENGINE=eager turns auto off
    from paddle_sr.predict import main
    with pytest.raises(SystemExit) as e:
        main(["--model", "srcnn", "--scale", "2", str(tmp_path), "--out", str(tmp_path / "o"), "--engine", "turbo"])
    assert e.value.code == 2


def test_ctrl_c_during_the_export_waits_for_it_then_stops(monkeypatch, tmp_path, capfd):
    """A KeyboardInterrupt inside Paddle's graph conversion came out as a conversion error (which 'auto'
    would take for a failed export and carry on) or a segfault; now the export finishes, then it stops."""
    import os
    import signal
    import tempfile

    from paddle_sr.runtime import export_format as X

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where an uncached export would go
    monkeypatch.setenv("PADDLE_SR_EXPORT_CACHE", str(tmp_path / "cache"))  # where from_model's export goes
    before = signal.getsignal(signal.SIGINT)  # Python's handler, or SIG_IGN in a background job
    real, finished = X.export, []

    def interrupted_export(model, out):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C arrives while the export runs
        result = real(model, out)
        finished.append(sorted(os.listdir(out)))
        return result
    monkeypatch.setattr(X, "export", interrupted_export)
    model = _model(n_resblocks=1, n_feats=8)
    monkeypatch.setattr(C, "EAGER_MACS_PER_S", 1e3)
    with pytest.raises(KeyboardInterrupt):
        I.super_resolve(model, _image(24, 24), 2)  # engine 'auto' decides to export
    assert finished and "model.pdiparams" in finished[0]  # the export ran to its end
    assert "SIGINT: stopping once the model export has finished" in capfd.readouterr().err
    assert os.listdir(tmp_path / "tmp") == []  # no temporary folders left
    entries = os.listdir(tmp_path / "cache")  # only the finished cache entry, no hidden .tmp- folder
    assert len(entries) == 1 and not entries[0].startswith(".") and "model.pdiparams" in os.listdir(tmp_path / "cache" / entries[0])
    assert signal.getsignal(signal.SIGINT) is before  # the process's own SIGINT handling is back
    assert C.chosen(model) == "eager" and model not in C._failed  # not taken for a failed export
