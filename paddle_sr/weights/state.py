"""State dicts on disk: ``read_state_dict`` (``.pdparams``, a training state, a ``.pth``), ``check_state_dict``
(every key and shape, with the model/scale the file was probably saved for) and ``load_weights``.

``.pdparams`` files hold weights only and load with ``model.set_state_dict(paddle.load(p))``.
Converted official weights also carry the model's ``value_range`` buffer (see ``models.common``).
"""
import os

import paddle

from paddle_sr.core.errors import SRError
from paddle_sr.weights.run_folder import BEST, LAST, STATE


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
    if is_training_state(state):
        folder = os.path.dirname(os.path.abspath(path))
        have = [f for f in (BEST, LAST) if os.path.isfile(os.path.join(folder, f))]
        beside = (f"; beside it: {', '.join(os.path.join(folder, f) for f in have)}" if have
                  else "; the run writes them at its first checkpoint")
        raise SRError(f"{path} is a training state file ({STATE}: optimizer, iteration, RNG, used to resume "
                      f"training), not weights; pass the run's {BEST} (best validation PSNR) or "
                      f"{LAST} (latest){beside}")
    return state


def is_training_state(state):
    """True for the dict ``write_checkpoint`` saves as ``state.pdstate`` (not a weights file)."""
    return isinstance(state, dict) and {"iteration", "rng", "model", "optimizer"} <= set(state)


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
