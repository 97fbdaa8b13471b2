"""Paddle Inference runner for an exported model (``python -m paddle_sr.export``).

``InferenceEngine(dir)`` loads the exported graph into a Paddle Inference predictor and is called
like the eager model: ``engine(lr)`` with an NCHW float32 array (or Paddle tensor) in the suite's
[-1, 1] returns SR of the same kind, so it can stand in for the model inside tiled inference.

Why a predictor: on a 2-core CPU the eager model pays Python/op-dispatch overhead per layer and
runs most kernels on one core; the predictor runs the whole graph in C++ with oneDNN kernels
(``benchmarks/README.md`` has the measurements). Backends:
- CPU: oneDNN (``mkldnn=True``, the default where the installed Paddle has it) with
  ``threads`` math threads; ``mkldnn=False`` is the plain CPU kernels (bit-identical to eager).
- GPU: used when Paddle is compiled with CUDA and ``device`` is ``gpu`` (the default then);
  ``tensorrt=True`` adds TensorRT FP32 subgraphs with dynamic shapes.
"""
import json
import os
import signal

import numpy as np
import paddle

from .errors import SRError

META_FILE = "sr_meta.json"
PREFIX = "model"


def model_files(folder):
    """(graph file, params file) of an export folder; SRError when the folder holds none."""
    folder = os.fspath(folder)
    params = os.path.join(folder, PREFIX + ".pdiparams")
    # Paddle >= 3 writes the PIR graph as .json; older versions a ProgramDesc .pdmodel.
    for ext in (".json", ".pdmodel"):
        graph = os.path.join(folder, PREFIX + ext)
        if os.path.isfile(graph) and os.path.isfile(params):
            return graph, params
    raise SRError(f"{folder} holds no exported model ({PREFIX}.json or {PREFIX}.pdmodel plus {PREFIX}.pdiparams); "
                  f"create one with `python -m paddle_sr.export --model NAME --scale S --weights FILE --out {folder}`")


