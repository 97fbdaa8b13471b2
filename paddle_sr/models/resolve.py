"""The one way from weights to a model: ``model_for_weights`` (official[:ID], a run folder's files, a
plain ``.pdparams``), with the checks every tool makes before it (``fixed_scale``, ``is_bicubic``,
``pin_official``) and ``model_in_run`` for a run folder named by its folder.

``.pdparams`` files hold weights only and load with ``model.set_state_dict(paddle.load(p))``.
Converted official weights also carry the model's ``value_range`` buffer (see ``models.common``).
"""
import os

from paddle_sr.core.errors import SRError
from paddle_sr.models._factory import create
from paddle_sr.models._registry import scales
from paddle_sr.weights.run_folder import BEST, CONFIG, LAST, official_id, run_config
from paddle_sr.weights.state import load_weights

BICUBIC = "bicubic"  # the baseline of evaluate / the app: no model, no weights


def is_bicubic(name, weights=None):
    """True for the bicubic baseline (SRError when it is given weights), False for a model name."""
    if name != BICUBIC:
        return False
    if weights:
        raise SRError("--model bicubic takes no --weights; drop the option or name the model they belong to")
    return True


def fixed_scale(name, scale, given="--scale "):
    """``scale`` as an int for a fixed-scale model (SRError for a non-integer or missing one); an
    arbitrary-scale model's scale unchanged. ``given`` prefixes the scale in the message."""
    supported = scales(name)  # SRError naming the known models
    if supported is None:
        return scale
    if scale is None or not float(scale).is_integer():
        raise SRError(f"model {name!r} has fixed scales {', '.join(map(str, supported))}; got {given}{scale}. "
                      f"Non-integer scales need an arbitrary-scale model such as liif")
    return int(scale)


def pin_official(weights, name, scale):
    """``'official'`` made ``'official:ID'`` (the checkpoint of ``name`` x``scale``); other weights unchanged."""
    if official_id(weights) != "":
        return weights
    from paddle_sr.models import pretrained

    return f"official:{pretrained.get(weights, name, scale).id}"


def model_for_weights(name, scale, weights, config=None, model_kwargs=None):
    """Registered model ``name`` x``scale`` rebuilt for ``weights`` and loaded, in eval mode.

    Weights from a training run folder (``output/<run>/Best.pdparams``) rebuild the configuration
    the run trained (its ``config.json`` ``model_kwargs``, e.g. the demo's small RDN), so a
    checkpoint never has to be described twice; other files get the registry defaults. ``config``
    (a run's resolved recipe) overrides the look-up beside the file; ``model_kwargs`` (``--arg
    KEY=VALUE``) are constructor arguments given explicitly, on top of the run's. An
    arbitrary-scale model (LIIF) does not depend on the scale, so any ``scale`` fits its run.
    ``weights='official'`` (or ``'official:ID'``) takes the authors' released checkpoint
    (``paddle_sr.pretrained``: downloaded once, verified, converted and cached).
    """
    ident = official_id(weights)
    if ident is not None:
        if model_kwargs:
            raise SRError(f"--weights {weights} are the authors' released weights of the default {name}; "
                          f"drop --arg {model_kwargs}")
        model = create(name, scale=scale, pretrained=ident or True)
        model.eval()
        return model
    cfg = config if config is not None else (run_config(weights) or {})
    kwargs = {}
    if cfg.get("model"):
        fixed = scales(cfg["model"]) is not None if cfg["model"] == name else True
        if cfg["model"] != name or (fixed and cfg.get("scale") != scale):
            raise SRError(f"{weights} was trained as --model {cfg['model']} --scale {cfg.get('scale')} (its run's "
                          f"{CONFIG}), not --model {name} --scale {scale}; pass the model and scale it was trained for")
        kwargs = dict(cfg.get("model_kwargs") or {})
    kwargs.update(model_kwargs or {})
    try:
        model = create(name, scale=scale, **kwargs)
    except TypeError as e:
        raise SRError(f"model {name!r} does not accept the arguments {kwargs}: {e}; fix --arg KEY=VALUE") from None
    model = load_weights(model, weights)
    model.eval()
    return model


def model_in_run(run_dir, config, weights=BEST):
    """The model training run ``run_dir`` trained (``config``: its ``config.json``) with ``weights`` (a file
    name inside the run folder, or a path) loaded, in eval mode; SRError naming the fix when it is missing."""
    path = weights if os.path.dirname(os.fspath(weights)) else os.path.join(os.fspath(run_dir), weights)
    if not os.path.isfile(path):
        raise SRError(f"{path} does not exist; the run writes {BEST} at its first validation "
                      f"(every val_every={config.get('val_every')} iterations) — train longer or pick {LAST}")
    return model_for_weights(config["model"], config["scale"], path, config=config)
