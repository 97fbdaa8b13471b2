"""Which engine runs the network inside ``tiling.super_resolve``: eager, Paddle Inference, or 'auto'.

- ``eager``: the ``nn.Layer`` itself. On Paddle 3.0.0's CPU wheel every eager conv is im2col + GEMM
  (never oneDNN; ``benchmarks/README.md``), 3-9x the time of the official PyTorch code.
- ``inference``: the same network exported once (``paddle_sr.export``) and run by Paddle Inference
  with oneDNN (``engine.InferenceEngine``): 0.5-1.0x PyTorch's time. Its output differs from
  eager's by float summation order only: at most 1.5e-3 on 0-255 for RLFN_ntire at 256x256 LR, as
  close to the official PyTorch output as eager is; ``tests/test_engine_choice.py`` holds it to 2e-3.
- ``auto`` (the default): ``inference`` on the CPU once it pays for its export, else ``eager``.
  Exporting costs about ``EXPORT_S[0] + EXPORT_S[1] * sublayers`` seconds (RLFN_ntire 1 s, RCAN
  29 s); eager costs about ``MACs / EAGER_MACS_PER_S``, MACs counted per LR pixel by the tiling
  probe (``facts.model_facts``). The predicted eager seconds of every call on the same weights are
  added up, and when the sum (this call included) reaches the export cost, the model is exported:
  at most about twice the best choice in hindsight (the ski-rental rule). So one photo through a
  big model runs exported at once, while the test suite's tiny models stay eager. An export already
  in the persistent export cache (``paddle_sr.runtime.export_cache``, kept across processes) costs only the
  predictor's creation (``LOAD_S``), so a new process switches at its first real call; and the sum
  of predicted eager seconds is kept there too (calls of at least ``SPENT_SHARE`` of the export cost),
  so one photo per process with RLFN_ntire exports in the second process, not never. Kept eager: the
  GPU (cuDNN is fast already), arbitrary-scale renderers (LIIF) and a model whose export fails
  (one warning, then eager for that model instance, whatever its weights become).

With onnxruntime installed (``requirements-onnx.txt``), 'auto' also exports the model to ONNX when
it exports, times both engines on the same 64x64 probe (``onnx_engine.faster_engine``: interleaved,
median of 3) and keeps the faster: measured, not assumed, because neither wins everywhere (x4 at
64x64 LR: ESPCN ONNX Runtime 0.013 s vs Paddle Inference 0.030 s, SwinIR-light 1.48 s vs 1.06 s;
``benchmarks/README.md``, ``runtime_vs_torch``). ``chosen`` then says 'onnxruntime'. INT8 is never picked by 'auto'.

The engine is cached per model instance and rebuilt when the weights change (``fingerprint``: a
hash of every parameter and buffer) or the Paddle device does. ``set_default_engine`` /
``$PADDLE_SR_ENGINE`` choose the engine for a whole process.
"""
import os
import warnings
import weakref

import paddle.nn as nn

from paddle_sr.core.errors import SRError
from paddle_sr.runtime.facts import fingerprint
from paddle_sr.runtime.predictor import ExportedEngine, InferenceEngine

ENGINE_ENV = "PADDLE_SR_ENGINE"


EAGER_MACS_PER_S = 5e9  # eager conv throughput measured here: RLFN_ntire 4-10, RCAN 4 GMAC/s (2 cores)


EXPORT_S = (0.5, 0.012)  # export + predictor: RLFN_ntire (53 sublayers) 1.0 s, RCAN (2443) 29 s


SPENT_SHARE = 0.05  # a call predicted to take this share of the export cost is remembered across processes


LOAD_S = (0.1, 0.0028)  # predictor from a cached export (checksums included): RLFN_ntire 0.14 s, RCAN 7 s (load ~2)


# What 'auto' exports to: Paddle Inference, and ONNX Runtime where it is installed and the model converts;
# with both, each runs the same probe and the faster one is kept (onnx_engine.faster_engine).
AUTO_CANDIDATES = ("inference", "onnxruntime")


_default_engine = None  # set_default_engine(); None: $PADDLE_SR_ENGINE, else 'auto'


_state = weakref.WeakKeyDictionary()  # model -> _State


_failed = weakref.WeakKeyDictionary()  # model -> why its export failed ('auto' does not try again)


class _State:
    def __init__(self, key):
        self.key = key  # (weights fingerprint, device, engine asked for)
        self.engine = None  # the InferenceEngine (or onnx_engine.OnnxEngine), once built
        self.spent = 0.0  # predicted eager seconds run on these weights so far
        self.cost = None  # predicted seconds to get the engine (export, or load from the export cache)


def set_default_engine(name):
    """Engine of ``super_resolve(..., engine=None)`` in this process: 'auto' (the default), 'eager' or
    'inference'; None goes back to ``$PADDLE_SR_ENGINE`` or 'auto'. Returns the previous setting."""
    global _default_engine
    if name is not None:
        check_engine(name)
    previous, _default_engine = _default_engine, name
    return previous


def default_engine():
    """'auto' unless ``set_default_engine`` or ``$PADDLE_SR_ENGINE`` says otherwise."""
    name = _default_engine or os.environ.get(ENGINE_ENV, "").strip() or "auto"
    if name not in ENGINES:
        raise SRError(f"{ENGINE_ENV}={name!r} is not an engine; use one of: {', '.join(ENGINES)}")
    return name


