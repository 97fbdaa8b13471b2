"""Weights on disk: atomic writes and loading with a clear error when a file does not fit a model.

``.pdparams`` files hold weights only and load with ``model.set_state_dict(paddle.load(p))``.
Converted official weights also carry the model's ``value_range`` buffer (see ``models.common``).
"""
import os
import tempfile

import paddle

from .errors import SRError


def atomic_save(obj, path):
    """``paddle.save`` to a temporary file in the same folder, fsync, then ``os.replace``.

    A process killed mid-write leaves the previous file intact (plus at most a stray ``.tmp``).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        paddle.save(obj, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make shared run folders unreadable to others
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_json(obj, path):
    """Write ``obj`` as JSON to ``path`` through a temporary file and ``os.replace``."""
    import json

    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_state_dict(path):
    """``paddle.load`` with SRError for a missing or unreadable file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise SRError(f"weights file {path} does not exist; pass the path of a .pdparams file "
                      f"(convert official .pth files with `python -m paddle_sr.convert`)")
    try:
        state = paddle.load(path)
    except Exception as e:  # paddle raises assorted types for torn/foreign files
        raise SRError(f"cannot read weights file {path} ({type(e).__name__}: {e}); is it a .pdparams "
                      f"saved by paddle.save? Official PyTorch .pth files need `python -m paddle_sr.convert`") from None
    if not isinstance(state, dict):
        raise SRError(f"{path} holds a {type(state).__name__}, not a state dict of weights")
    return state


def check_state_dict(model, state, source="checkpoint"):
    """Raise SRError listing missing/unexpected keys and shape mismatches between model and state."""
    own = model.state_dict()
    # value_range (also a nested encoder's) is optional in a file: the notebooks' .pdparams
    # predate it and mean [-1, 1].
    missing = [k for k in own if k not in state and k.rsplit(".", 1)[-1] != "value_range"]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: file {list(state[k].shape)} vs model {list(own[k].shape)}"
              for k in own if k in state and list(state[k].shape) != list(own[k].shape)]
    if not (missing or unexpected or shapes):
        return
    name = getattr(model, "sr_name", type(model).__name__)
    scale = getattr(model, "sr_scale", None)
    parts = []
    for label, items in (("shape mismatches", shapes), ("missing keys", missing), ("unexpected keys", unexpected)):
        if items:
            more = f" (+{len(items) - 5} more)" if len(items) > 5 else ""
            parts.append(f"{len(items)} {label}: {'; '.join(items[:5])}{more}")
    hint = ("; it was probably saved for another scale or model configuration" if shapes and not (missing or unexpected)
            else "; it was probably saved for another model")
    target = f"model {name!r}" + (f" x{scale}" if scale is not None else "")
    raise SRError(f"{source} does not fit {target}: {' | '.join(parts)}{hint}. "
                  f"Pass the --model/--scale the weights were trained for.")


def load_weights(model, path):
    """Load a ``.pdparams`` into ``model`` after checking every key and shape; returns the model."""
    state = read_state_dict(path)
    check_state_dict(model, state, source=f"weights file {path}")
    model.set_state_dict(state)
    return model


def run_config(weights):
    """The resolved recipe (``config.json``) of the training run a weights file lies in, or None."""
    import json

    path = os.path.join(os.path.dirname(os.path.abspath(os.fspath(weights))), "config.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def model_for_weights(name, scale, weights, config=None):
    """Registered model ``name`` x``scale`` rebuilt for ``weights`` and loaded, in eval mode.

    Weights from a training run folder (``output/<run>/Best.pdparams``) rebuild the configuration
    the run trained (its ``config.json`` ``model_kwargs``, e.g. the demo's small RDN), so a
    checkpoint never has to be described twice; other files get the registry defaults. ``config``
    (a run's resolved recipe) overrides the look-up beside the file.
    """
    from .models import create

    cfg = config if config is not None else (run_config(weights) or {})
    kwargs = {}
    if cfg.get("model"):
        if (cfg["model"], cfg.get("scale")) != (name, scale):
            raise SRError(f"{weights} was trained as --model {cfg['model']} --scale {cfg.get('scale')} (its run's "
                          f"config.json), not --model {name} --scale {scale}; pass the model and scale it was trained for")
        kwargs = cfg.get("model_kwargs") or {}
    model = load_weights(create(name, scale=scale, **kwargs), weights)
    model.eval()
    return model
