"""The persistent export cache (``paddle_sr.export_cache``): real exports on disk, real second processes.

Each second process builds the same seeded model, asks ``InferenceEngine.from_model`` for its predictor
and prints how many times ``paddle_sr.export.export`` ran (the counter wraps the real function), so "no
export happened" is counted, not inferred from timing.
"""
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import paddle
import pytest

from paddle_sr.runtime import engines as C
from paddle_sr.runtime import export_cache as EC
from paddle_sr import models
from paddle_sr.runtime.predictor import InferenceEngine
from paddle_sr.export import main as export_main

ROOT = Path(__file__).resolve().parents[1]

# A second process: seeded tiny EDSR-baseline, its predictor through the cache; prints exports, hit, output.
CHILD = r"""
import json, sys
import numpy as np, paddle
from paddle_sr import models
from paddle_sr.runtime import export_format as X
from paddle_sr.runtime.predictor import InferenceEngine
count, real = [0], X.export
def counted(model, out):
    count[0] += 1
    return real(model, out)
X.export = counted
if len(sys.argv) > 1:
    paddle.__version__ = sys.argv[1]  # as if another Paddle were installed
paddle.seed(3)
m = models.create("edsr_baseline", scale=2, n_resblocks=1, n_feats=8)
m.eval()
if len(sys.argv) > 2:
    with paddle.no_grad():
        m.head[0].bias.set_value(m.head[0].bias + float(sys.argv[2]))
e = InferenceEngine.from_model(m, device="cpu")
lr = np.linspace(-1, 1, 3 * 12 * 12, dtype="float32").reshape(1, 3, 12, 12)
print(json.dumps({"exports": count[0], "cached": e.cached, "folder": e.folder, "sum": float(e(lr).sum())}))
"""


def _child(cache, *args):
    env = dict(os.environ, PADDLE_SR_EXPORT_CACHE=str(cache), PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", CHILD, *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc):
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1]), err


def _run(cache, *args):
    return _result(_child(cache, *args))


def test_second_process_loads_the_cache_and_new_weights_or_paddle_miss_it(tmp_path):
    cache = tmp_path / "cache"
    first, _ = _run(cache)
    assert first["exports"] == 1 and not first["cached"]
    second, _ = _run(cache)
    assert second["exports"] == 0 and second["cached"] and second["folder"] == first["folder"]
    assert second["sum"] == pytest.approx(first["sum"], abs=1e-4)  # the same program and weights
    other_weights, _ = _run(cache, paddle.__version__, 0.5)
    assert other_weights["exports"] == 1 and other_weights["folder"] != first["folder"]
    other_paddle, _ = _run(cache, "9.9.9")
    assert other_paddle["exports"] == 1 and other_paddle["folder"] not in (first["folder"], other_weights["folder"])
    assert len(EC.entries(str(cache))) == 3


def test_concurrent_writers_leave_one_valid_entry(tmp_path):
    cache = tmp_path / "cache"
    procs = [_child(cache), _child(cache)]  # both start with an empty cache: both may export
    results = [_result(p)[0] for p in procs]
    assert all(r["exports"] <= 1 for r in results) and results[0]["sum"] == pytest.approx(results[1]["sum"], abs=1e-4)
    names = os.listdir(cache)
    assert len(names) == 1 and not names[0].startswith(".")  # one entry, no temporary folder left behind
    assert EC.check(str(cache / names[0])) is None  # whole: manifest and checksums hold
    third, _ = _run(cache)
    assert third["exports"] == 0 and third["cached"]


def _model(**kw):
    paddle.seed(3)
    m = models.create("edsr_baseline", scale=2, **dict(dict(n_resblocks=1, n_feats=8), **kw))
    m.eval()
    return m


def _count_exports(monkeypatch):
    from paddle_sr.runtime import export_format as X

    calls, real = [], X.export

    def counted(model, out):
        calls.append(out)
        return real(model, out)
    monkeypatch.setattr(X, "export", counted)
    return calls


