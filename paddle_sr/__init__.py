"""paddle_sr: PaddlePaddle super-resolution reproduction suite.

Tensors are float32 NCHW in [-1, 1] throughout the suite; see ``paddle_sr.models`` for how models
trained on another range (official weights on [0, 255]) carry that fact with them.

The package face is lazy (as timm's): ``import paddle_sr`` imports no Paddle; ``paddle_sr.models``,
``paddle_sr.super_resolve`` and the layer packages load on first use. Old module paths
(``paddle_sr.inference``, ``paddle_sr.checkpoint``, ...) keep working with a ``FutureWarning``
(``core/moved.py``).
"""
import importlib
import warnings

from paddle_sr.core import moved as _moved

# Paddle warns about ccache (a C++ extension build cache) at import; the suite builds no extensions.
warnings.filterwarnings("ignore", message="No ccache found")

__version__ = "0.1.0"

_moved.install()

_SUBMODULES = {"models", "core", "image", "weights", "data", "runtime", "training", "apps"}
_ATTRIBUTES = {"super_resolve": "paddle_sr.runtime.tiling", "SRError": "paddle_sr.core.errors",
               "create": "paddle_sr.models"}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"paddle_sr.{name}")
    if name in _ATTRIBUTES:
        return getattr(importlib.import_module(_ATTRIBUTES[name]), name)
    if f"paddle_sr.{name}" in _moved.MOVED:
        return importlib.import_module(f"paddle_sr.{name}")
    raise AttributeError(f"module 'paddle_sr' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES | set(_ATTRIBUTES))
