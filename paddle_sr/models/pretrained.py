"""Official checkpoints on demand: ``entries``/``get`` pick an ``Entry`` of ``weights.catalogue``, ``weights_path``
returns its converted ``.pdparams`` (raw file fetched once, converted without PyTorch by ``models.convert``
into ``$PADDLE_SR_HOME/pretrained/<id>.pdparams``), ``load`` puts it into a model. ``python -m
paddle_sr.pretrained`` lists and prefetches them; ``models.create(name, scale, pretrained=True)`` uses it.
"""
import os

from paddle_sr.core.errors import SRError
from paddle_sr.models.convert import convert
from paddle_sr.weights import catalogue
from paddle_sr.weights.catalogue import _raw_file, check_cache_writable, converted_path


def entries(model=None, scale=None):
    """Entries whose registered model is ``model`` (and scale ``scale``), in table order."""
    from paddle_sr.models._registry import names as registered

    names = set(registered())
    return [e for e in catalogue.ENTRIES if e.model in names and (model is None or e.model == model)
            and (scale is None or e.scale == scale)]


def get(spec, model=None, scale=None):
    """The entry for ``'ID'``, ``'official:ID'`` or ``'official'`` (= the one for ``model`` x``scale``)."""
    from paddle_sr.weights.run_folder import official_id

    spec = str(spec)
    ident = official_id(spec)
    ident = spec if ident is None else ident or None  # None: the default checkpoint of model x scale
    if ident is None:
        found = entries(model, scale)
        if not found:
            have = ", ".join(sorted({f"{e.model} x{e.scale}" for e in entries()}))
            raise SRError(f"no official checkpoint is known for {model} x{scale}; known: {have} "
                          f"(`python -m paddle_sr.pretrained` lists them)")
        return found[0]
    if ident not in catalogue.BY_ID or catalogue.BY_ID[ident] not in entries():
        raise SRError(f"unknown checkpoint id {ident!r}; known ids: {', '.join(e.id for e in entries())}")
    e = catalogue.BY_ID[ident]
    if (model is not None and e.model != model) or (scale is not None and e.scale != scale):
        raise SRError(f"checkpoint {e.id} is for --model {e.model} --scale {e.scale}, not --model {model} "
                      f"--scale {scale}; pass those, or `--weights official` for the default one")
    return e


def weights_path(spec, model=None, scale=None, source=None):
    """Path of the converted ``.pdparams`` of checkpoint ``spec`` (see ``get``), fetching it when needed."""

    e = get(spec, model, scale)
    out = converted_path(e)
    if os.path.isfile(out):
        return out
    raw = _raw_file(e, source)
    check_cache_writable()
    convert(e.model, e.scale, raw, out, force=True, key=e.key, **e.kwargs)
    return out


def load(model, spec="official", source=None):
    """Load checkpoint ``spec`` into ``model`` (a registered model, its ``sr_name`` / ``sr_scale`` checked)."""
    from paddle_sr.weights.state import load_weights

    e = get(spec, getattr(model, "sr_name", None), getattr(model, "sr_scale", None))
    return load_weights(model, weights_path(e.id, source=source))
