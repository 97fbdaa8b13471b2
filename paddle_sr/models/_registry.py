"""Model registry: ``register``, ``build(name, scale=..., **kwargs)``, ``names()``, ``scales(name)``.

A model file registers a factory with ``@register(name, scales=(2, 3, 4))``; the factory receives
``scale`` plus keyword arguments and returns an ``nn.Layer`` whose ``forward(lr)`` maps a suite
tensor (NCHW, [-1, 1]) to SR at ``scale``. Modules are imported explicitly below (no scanning).
"""
from paddle_sr.core.errors import SRError

_REGISTRY = {}


def register(name, scales=(2, 3, 4)):
    """Register ``factory(scale, **kwargs)`` under ``name``; ``scales=None`` means any scale > 1."""
    def deco(factory):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = (factory, None if scales is None else tuple(scales))
        return factory
    return deco


def names():
    """Registered model names, sorted."""
    return sorted(_REGISTRY)


def scales(name):
    """Scales a model supports (a tuple), or None for arbitrary-scale models such as LIIF."""
    return _entry(name)[1]


def _entry(name):
    if name not in _REGISTRY:
        raise SRError(f"unknown model {name!r}; known models: {', '.join(names())}")
    return _REGISTRY[name]


def check_scale(name, scale):
    """Raise SRError unless ``scale`` is supported by model ``name``."""
    supported = scales(name)
    if supported is None:
        if not float(scale) > 1.0 - 1e-9:
            raise SRError(f"model {name!r} needs a scale >= 1, got {scale}")
    elif scale not in supported:
        raise SRError(f"model {name!r} supports scale {', '.join(map(str, supported))}; got {scale}. "
                      f"Pass one of these with --scale / scale=.")


def build(name, scale=4, **kwargs):
    """Registered model ``name`` for ``scale`` with random weights (``models.create`` adds ``pretrained=``)."""
    factory, _ = _entry(name)
    check_scale(name, scale)
    model = factory(scale=scale, **kwargs)
    model.sr_name, model.sr_scale = name, scale
    model.sr_kwargs = dict(kwargs)  # the constructor arguments: part of the export cache key
    return model


def count_parameters(model):
    """Parameter elements as the official PyTorch code counts them (``sum(p.numel())``).

    Frozen parameters (the mean-shift convs) count, as in PyTorch; BatchNorm running statistics do
    not: Paddle stores them as (non-trainable) parameters, PyTorch as buffers.
    """
    import paddle.nn as nn

    stats = {id(p) for layer in model.sublayers(include_self=True) if isinstance(layer, nn.layer.norm._BatchNormBase)
             for p in (layer._mean, layer._variance)}
    return sum(int(p.numel()) for p in model.parameters() if id(p) not in stats)