@pytest.mark.parametrize("damage", ["truncate", "foreign", "half_written"])
def test_a_damaged_entry_is_rebuilt_with_one_warning(tmp_path, monkeypatch, damage):
    monkeypatch.setenv(EC.DIR_ENV, str(tmp_path))
    calls = _count_exports(monkeypatch)
    model = _model()
    good = InferenceEngine.from_model(model, device="cpu")
    entry = Path(good.folder)
    lr = np.zeros((1, 3, 8, 8), "float32")
    if damage == "truncate":  # a torn params file
        params = entry / "model.pdiparams"
        params.write_bytes(params.read_bytes()[:100])
    elif damage == "foreign":  # a manifest for another key
        manifest = json.loads((entry / EC.MANIFEST).read_text())
        manifest["key"] = "0" * 24
        (entry / EC.MANIFEST).write_text(json.dumps(manifest))
    else:  # a crash before the manifest was written (or someone's own folder under that name)
        (entry / EC.MANIFEST).unlink()
    with pytest.warns(RuntimeWarning, match="damaged or not the suite's.*rebuilding it") as record:
        rebuilt = InferenceEngine.from_model(model, device="cpu")
    assert len([w for w in record if "export cache" in str(w.message)]) == 1
    assert len(calls) == 2 and not rebuilt.cached and rebuilt.folder == str(entry)
    assert EC.check(str(entry), EC.key_of(EC.facts(model, C.fingerprint(model), "cpu"))) is None
    assert np.allclose(rebuilt(lr), good(lr), atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert InferenceEngine.from_model(model, device="cpu").cached and len(calls) == 2
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")] == []  # the damaged copy is gone


def test_constructor_arguments_that_keep_the_weights_change_the_key():
    a, b = _model(), _model(res_scale=0.5)  # the same parameters, another forward
    assert C.fingerprint(a) == C.fingerprint(b)
    fa, fb = (EC.facts(m, C.fingerprint(m), "cpu") for m in (a, b))
    assert EC.key_of(fa) != EC.key_of(fb) and fa["kwargs"] == {"n_resblocks": 1, "n_feats": 8}
    assert EC.key_of(fa) != EC.key_of(dict(fa, device="gpu"))
    assert EC.key_of(fa) == EC.key_of(EC.facts(_model(), C.fingerprint(a), "cpu"))  # stable for equal models


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_cache_exports_in_memory_with_one_warning(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv(EC.DIR_ENV, str(cache))
    calls = _count_exports(monkeypatch)
    cache.chmod(0o555)
    try:
        with pytest.warns(RuntimeWarning, match="cannot be written.*temporary folder") as record:
            engine = InferenceEngine.from_model(_model(), device="cpu")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # one warning per process, not per export
            InferenceEngine.from_model(_model(n_colors=3), device="cpu")
    finally:
        cache.chmod(0o755)
        EC._warned.discard(str(cache))
    assert len(record) == 1 and len(calls) == 2 and engine.folder is None and os.listdir(cache) == []
    assert engine(np.zeros((1, 3, 8, 8), "float32")).shape == (1, 3, 16, 16)


def test_unwritable_cache_degrades_also_as_root(tmp_path, monkeypatch):
    """A cache path below a file cannot be created whoever runs the tests (root included)."""
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv(EC.DIR_ENV, str(tmp_path / "file" / "cache"))
    calls = _count_exports(monkeypatch)
    with pytest.warns(RuntimeWarning, match="cannot be written"):
        engine = InferenceEngine.from_model(_model(), device="cpu")
    EC._warned.clear()
    assert len(calls) == 1 and engine.folder is None


def test_auto_counts_a_cached_export_as_almost_free(tmp_path, monkeypatch):
    monkeypatch.setenv(EC.DIR_ENV, str(tmp_path))
    model = models.create("rlfn_ntire", scale=4)
    weights = C.fingerprint(model)
    full = C.export_seconds(model, weights)
    assert full == C.export_seconds(model)
    InferenceEngine.from_model(model, device="cpu")
    assert C.export_seconds(model, weights) < full / 3
    monkeypatch.setenv(EC.DIR_ENV, "off")
    assert C.export_seconds(model, weights) == full


def test_lru_eviction_and_the_list_and_clear_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(EC.DIR_ENV, str(tmp_path))
    first = InferenceEngine.from_model(_model(), device="cpu").folder
    size = EC.entries()[0][1]
    second = InferenceEngine.from_model(_model(n_feats=4), device="cpu").folder
    os.utime(Path(second) / EC.MANIFEST, (1, 1))  # second used long ago, first just now
    monkeypatch.setenv(EC.LIMIT_ENV, str(size * 2.5 / 1e6))  # room for two entries of the first's size
    third = InferenceEngine.from_model(_model(n_feats=12), device="cpu").folder
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in (first, third))  # second evicted
    export_main(["--cache", "list"])
    out = capsys.readouterr().out
    assert str(tmp_path) in out and os.path.basename(third) in out and "edsr_baseline x2" in out
    assert os.path.basename(second) not in out
    export_main(["--cache", "clear"])
    assert "removed 2 entries" in capsys.readouterr().out and os.listdir(tmp_path) == []
    monkeypatch.setenv(EC.LIMIT_ENV, "lots")
    proc = subprocess.run([sys.executable, "-m", "paddle_sr.export", "--cache", "list"], cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "PADDLE_SR_EXPORT_CACHE_MB must be a number" in proc.stderr


def test_full_disk_while_writing_the_entry_degrades_with_one_warning(tmp_path, monkeypatch):
    import errno

    monkeypatch.setenv(EC.DIR_ENV, str(tmp_path))

    def full(path, sync=False):
        raise OSError(errno.ENOSPC, "No space left on device", path)
    monkeypatch.setattr(EC, "_file_digest", full)  # the disk fills while the entry is written
    with pytest.warns(RuntimeWarning, match="cannot be written.*No space left"):
        engine = InferenceEngine.from_model(_model(), device="cpu")
    EC._warned.clear()
    assert engine.folder is None and os.listdir(tmp_path) == []  # nothing half-written left behind
    assert engine(np.zeros((1, 3, 8, 8), "float32")).shape == (1, 3, 16, 16)


def test_auto_sums_eager_time_across_processes(tmp_path, monkeypatch):
    """A fresh model instance has fresh engine state, as in a new process; only the cache folder carries over."""
    from paddle_sr.runtime import tiling as I

    monkeypatch.setenv(EC.DIR_ENV, str(tmp_path))
    calls = _count_exports(monkeypatch)
    first = _model()
    share = 0.6  # each call is predicted at 60 % of the export cost: never worth it in one call
    monkeypatch.setattr(C, "EAGER_MACS_PER_S", C.macs_per_px(first) * 16 * 16 / (share * C.export_seconds(first)))
    lr = np.zeros((16, 16, 3), np.uint8)
    I.super_resolve(first, lr, 2)
    assert C.chosen(first) == "eager" and calls == []
    assert EC.spent(EC.facts(first, C.fingerprint(first), "cpu")) == pytest.approx(share * C.export_seconds(first), rel=1e-3)
    second = _model()  # the next process: 0.6 + 0.6 of the export cost
    I.super_resolve(second, lr, 2)
    assert C.chosen(second) == "inference" and len(calls) == 1
    third = _model()  # and the one after loads it
    I.super_resolve(third, lr, 2)
    assert C.chosen(third) == "inference" and len(calls) == 1
    export_main(["--cache", "clear"])
    assert os.listdir(tmp_path) == []
