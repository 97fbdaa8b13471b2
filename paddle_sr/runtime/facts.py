"""What one probe forward says about a model (cached per model): the largest im2col buffer and the live layer
tensors per LR pixel (``model_facts``: tiling and the memory plan), multiply-adds per pixel (the engine
choice), the smallest input side it takes (``min_side``), and ``fingerprint``, a hash of its weights (the
export cache key and export metadata).
"""
import hashlib
import weakref

import paddle
import paddle.nn as nn

_PROBE = 32  # LR side of the probe forward


_facts_cache = weakref.WeakKeyDictionary()


class _Facts:
    """What one probe forward at ``_PROBE`` x ``_PROBE`` LR pixels says about ``model``."""
    col_per_px = 0.0  # largest im2col buffer of one conv call, elements per LR pixel
    macs_per_px = 0.0  # multiply-adds of all conv and linear layers per LR pixel (engine_choice)
    bytes_per_px = 0.0  # estimated peak working memory, bytes per LR pixel
    min_side = None  # smallest LR side the model takes (found on demand)
    overlap = None  # (weights fingerprint, default overlap)


def _probe_run(model, side, scale):
    x = paddle.zeros([1, 3, side, side])
    if hasattr(model, "render"):
        return model.render(x, (round(side * scale),) * 2)
    return model(x)


def model_name(model):
    return getattr(model, "sr_name", type(model).__name__)


def model_facts(model):
    """Probe ``model`` once with hooks on its layers: im2col size of every conv and live activations."""
    if not isinstance(model, nn.Layer):
        return None  # an InferenceEngine: oneDNN has no im2col limit and cannot be probed
    if model in _facts_cache:
        return _facts_cache[model]
    facts, live, peak = _Facts(), {}, [0.0]

    def hook(layer, inputs, output):
        col = 0
        if isinstance(layer, (nn.Conv2D, nn.Conv2DTranspose)):
            kh, kw = layer.weight.shape[2:]
            if isinstance(layer, nn.Conv2D):  # [Cin/groups * kh * kw, Hout * Wout] per group and image
                col = layer.weight.shape[1] * kh * kw * output.shape[2] * output.shape[3]
            else:  # transposed: [Cout/groups * kh * kw, Hin * Win]
                col = layer.weight.shape[1] * kh * kw * inputs[0].shape[2] * inputs[0].shape[3]
            facts.col_per_px = max(facts.col_per_px, col / _PROBE ** 2)
            facts.macs_per_px += layer.weight.shape[0] * col / _PROBE ** 2
        elif isinstance(layer, nn.Linear):
            facts.macs_per_px += layer.weight.shape[0] * output.size / _PROBE ** 2
        for t in list(inputs) + [output]:
            if isinstance(t, paddle.Tensor) and id(t) not in live:
                live[id(t)] = (weakref.ref(t), t.size * t.element_size())
        for k in [k for k, (ref, _) in live.items() if ref() is None]:
            del live[k]
        peak[0] = max(peak[0], 2 * sum(b for _, b in live.values()) + 4 * col)

    handles = [layer.register_forward_post_hook(hook) for layer in model.sublayers()]
    was_training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            sr = _probe_run(model, _PROBE, getattr(model, "sr_scale", None) or 2)
            if hasattr(model, "gen_feat") and hasattr(model, "query_rgb"):  # LIIF unfolds its features 3x3
                feat = model.gen_feat(paddle.zeros([1, 3, _PROBE, _PROBE]))
                facts.col_per_px = max(facts.col_per_px, 9 * feat.shape[1])
    finally:
        for h in handles:
            h.remove()
        if was_training:
            model.train()
    # Tensors made by functional ops between layers (sums, concats) are not seen: the live layer
    # tensors count twice (in the hook), plus the host copies of the output.
    facts.bytes_per_px = (peak[0] + 2 * sr.size * 4) / _PROBE ** 2
    _facts_cache[model] = facts
    return facts


class _TooSmall(Exception):
    pass


def _refuse_empty_conv(layer, inputs):
    """Forward pre-hook: raise ``_TooSmall`` when a conv would produce an empty (or negative) output."""
    if getattr(layer, "_padding_algorithm", "EXPLICIT") != "EXPLICIT":
        return None  # 'same' / 'valid' strings: Paddle checks those itself
    pad = list(getattr(layer, "_updated_padding", None) or [0, 0])
    pads = [(pad[0], pad[0]), (pad[1], pad[1])] if len(pad) == 2 else [(pad[0], pad[1]), (pad[2], pad[3])]
    hw = inputs[0].shape[-2:] if layer._data_format == "NCHW" else inputs[0].shape[1:3]
    for n, k, s, d, (a, b) in zip(hw, layer._kernel_size, layer._stride, layer._dilation, pads):
        if (n + a + b - d * (k - 1) - 1) // s + 1 < 1:
            raise _TooSmall
    return None


def min_side(model):
    """Smallest LR side (pixels) ``model`` takes, found by forwards on growing squares (cached)."""
    facts = model_facts(model)
    if facts is None:
        return 1
    if facts.min_side is None:
        # MATLAB bicubic pre-upsampling corrupts the heap at 1 pixel instead of raising: never try it.
        side = 2 if any(type(m).__name__ == "MatlabBicubicUpsample" for m in model.sublayers()) else 1
        # A conv whose input is smaller than its kernel is stopped before it runs: Paddle would call MKL's
        # sgemm with a negative size first, which prints "Intel MKL ERROR: Parameter 11 was incorrect on
        # entry to cblas_sgemm" on stdout (C level, cannot be caught) before raising.
        handles = [m.register_forward_pre_hook(_refuse_empty_conv) for m in model.sublayers()
                   if isinstance(m, nn.Conv2D)]
        try:
            with paddle.no_grad():
                while side < _PROBE:
                    try:
                        _probe_run(model, side, getattr(model, "sr_scale", None) or 2)
                        break
                    except Exception:  # noqa: BLE001 - any failure of a tiny forward means "too small"
                        side += 1
        finally:
            for h in handles:
                h.remove()
        facts.min_side = side
    return facts.min_side


def fingerprint(model):
    """A hash of every parameter and buffer of ``model`` (its values, names and shapes)."""
    h = hashlib.blake2b(digest_size=16)
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()
