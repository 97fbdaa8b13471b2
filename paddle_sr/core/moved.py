"""Old module paths keep working: ``import paddle_sr.checkpoint`` and friends, with a ``FutureWarning``.

The suite's modules moved into layer packages (see the README's layout). ``MOVED`` maps each old path to
its new home; a module that was split names every module that took a part, and the old name becomes a
stand-in that finds each attribute in them. ``install()`` (run by ``paddle_sr/__init__.py``) puts one
finder at the end of ``sys.meta_path``: it answers only for the old names below, after every real file
has had its turn, and warns once per old name. Nothing here imports Paddle.
"""
import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

MOVED = {
    "paddle_sr.errors": ("paddle_sr.core.errors",),
    "paddle_sr.download": ("paddle_sr.core.download",),
    "paddle_sr.imageio": ("paddle_sr.image.io",),
    "paddle_sr.imresize": ("paddle_sr.image.imresize",),
    "paddle_sr.metrics": ("paddle_sr.image.metrics",),
    "paddle_sr.pth": ("paddle_sr.weights.pth",),
    "paddle_sr.matconvnet": ("paddle_sr.weights.matconvnet",),
    "paddle_sr.sources": ("paddle_sr.data.sources",),
    "paddle_sr.configs": ("paddle_sr.training.recipes",),
    "paddle_sr.losses": ("paddle_sr.training.losses",),
    "paddle_sr.inference": ("paddle_sr.runtime.tiling", "paddle_sr.runtime.facts"),
    "paddle_sr.engine_choice": ("paddle_sr.runtime.engines", "paddle_sr.runtime.facts"),
    "paddle_sr.memory": ("paddle_sr.runtime.memory",),
    "paddle_sr.onnx_export": ("paddle_sr.runtime.onnx_export",),
    "paddle_sr.onnx_engine": ("paddle_sr.runtime.onnx_engine",),
    "paddle_sr.export_cache": ("paddle_sr.runtime.export_cache",),
    "paddle_sr.service": ("paddle_sr.apps.service",),
    "paddle_sr.viz": ("paddle_sr.apps.viz",),
    "paddle_sr.notebook": ("paddle_sr.apps.notebook",),
    "paddle_sr.checkpoint": ("paddle_sr.core.files", "paddle_sr.weights.state", "paddle_sr.weights.run_folder",
                             "paddle_sr.models.resolve", "paddle_sr.training.run"),
    "paddle_sr.engine": ("paddle_sr.runtime.device", "paddle_sr.runtime.export_format", "paddle_sr.runtime.predictor",
                         "paddle_sr.runtime.engines"),
}


class _Moved(types.ModuleType):
    """Stand-in for a split module: each attribute comes from the first new module that has it."""

    def __init__(self, name, homes):
        super().__init__(name, f"Moved: {', '.join(homes)}.")
        self.__homes = homes

    def __getattr__(self, attr):
        for home in self.__homes:
            module = importlib.import_module(home)
            if hasattr(module, attr):
                return getattr(module, attr)
        raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r} (it moved to {', '.join(self.__homes)})")


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        homes = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {' / '.join(homes)}; import it from there "
                      f"(the old path will be removed)", FutureWarning, stacklevel=3)
        if len(homes) == 1:
            return importlib.import_module(homes[0])  # the same module object: patches and isinstance agree
        return _Moved(spec.name, homes)

    def exec_module(self, module):
        pass


def install():
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
