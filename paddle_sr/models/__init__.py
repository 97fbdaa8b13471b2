"""Model registry and the networks: ``create(name, scale=..., **kwargs)``, ``names()``, ``scales(name)``.

A model file registers a factory with ``@register(name, scales=(2, 3, 4))`` (``models._registry``); the
factory receives ``scale`` plus keyword arguments and returns an ``nn.Layer`` whose ``forward(lr)`` maps a
suite tensor (NCHW, [-1, 1]) to SR at ``scale``. Modules are imported explicitly below (no scanning).
``create(..., pretrained=True)`` also loads the authors' released weights (``models.pretrained``).
"""
from paddle_sr.models._factory import create  # noqa: F401
from paddle_sr.models._registry import check_scale, count_parameters, names, register, scales  # noqa: F401

# Explicit imports register the models (order is irrelevant).
from . import (
    carn,  # noqa: E402,F401
    drcn,  # noqa: E402,F401
    drrn,  # noqa: E402,F401
    edsr,  # noqa: E402,F401
    espcn,  # noqa: E402,F401
    esrgan,  # noqa: E402,F401
    ignn,  # noqa: E402,F401
    imdn,  # noqa: E402,F401
    lapsrn,  # noqa: E402,F401
    liif,  # noqa: E402,F401
    rcan,  # noqa: E402,F401
    rdn,  # noqa: E402,F401
    rlfn,  # noqa: E402,F401
    san,  # noqa: E402,F401
    srcnn,  # noqa: E402,F401
    srresnet,  # noqa: E402,F401
    swinir,  # noqa: E402,F401
    vdsr,  # noqa: E402,F401
    wdsr,  # noqa: E402,F401
)
