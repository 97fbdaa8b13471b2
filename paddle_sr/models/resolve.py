"""The one way from weights to a model: ``model_for_weights(name, scale, weights)`` takes ``official`` /
``official:ID`` (the authors' checkpoints, ``models.pretrained``), a file in a training run folder (its
``config.json`` rebuilds the configuration the run trained) or any ``.pdparams``, and returns the model
loaded, in eval mode. Every tool, the app, ``show_image`` and the notebooks use it.
"""
from paddle_sr.core.errors import SRError
from paddle_sr.weights.state import load_weights
from paddle_sr.weights.run_folder import run_config


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
    from paddle_sr.models._factory import create
    from paddle_sr.models._registry import scales

    if isinstance(weights, str) and (weights == "official" or weights.startswith("official:")):
        if model_kwargs:
            raise SRError(f"--weights {weights} are the authors' released weights of the default {name}; "
                          f"drop --arg {model_kwargs}")
        model = create(name, scale=scale, pretrained=True if weights == "official" else weights.split(":", 1)[1])
        model.eval()
        return model
    cfg = config if config is not None else (run_config(weights) or {})
    kwargs = {}
    if cfg.get("model"):
        fixed = scales(cfg["model"]) is not None if cfg["model"] == name else True
        if cfg["model"] != name or (fixed and cfg.get("scale") != scale):
            raise SRError(f"{weights} was trained as --model {cfg['model']} --scale {cfg.get('scale')} (its run's "
                          f"config.json), not --model {name} --scale {scale}; pass the model and scale it was trained for")
        kwargs = dict(cfg.get("model_kwargs") or {})
    kwargs.update(model_kwargs or {})
    try:
        model = create(name, scale=scale, **kwargs)
    except TypeError as e:
        raise SRError(f"model {name!r} does not accept the arguments {kwargs}: {e}; fix --arg KEY=VALUE") from None
    model = load_weights(model, weights)
    model.eval()
    return model
