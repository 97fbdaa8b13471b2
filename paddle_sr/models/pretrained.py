"""Official checkpoints on demand: a table of the authors' released weights, downloaded, checked, converted.

    python -m paddle_sr.pretrained                      # the table: ids, models, cached or not
    python -m paddle_sr.pretrained rlfn_x4 imdn_x2      # fetch and convert these now (e.g. before going offline)
    models.create("rlfn", scale=4, pretrained=True)     # the default checkpoint of a model and scale
    python -m paddle_sr.evaluate --model rlfn --scale 4 --weights official ...   # or official:ID

Each ``Entry`` names one file as its authors publish it (URL, sha256 of that file, format, source
repository and licence) and the registered model, scale and constructor arguments it fits, with the
paper's PSNR/SSIM rows and where they come from. ``weights_path(id)`` returns a converted
``.pdparams``: the raw file is downloaded once into ``HOME/downloads`` (resumable, atomic, checksum
verified by ``paddle_sr.download``; a mismatch is kept as ``*.bad`` and refused), then converted
without PyTorch (``paddle_sr.convert``) into ``HOME/pretrained/<id>.pdparams``.

``HOME`` is ``$PADDLE_SR_HOME`` or ``~/.cache/paddle_sr``. Offline, or with the files at hand (an
AI Studio data set): ``$PADDLE_SR_WEIGHTS`` (folders or files, separated by ``os.pathsep``) or the
``source=`` argument is searched for the file name before any download, and its checksum is
verified the same way (a name there that does not exist is an error naming the variable, never skipped in
silence; an unwritable cache is an error naming ``$PADDLE_SR_HOME``). ``$PADDLE_SR_MIRROR`` (a base URL) replaces the authors' hosts, for a mirror
of the files under their names.
"""
import os
from paddle_sr.core.errors import SRError
from paddle_sr.models.convert import convert
from paddle_sr.weights.catalogue import BY_ID, ENTRIES, _raw_file, check_cache_writable, converted_path


def entries(model=None, scale=None):
    """Entries whose registered model is ``model`` (and scale ``scale``), in table order."""
    from paddle_sr.models._registry import names as registered

    names = set(registered())
    return [e for e in ENTRIES if e.model in names and (model is None or e.model == model)
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
    if ident not in BY_ID or BY_ID[ident] not in entries():
        raise SRError(f"unknown checkpoint id {ident!r}; known ids: {', '.join(e.id for e in entries())}")
    e = BY_ID[ident]
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
