"""Model registry and the networks: ``create(name, scale=..., **kwargs)``, ``names()``, ``scales(name)``.

A model file registers a factory with ``@register(name, scales=(2, 3, 4))`` (``models._registry``); the
factory receives ``scale`` plus keyword arguments and returns an ``nn.Layer`` whose ``forward(lr)`` maps a
suite tensor (NCHW, [-1, 1]) to SR at ``scale``. Modules are imported explicitly below (no scanning).
``create(..., pretrained=True)`` also loads the authors' released weights (``models.pretrained``).
"""
from paddle_sr.models._registry import check_scale, count_parameters, names, register, scales  # noqa: F401
from paddle_sr.models._factory import create  # noqa: F401

# Explicit imports register the models (order is irrelevant).
from . import rdn  # noqa: E402,F401
from . import edsr  # noqa: E402,F401
from . import rcan  # noqa: E402,F401
from . import rlfn  # noqa: E402,F401
from . import srresnet  # noqa: E402,F401
from . import liif  # noqa: E402,F401
from . import srcnn  # noqa: E402,F401
from . import espcn  # noqa: E402,F401
from . import vdsr  # noqa: E402,F401
from . import drcn  # noqa: E402,F401
from . import drrn  # noqa: E402,F401
from . import esrgan  # noqa: E402,F401
from . import wdsr  # noqa: E402,F401
from . import lapsrn  # noqa: E402,F401
from . import san  # noqa: E402,F401
from . import swinir  # noqa: E402,F401
from . import ignn  # noqa: E402,F401
from . import imdn  # noqa: E402,F401
from . import carn  # noqa: E402,F401
