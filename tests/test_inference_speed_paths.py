"""The faster inference paths: ``super_resolve(..., engine='inference')`` equals eager, and CPU threads.

``engine='inference'`` runs the model exported once (cached per model instance) through Paddle
Inference (oneDNN on CPU); its output must stay within 1e-3 of eager's on the 0-255 scale, whole
and tiled. Thread choice: ``engine.thread_count`` / ``use_threads`` / ``inference_threads``.
"""
import numpy as np
import paddle
import pytest

from paddle_sr.runtime import device as E
from paddle_sr.runtime.predictor import InferenceEngine
from paddle_sr.runtime import tiling as I
from paddle_sr import models
from paddle_sr.core.errors import SRError

TOL = 1e-3  # max abs difference on 0-255


def _image(h=20, w=24, seed=0):
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 255, (h // 4 + 1, w // 4 + 1, 3))
    img = np.kron(low, np.ones((4, 4, 1)))[:h, :w] + rng.normal(0, 8, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _model(name, **kw):
    paddle.seed(1)
    m = models.create(name, scale=2, **kw)
    m.eval()
    return m


CASES = [("rlfn_ntire", {}), ("edsr_baseline", dict(n_resblocks=2, n_feats=16)),
         ("imdn", {}), ("srcnn", {})]


@pytest.mark.parametrize("name,kw", CASES, ids=[c[0] for c in CASES])
def test_inference_engine_equals_eager(name, kw):
    model, lr = _model(name, **kw), _image()
    eager = I.super_resolve(model, lr, 2, engine="eager")
    fast = I.super_resolve(model, lr, 2, engine="inference")
    assert fast.shape == eager.shape == (40, 48, 3)
    assert np.abs(eager).max() > 0.1  # not a degenerate comparison
    assert np.abs(fast - eager).max() * 127.5 < TOL


def test_tiled_and_ensemble_inference_equal_eager():
    model, lr = _model("edsr_baseline", n_resblocks=1, n_feats=8), _image(26, 30, seed=2)
    for opts in (dict(tile=12, tile_overlap=4), dict(self_ensemble=True)):
        eager = I.super_resolve(model, lr, 2, engine="eager", **opts)
        fast = I.super_resolve(model, lr, 2, engine="inference", **opts)
        assert np.abs(fast - eager).max() * 127.5 < TOL, opts


def test_engine_is_cached_per_model_and_rebuilt_for_new_weights():
    model = _model("edsr_baseline", n_resblocks=1, n_feats=8)
    first = I.engine_for(model, "inference")
    assert isinstance(first, InferenceEngine)
    assert I.engine_for(model, "inference") is first
    assert not model.training and "forward" not in vars(model)  # still a plain eager layer
    with paddle.no_grad():
        model.head[0].bias.set_value(model.head[0].bias + 1.0)
    second = I.engine_for(model, "inference")
    assert second is not first
    lr = _image(12, 12)
    assert np.abs(I.super_resolve(model, lr, 2, engine="inference")
                  - I.super_resolve(model, lr, 2, engine="eager")).max() * 127.5 < TOL


def test_default_engine_switch_and_passthrough(monkeypatch):
    model = _model("srcnn")
    assert I.engine_for(model, "eager") is model
    assert I.default_engine() == "auto"
    previous = I.set_default_engine("inference")
    try:
        assert I.default_engine() == "inference"
        assert isinstance(I.engine_for(model), InferenceEngine)
    finally:
        I.set_default_engine(previous)
    monkeypatch.setenv(I.ENGINE_ENV, "inference")
    assert I.default_engine() == "inference"
    monkeypatch.setenv(I.ENGINE_ENV, "turbo")
    with pytest.raises(SRError, match="not an engine"):
        I.default_engine()
    with pytest.raises(SRError, match="unknown engine"):
        I.set_default_engine("turbo")
    liif = models.create("liif_edsr_baseline", scale=2, encoder_kwargs=dict(n_resblocks=1, n_feats=8),
                         hidden_list=(8,))
    assert I.engine_for(liif, "inference") is liif  # arbitrary-scale renderers stay eager


def test_thread_count_sources(monkeypatch):
    monkeypatch.delenv(E.THREADS_ENV, raising=False)
    monkeypatch.setattr(E, "_user_omp_threads", lambda: None)
    import os
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert E.thread_count() == usable
    assert E.thread_count(3) == 3
    monkeypatch.setattr(E, "_user_omp_threads", lambda: "5")
    assert E.thread_count() == 5
    monkeypatch.setenv(E.THREADS_ENV, "2")
    assert E.thread_count() == 2  # the suite's own variable wins
    monkeypatch.setenv(E.THREADS_ENV, "many")
    with pytest.raises(SRError, match="PADDLE_SR_THREADS"):
        E.thread_count()
    with pytest.raises(SRError, match="at least 1"):
        E.thread_count(0)


def test_inference_threads_set_and_restore(monkeypatch):
    calls = []
    monkeypatch.setattr(E, "_set_threads", calls.append)
    monkeypatch.setattr(E, "_threads", None)
    monkeypatch.setattr(E, "thread_count", lambda n=None: 4)
    monkeypatch.setattr(E, "_startup_threads", lambda: 1)
    with E.inference_threads():
        assert calls == [4]
    assert calls == [4, 1]  # back to the start-up setting: a training loop keeps its own
    calls.clear()
    monkeypatch.setattr(E, "_threads", 2)  # the process chose (use_threads): left alone
    with E.inference_threads():
        pass
    assert calls == []


def test_use_device_threads_only_when_asked(monkeypatch):
    calls = []
    monkeypatch.setattr(E, "use_threads", lambda n=None: calls.append(n))
    monkeypatch.setattr(E, "_threads", None)
    E.use_device("cpu")
    assert calls == []  # training (train.pick_device) keeps Paddle's default
    E.use_device("cpu", threads=True)
    assert calls == [None]
