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
import os
import signal

import numpy as np
import paddle

from paddle_sr.core.errors import SRError
from paddle_sr.runtime.device import default_device, thread_count
from paddle_sr.runtime.export_format import model_files, read_meta


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
        cache (``paddle_sr.runtime.export_cache``: ``$PADDLE_SR_HOME/exports``), so a later process loads it
        instead of exporting; ``weights``: the model's ``facts.fingerprint`` when the caller has
        it. Without a cache (``cache=False``, ``PADDLE_SR_EXPORT_CACHE=off``, or a folder that cannot
        be written) the export goes to a temporary folder, removed once the predictor has read it.
        This is what ``--engine inference`` in predict/evaluate does. Ctrl-C (SIGINT) waits for the export
        to finish and then stops: a KeyboardInterrupt inside Paddle's graph conversion crashed the
        process (segfault) and left its temporary folders behind. A second Ctrl-C stops at once.
        """
        import tempfile

        from paddle_sr.core.errors import StopSignals
        from paddle_sr.runtime import export_cache
        from paddle_sr.runtime import export_format as export_module

        facts = None
        if cache and export_cache.folder() is not None:
            if weights is None:
                from paddle_sr.runtime.facts import fingerprint

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