def resolve_engine(engine=None):
    """``engine`` checked, or the process default (``default_engine``) for None."""
    return check_engine(engine or default_engine())




def export_seconds(model, weights=None):
    """Predicted seconds to export ``model`` and create its predictor; with ``weights`` (its fingerprint)
    and an entry in the export cache (``paddle_sr.runtime.export_cache``), only the predictor's creation."""
    n = len(model.sublayers())
    if weights is not None and _cached(model, weights):
        return LOAD_S[0] + LOAD_S[1] * n
    return EXPORT_S[0] + EXPORT_S[1] * n


def _spent_before(model, key):
    """Predicted eager seconds earlier processes ran on these weights (``export_cache.spent``)."""
    from paddle_sr.runtime import export_cache

    if export_cache.folder() is None:
        return 0.0
    return export_cache.spent(export_cache.facts(model, key[0], key[1]))


def _remember_spent(model, key, seconds):
    from paddle_sr.runtime import export_cache

    if export_cache.folder() is not None:
        export_cache.remember_spent(export_cache.facts(model, key[0], key[1]), seconds)


def _cached(model, weights):
    from paddle_sr.runtime import export_cache
    from paddle_sr.runtime.device import current_device

    return export_cache.folder() is not None and export_cache.has(export_cache.facts(model, weights, current_device()))


def macs_per_px(model):
    """Conv and linear multiply-adds per LR pixel, from the tiling probe (``facts.model_facts``)."""
    from paddle_sr.runtime.facts import model_facts

    facts = model_facts(model)
    return facts.macs_per_px if facts is not None else 0.0


def eager_seconds(model, lr_pixels):
    """Predicted eager seconds for ``lr_pixels`` LR pixels."""
    return macs_per_px(model) * lr_pixels / EAGER_MACS_PER_S


def engine_for(model, engine=None, lr_pixels=0):
    """What ``super_resolve`` runs for ``model`` on ``lr_pixels`` LR pixels (tiles and self-ensemble
    copies included): the layer itself, or its cached ``InferenceEngine`` (module docstring)."""
    from paddle_sr.runtime.device import current_device

    engine = resolve_engine(engine)
    if engine == "onnxruntime" and isinstance(model, nn.Layer):
        from paddle_sr.runtime.onnx_export import onnx_refusal

        if onnx_refusal(model):
            raise SRError(f"engine onnxruntime: {onnx_refusal(model)}")  # LIIF would else run eager below
    if engine == "eager" or not isinstance(model, nn.Layer) or hasattr(model, "render"):
        return model
    device = current_device()
    if engine == "auto" and device != "cpu":
        return model
    key = (fingerprint(model), device, engine)
    state = _state.get(model)
    if state is None or state.key != key:
        state = _state[model] = _State(key)
    if state.engine is not None:
        return state.engine
    if engine == "auto":
        if model in _failed:  # the layers, not the weights, decide whether it exports
            return model
        if state.cost is None:
            state.cost = export_seconds(model, key[0])
            state.spent = _spent_before(model, key)
        now = eager_seconds(model, lr_pixels)
        state.spent += now
        if state.spent < state.cost:
            if now >= SPENT_SHARE * state.cost:  # worth remembering for the next process
                _remember_spent(model, key, state.spent)
            return model
    was_training = model.training
    try:
        state.engine = with_engine(model, "onnxruntime" if engine == "onnxruntime" else "inference", weights=key[0])
        if engine == "auto" and "onnxruntime" in AUTO_CANDIDATES:
            from paddle_sr.runtime.onnx_engine import faster_engine

            state.engine = faster_engine(model, state.engine)
    except Exception as e:  # noqa: BLE001 - auto falls back to eager, whatever stopped the export
        if engine == "inference":
            raise
        _failed[model] = f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"
        warnings.warn(f"{getattr(model, 'sr_name', type(model).__name__)}: export for Paddle Inference failed, "
                      f"running eager ({_failed[model]})", RuntimeWarning, stacklevel=3)
        return model
    finally:
        if was_training:
            model.train()
    return state.engine


def chosen(model):
    """'inference' if ``model`` has an engine built for the weights of its last ``engine_for`` lookup,
    else 'eager' (for reports; a weight change shows at the next lookup)."""
    state = _state.get(model) if isinstance(model, nn.Layer) else None
    if state is None or state.engine is None:
        return "eager"
    return getattr(state.engine, "engine_kind", "inference")


ENGINES = ("auto", "eager", "inference", "onnxruntime")  # auto: paddle_sr.runtime.engines


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


def with_engine(model, engine="eager", weights=None):
    """``model`` to run as ``engine``: 'eager' (the layer itself), 'inference' (exported and run by
    an ``InferenceEngine`` on the current Paddle device: oneDNN on CPU) or 'onnxruntime' (exported to
    ONNX, ``onnx_engine.OnnxEngine`` on the CPU). ``--engine`` of predict/evaluate.

    'auto' passes the layer through: ``super_resolve`` decides per call (``paddle_sr.runtime.engines``).
    None (bicubic) and an engine over an exported file (``ExportedEngine``) pass through unchanged.
    """
    if check_engine(engine) in ("auto", "eager") or model is None or isinstance(model, (str, ExportedEngine)):
        return model
    if engine == "onnxruntime":
        from paddle_sr.runtime.onnx_engine import OnnxEngine

        return OnnxEngine.from_model(model)
    from paddle_sr.runtime.device import current_device

    return InferenceEngine.from_model(model, device=current_device(), weights=weights)
