"""ONNX Runtime runner for an ONNX export (``python -m paddle_sr.export --format onnx``).

``OnnxEngine(path)`` is called like the eager model and like ``engine.InferenceEngine``: NCHW float32
in the suite's [-1, 1] (numpy or Paddle tensor) in, SR of the same kind out, so it runs inside tiled
inference and ``super_resolve``. CPU execution provider, ``thread_count()`` intra-op threads.
``onnxruntime`` is optional: without it this module imports, and creating an engine is an SRError
naming the install command.
"""
import os

import numpy as np

from paddle_sr.core.errors import SRError
from paddle_sr.runtime.predictor import ExportedEngine

INSTALL_HINT = "pip install onnxruntime (or pip install -r requirements-onnx.txt)"


def require_onnxruntime(what="--engine onnxruntime"):
    """The ``onnxruntime`` module, or an SRError that says how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise SRError(f"{what} needs onnxruntime, which is not installed; {INSTALL_HINT}, "
                      f"or use --engine inference / eager") from None
    return onnxruntime


def available():
    """True when onnxruntime can be imported."""
    try:
        require_onnxruntime()
        return True
    except SRError:
        return False


class OnnxEngine(ExportedEngine):
    """Run an ONNX SR export with ONNX Runtime (CPU).

    Args:
        path: ``.onnx`` file written by ``paddle_sr.runtime.onnx_export.export_onnx`` (or ``paddle_sr.quantize``).
        threads: intra-op threads (default ``engine.thread_count()``).
        expect: optional (model name, scale): an SRError when the file's metadata names another model
            or scale (an ONNX file from another model).
    """

    engine_kind = "onnxruntime"  # what engines.chosen reports

    def __init__(self, path, threads=None, expect=None):
        from paddle_sr.runtime.device import thread_count
        from paddle_sr.runtime.onnx_export import read_onnx_meta

        ort = require_onnxruntime()
        self.path = os.fspath(path) if path is not None else None
        if self.path is not None and not os.path.isfile(self.path):
            raise SRError(f"ONNX file {self.path} does not exist; export one with "
                          f"python -m paddle_sr.export --format onnx --model NAME --weights FILE --out {self.path}")
        meta = read_onnx_meta(self.path)
        self.meta = meta
        self.sr_name = meta.get("model")
        scale = meta.get("scale")
        self.sr_scale = None if scale in (None, "None") else (int(float(scale)) if float(scale).is_integer()
                                                              else float(scale))
        if expect is not None:
            check_matches(self, *expect)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = thread_count(threads)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # paddle2onnx leaves unused initialisers; ORT warns about each
        self.session = ort.InferenceSession(self.path, opts, providers=["CPUExecutionProvider"])
        self._input = self.session.get_inputs()[0].name
        self.int8 = meta.get("quantized") == "int8"

    @classmethod
    def from_model(cls, model, threads=None):
        """Export eager ``model`` to a temporary ONNX file and load it (the session reads the file once).

        Ctrl-C waits for the export, then stops, as ``engine.InferenceEngine.from_model`` (a
        KeyboardInterrupt inside Paddle's graph conversion crashed the process)."""
        import signal
        import tempfile

        from paddle_sr.core.errors import StopSignals
        from paddle_sr.runtime.onnx_export import export_onnx

        require_onnxruntime()
        hold = StopSignals(signals=(signal.SIGINT,), notice="{name}: stopping once the ONNX export has finished "
                                                            "(a few seconds; send it again to stop at once)")
        hold.install()
        try:
            with tempfile.TemporaryDirectory(prefix="paddle_sr_onnx_") as tmp:
                path = export_onnx(model, os.path.join(tmp, "model.onnx"))
                engine = cls(path, threads=threads)
        finally:
            hold.restore()
        if hold.received is not None:
            raise KeyboardInterrupt
        engine.path = None
        return engine

    def run(self, lr):
        """NCHW float32 numpy array in [-1, 1] -> SR numpy array."""
        lr = np.ascontiguousarray(lr, dtype=np.float32)
        if lr.ndim != 4 or lr.shape[1] != 3:
            raise SRError(f"engine input must be N x 3 x H x W, got shape {tuple(lr.shape)}")
        return self.session.run(None, {self._input: lr})[0]

    def __repr__(self):
        kind = "INT8" if self.int8 else "float32"
        return f"OnnxEngine({self.path!r}, {self.sr_name} x{self.sr_scale}, {kind})"


def check_matches(engine, name, scale):
    """SRError when the ONNX file behind ``engine`` was exported from another model or scale than asked."""
    where = engine.path or "the ONNX file"
    if engine.sr_name is None:
        raise SRError(f"{where} has no paddle_sr metadata (sr_model / sr_scale), so it cannot be checked against "
                      f"--model {name}; export it with python -m paddle_sr.export --format onnx")
    if engine.sr_name != name or (scale is not None and engine.sr_scale is not None
                                  and float(engine.sr_scale) != float(scale)):
        raise SRError(f"{where} was exported from {engine.sr_name} x{engine.sr_scale}, not {name} x{scale}; "
                      f"pass --model {engine.sr_name} --scale {engine.sr_scale} or the ONNX file of {name} x{scale}")
    return engine


PROBE_SIDE = 64


def faster_engine(model, paddle_engine, repeats=3):
    """``paddle_engine`` (an ``InferenceEngine``) or ``model`` exported to ONNX Runtime, whichever runs a
    ``PROBE_SIDE`` x ``PROBE_SIDE`` probe faster (one warm-up each, then ``repeats`` interleaved runs,
    medians compared); the choice's timings are kept in the winner's ``measured``. Without onnxruntime,
    for a model ONNX cannot take, or when the ONNX export fails, ``paddle_engine`` (no warning: Paddle
    Inference is the documented default of 'auto')."""
    import statistics
    import time

    from paddle_sr.runtime.onnx_export import onnx_refusal

    if not available() or onnx_refusal(model):
        return paddle_engine
    try:
        import paddle2onnx  # noqa: F401
        onnx_engine = OnnxEngine.from_model(model)
    except Exception:  # noqa: BLE001 - auto keeps the engine it has
        return paddle_engine
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, PROBE_SIDE, PROBE_SIDE)).astype(np.float32)
    engines = {"inference": paddle_engine, "onnxruntime": onnx_engine}
    times = {k: [] for k in engines}
    for r in range(repeats + 1):
        for k, e in engines.items():
            start = time.perf_counter()
            e.run(x)
            if r:
                times[k].append(time.perf_counter() - start)
    measured = {k: statistics.median(v) for k, v in times.items()}
    best = engines[min(measured, key=measured.get)]
    best.measured = measured
    return best