def read_meta(folder):
    """The export's ``sr_meta.json`` (model name, scale, Paddle version), or {} for a bare export."""
    path = os.path.join(os.fspath(folder), META_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def default_device():
    return "gpu" if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0 else "cpu"


_threads = None  # math threads set by ``use_threads`` in this process (None: not yet)


THREADS_ENV = "PADDLE_SR_THREADS"


def _user_omp_threads():
    """``OMP_NUM_THREADS`` as the user started the process, or None.

    ``import paddle`` writes OMP_NUM_THREADS=1 into ``os.environ`` when it is unset, so the value
    seen now cannot tell "unset" from "1": read the environment the process started with
    (``/proc/self/environ``); where there is none, a "1" counts as Paddle's, not the user's.
    """
    try:
        with open("/proc/self/environ", "rb") as f:
            for item in f.read().split(b"\0"):
                if item.startswith(b"OMP_NUM_THREADS="):
                    return item.split(b"=", 1)[1].decode(errors="replace").strip() or None
        return None
    except OSError:
        value = os.environ.get("OMP_NUM_THREADS", "").strip()
        return value if value and value != "1" else None


def thread_count(n=None):
    """CPU math threads to use: ``n``, else ``$PADDLE_SR_THREADS``, else the ``OMP_NUM_THREADS`` the
    process was started with, else the CPUs this process may run on (``os.sched_getaffinity``;
    ``os.cpu_count()`` where that is missing)."""
    if n is None:
        sources = ((THREADS_ENV, os.environ.get(THREADS_ENV, "").strip()), ("OMP_NUM_THREADS", _user_omp_threads()))
        for var, env in sources:
            if env:
                try:
                    n = int(env.split(",")[0])
                except ValueError:
                    raise SRError(f"{var} must be a whole number of threads, got {env!r}") from None
                break
        else:
            try:
                n = len(os.sched_getaffinity(0))
            except (AttributeError, OSError):
                n = os.cpu_count() or 1
    n = int(n)
    if n < 1:
        raise SRError(f"the number of CPU threads must be at least 1, got {n}")
    return n


def use_threads(n=None):
    """Let Paddle's CPU kernels (MKL/OpenMP/BLAS) use ``thread_count(n)`` threads from now on; returns it.

    Eager Paddle runs its CPU math on ONE thread unless told (``import paddle`` sets
    OMP_NUM_THREADS=1 when it is unset), so on a 2-core machine half of it sat idle. The inference
    tools (predict, evaluate, export) call it through ``use_device(..., threads=True)``; training
    does not (a training step was slower with 2 threads on the loaded 2-core machine,
    ``benchmarks/README.md``), and ``inference.super_resolve`` sets it for the duration of each
    call (``inference_threads``) when nobody chose. ``$PADDLE_SR_THREADS`` or an explicit
    ``OMP_NUM_THREADS`` wins over the CPU count.
    """
    global _threads
    n = thread_count(n)
    _set_threads(n)
    _threads = n
    return n


def _set_threads(n):
    from paddle.base import core

    core.set_num_threads(int(n))


class inference_threads:
    """Context manager: ``thread_count()`` math threads inside, unless ``use_threads`` already chose for
    the process (then nothing changes); afterwards back to Paddle's start-up setting, so a training
    loop that validates through ``super_resolve`` keeps its own setting. Costs two cheap calls."""

    def __enter__(self):
        self._restore = None
        if _threads is None:
            n = thread_count()
            base = _startup_threads()
            if n != base:
                _set_threads(n)
                self._restore = base
        return self

    def __exit__(self, *exc):
        if self._restore is not None and _threads is None:
            _set_threads(self._restore)
        return False


def _startup_threads():
    """Math threads Paddle started with: the user's OMP_NUM_THREADS, else 1 (Paddle's own default)."""
    try:
        return max(1, int((_user_omp_threads() or "1").split(",")[0]))
    except ValueError:
        return 1


def use_device(name, threads=False):
    """``--device`` of the tools: check that this Paddle can use ``name``, ``paddle.set_device`` it, return it.

    ``threads=True`` (the inference tools) also gives Paddle's CPU math all usable cores (``use_threads``).

    ``None``/``'auto'``: a GPU when Paddle is built with CUDA and sees one, else the CPU. A GPU asked
    of a CPU build of Paddle, an index past the visible GPUs, or an unknown name is an SRError naming
    the fix (Paddle itself raises a long ValueError from deep inside).
    """
    if name is None or name == "auto":
        name = default_device()
    name = str(name).strip().lower()
    kind, _, index = name.partition(":")
    if kind == "gpu":
        if not paddle.device.is_compiled_with_cuda():
            raise SRError(f"--device {name}: this Paddle ({paddle.__version__}) is a CPU build; install "
                          f"paddlepaddle-gpu or use --device cpu")
        count = paddle.device.cuda.device_count()
        if count == 0:
            raise SRError(f"--device {name}: Paddle sees no GPU (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}); "
                          f"use --device cpu or make a GPU visible")
        if index and (not index.isdigit() or int(index) >= count):
            raise SRError(f"--device {name}: Paddle sees {count} GPU(s), gpu:0 to gpu:{count - 1}; pick one of them")
    try:
        paddle.set_device(name)
    except (ValueError, RuntimeError) as e:
        detail = " ".join(str(e).split())[:200]
        raise SRError(f"cannot use --device {name!r} ({detail}); use cpu, gpu or gpu:N") from None
    if threads and _threads is None:  # an earlier explicit use_threads(n) stays
        use_threads()
    return name


class ExportedEngine:
    """What every engine over an exported file shares: ``run(numpy) -> numpy`` (the subclass's), called like
    the layer it replaces."""

    def __call__(self, lr):
        # A Paddle tensor in gives a tensor out, so the engine can replace ``model`` in code that
        # calls ``model(lr)`` on tensors (tiled inference); numpy in gives numpy out.
        if isinstance(lr, paddle.Tensor):
            return paddle.to_tensor(self.run(lr.numpy()), place=lr.place)
        return self.run(lr)

    def eval(self):
        """No-op, so code written for an ``nn.Layer`` (``model.eval()``) accepts an engine."""
        return self


class InferenceEngine(ExportedEngine):
    """Run an exported SR model with Paddle Inference.

    Args:
        folder: export folder written by ``paddle_sr.export.export``.
        device: 'cpu' or 'gpu' (default: gpu when available).
        threads: CPU math threads (default: ``thread_count()``: ``$OMP_NUM_THREADS`` or the usable CPUs).
        mkldnn: use oneDNN kernels on CPU (default True; they deviate from eager by about 2e-3 on
            the 0-255 scale, float32 summation order; False gives the eager kernels' results).
        tensorrt: on GPU, run TensorRT FP32 subgraphs (needs a TensorRT-enabled Paddle).
        ir_optim: Paddle Inference graph optimisation passes.
    """

    def __init__(self, folder, device=None, threads=None, mkldnn=True, tensorrt=False, ir_optim=True):
        from paddle import inference

        graph, params = model_files(folder)
        meta = read_meta(folder)
        self.folder = os.fspath(folder)
        self.sr_name, self.sr_scale = meta.get("model"), meta.get("scale")
        self.device = device or default_device()
        if self.device not in ("cpu", "gpu"):
            raise SRError(f"engine device must be 'cpu' or 'gpu', got {self.device!r}")
        if self.device == "gpu" and not paddle.device.is_compiled_with_cuda():
            raise SRError("device 'gpu' needs a CUDA build of Paddle (pip install paddlepaddle-gpu); use --device cpu")
        config = inference.Config(graph, params)
        config.switch_ir_optim(ir_optim)
        config.disable_glog_info()
        if self.device == "gpu":
            config.enable_use_gpu(256, 0)
            if tensorrt:
                config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=1, min_subgraph_size=3,
                                              precision_mode=inference.PrecisionType.Float32,
                                              use_static=False, use_calib_mode=False)
                config.enable_tuned_tensorrt_dynamic_shape()
        else:
            config.disable_gpu()
            config.set_cpu_math_library_num_threads(thread_count(threads))
            if mkldnn:
                config.enable_mkldnn()
            else:
                config.disable_mkldnn()
        self.mkldnn = bool(mkldnn) and self.device == "cpu"
        self.cached = False  # from_model: True when the export came from the export cache
        self.predictor = inference.create_predictor(config)
        self._input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self._output_name = self.predictor.get_output_names()[0]

    @classmethod
    def from_model(cls, model, cache=True, weights=None, **kwargs):
        """The predictor of eager ``model`` (weights loaded); kwargs as ``__init__``.

        With ``cache`` (the default) the export is looked up in, or written to, the persistent export
        cache (``paddle_sr.export_cache``: ``$PADDLE_SR_HOME/exports``), so a later process loads it
        instead of exporting; ``weights``: the model's ``engine_choice.fingerprint`` when the caller has
        it. Without a cache (``cache=False``, ``PADDLE_SR_EXPORT_CACHE=off``, or a folder that cannot
        be written) the export goes to a temporary folder, removed once the predictor has read it.
        This is what ``--engine inference`` in predict/evaluate does. Ctrl-C (SIGINT) waits for the export
        to finish and then stops: a KeyboardInterrupt inside Paddle's graph conversion crashed the
        process (segfault) and left its temporary folders behind. A second Ctrl-C stops at once.
        """
        import tempfile

        from . import export_cache
        from .errors import StopSignals
        from . import export as export_module

        facts = None
        if cache and export_cache.folder() is not None:
            if weights is None:
                from .engine_choice import fingerprint

                weights = fingerprint(model)
            facts = export_cache.facts(model, weights, kwargs.get("device") or default_device())
            hit = export_cache.lookup(facts)
            if hit is not None:
                try:
                    engine = cls(hit, **kwargs)
                    engine.cached = True
                    return engine
                except Exception:  # noqa: BLE001 - e.g. evicted by another process between the check and the load
                    pass  # export again (an error that is not the entry's comes back from that attempt)
        hold = StopSignals(signals=(signal.SIGINT,), notice="{name}: stopping once the model export has finished "
                                                            "(a few seconds; send it again to stop at once)")
        hold.install()
        try:
            entry = export_cache.store(model, facts, export_module.export) if facts is not None else None
            if entry is not None:
                engine = cls(entry, **kwargs)
            else:
                with tempfile.TemporaryDirectory(prefix="paddle_sr_export_") as tmp:
                    export_module.export(model, tmp)
                    engine = cls(tmp, **kwargs)
                engine.folder = None
        finally:
            hold.restore()
        if hold.received is not None:
            raise KeyboardInterrupt
        return engine

    def run(self, lr):
        """NCHW float32 numpy array in [-1, 1] -> SR numpy array."""
        lr = np.ascontiguousarray(lr, dtype=np.float32)
        if lr.ndim != 4 or lr.shape[1] != 3:
            raise SRError(f"engine input must be N x 3 x H x W, got shape {tuple(lr.shape)}")
        self._input.reshape(list(lr.shape))
        self._input.copy_from_cpu(lr)
        self.predictor.run()
        return self.predictor.get_output_handle(self._output_name).copy_to_cpu()

    def __repr__(self):
        backend = "oneDNN" if self.mkldnn else self.device
        return f"InferenceEngine({self.folder!r}, {self.sr_name} x{self.sr_scale}, {backend})"


ENGINES = ("auto", "eager", "inference", "onnxruntime")  # auto: paddle_sr.engine_choice
ENGINE_HELP = ("auto (default, or $PADDLE_SR_ENGINE): on the CPU, export once to Paddle Inference (oneDNN, "
               "3-10x faster) when the work pays for the export, else eager; with onnxruntime installed also to "
               "ONNX, keeping whichever runs a probe faster; eager: the Paddle layers; "
               "inference: always the exported model; onnxruntime: the model exported to ONNX and run by "
               "ONNX Runtime (needs onnxruntime and paddle2onnx)")  # --engine of evaluate and predict


def check_engine(name):
    """``name`` if it is one of ``ENGINES``, else an SRError listing them."""
    if name not in ENGINES:
        raise SRError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)}")
    return name


def current_device():
    """'gpu' or 'cpu': where Paddle runs now (follows --device / ``paddle.set_device``)."""
    return "gpu" if paddle.device.get_device().startswith("gpu") else "cpu"


def with_engine(model, engine="eager", weights=None):
    """``model`` to run as ``engine``: 'eager' (the layer itself), 'inference' (exported and run by
    an ``InferenceEngine`` on the current Paddle device: oneDNN on CPU) or 'onnxruntime' (exported to
    ONNX, ``onnx_engine.OnnxEngine`` on the CPU). ``--engine`` of predict/evaluate.

    'auto' passes the layer through: ``super_resolve`` decides per call (``paddle_sr.engine_choice``).
    None (bicubic) and an engine over an exported file (``ExportedEngine``) pass through unchanged.
    """
    if check_engine(engine) in ("auto", "eager") or model is None or isinstance(model, (str, ExportedEngine)):
        return model
    if engine == "onnxruntime":
        from .onnx_engine import OnnxEngine

        return OnnxEngine.from_model(model)
    return InferenceEngine.from_model(model, device=current_device(), weights=weights)
