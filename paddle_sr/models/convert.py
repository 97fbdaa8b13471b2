"""Convert an official PyTorch checkpoint into ``.pdparams`` for a registered model (no PyTorch needed).

    python -m paddle_sr.convert --model rlfn --scale 4 rlfn_x4.pth output/weights/rlfn_x4.pdparams

What it does, in order:
1. reads the ``.pth``/``.pt`` with ``paddle_sr.weights.pth.read_pth`` (restricted unpickler, nothing runs);
2. finds the state dict inside the official layouts: a bare state dict (RLFN, EDSR-PyTorch family),
   nested under ``params_ema`` / ``params`` (BasicSR), ``state_dict`` or ``model``, LIIF's
   ``{'model': {'name', 'args', 'sd'}}``; strips DataParallel's ``module.`` prefix;
3. maps names (identity: the ports keep the official names) and transposes ``Linear`` weights
   (PyTorch [out, in] -> Paddle [in, out]: LIIF's MLP, SwinIR's attention/MLP); BatchNorm statistics
   ``running_mean`` / ``running_var`` become Paddle's ``_mean`` / ``_variance``; buffers that are not
   weights are dropped (``num_batches_tracked``; SwinIR's ``attn_mask``, which the port computes for
   the input size);
4. checks every key and shape against the model (SRError listing mismatches, with the model/scale
   the file does fit when one in the same family does);
5. stores the range the official weights work on in ``value_range`` (see ``models.common.SRModel``),
   so evaluation and prediction feed [0, 255] to RLFN/EDSR/RCAN/RDN automatically;
6. writes atomically and never overwrites an existing file unless ``force``.
"""
import ast
import os

import numpy as np
import paddle
import paddle.nn as nn

from paddle_sr.core.errors import SRError
from paddle_sr.core.files import atomic_save, check_writable
from paddle_sr.models import _registry
from paddle_sr.weights.matconvnet import check_geometry, is_mat_file, read_dagnn
from paddle_sr.weights.pth import read_pth
from paddle_sr.weights.state import check_state_dict

# Range the official weights work on, per registered model, and the models whose checkpoints share
# a key layout (tried when a file does not fit, to name the one it does fit).
NATIVE_RANGES = {
    "rlfn": (0.0, 255.0), "rlfn_s": (0.0, 255.0), "rlfn_ntire": (0.0, 255.0),
    "edsr": (0.0, 255.0), "edsr_baseline": (0.0, 255.0), "rcan": (0.0, 255.0), "rdn": (0.0, 255.0),
    # LIIF normalises its [0, 1] input with mean 0.5 / std 0.5: exactly the suite's [-1, 1].
    "liif": (-1.0, 1.0), "liif_edsr_baseline": (-1.0, 1.0),
    # The zoo (issue 8), each model file's default value_range. MATLAB / Caffe models work on
    # im2double [0, 1]; their official weights are not PyTorch files (SRCNN, VDSR, DRRN: Caffe /
    # MatConvNet; LapSRN: MatConvNet; DRCN: none public), so the layouts accepted are the ports' names
    # (the PyTorch ports of SRCNN / ESPCN / VDSR / DRRN use them; see each model's docstring).
    "srcnn": (0.0, 1.0), "espcn": (0.0, 1.0), "vdsr": (0.0, 1.0), "drcn": (0.0, 1.0), "drrn": (0.0, 1.0),
    "lapsrn": (0.0, 1.0), "esrgan": (0.0, 1.0), "swinir": (0.0, 1.0), "swinir_light": (0.0, 1.0),
    "wdsr_a": (0.0, 255.0), "wdsr_b": (0.0, 255.0), "san": (0.0, 255.0),
    "ignn": (0.0, 255.0),
    # IMDN (test_IMDN.py: im_l / 255) and CARN / CARN-M (sample.py: ToTensor) work on RGB in [0, 1].
    "imdn": (0.0, 1.0), "carn": (0.0, 1.0), "carn_m": (0.0, 1.0),
}


FAMILIES = [("rlfn", "rlfn_s", "rlfn_ntire"), ("edsr", "edsr_baseline"), ("rcan",), ("rdn",),
            ("liif", "liif_edsr_baseline"), ("srcnn",), ("espcn",), ("vdsr",), ("drcn",), ("drrn",), ("lapsrn",),
            ("esrgan",), ("wdsr_a", "wdsr_b"), ("swinir", "swinir_light"), ("san",), ("ignn",),
            ("imdn",), ("carn", "carn_m")]


# PyTorch buffer names -> Paddle's (BatchNorm running statistics), and buffers that hold no weights.
RENAMED_SUFFIXES = {".running_mean": "._mean", ".running_var": "._variance"}


DROPPED_SUFFIXES = (".num_batches_tracked", ".attn_mask")


# tried in this order; IGNN's official files are {'net_state_dict': ..., 'solver_state_dict': ...}
NESTED_KEYS = ("params_ema", "params", "state_dict", "net_state_dict", "model")


def _is_state_dict(obj):
    return isinstance(obj, dict) and obj and all(isinstance(v, np.ndarray) for v in obj.values())


def find_state_dict(obj, key=None, source="checkpoint"):
    """The flat name -> array dict inside a checkpoint; ``key`` ('a.b') picks a nested entry."""
    trail = []
    if key:
        for part in key.split("."):
            if not isinstance(obj, dict) or part not in obj:
                have = list(obj)[:10] if isinstance(obj, dict) else type(obj).__name__
                raise SRError(f"{source} has no entry {'.'.join(trail + [part])!r} (it has: {have}); "
                              f"fix --key or leave it out")
            obj, trail = obj[part], trail + [part]
    while not _is_state_dict(obj):
        if not isinstance(obj, dict):
            raise SRError(f"{source}{' at ' + '.'.join(trail) if trail else ''} holds a {type(obj).__name__}, "
                          f"not a state dict of tensors")
        if isinstance(obj.get("model"), dict) and "sd" in obj["model"]:  # LIIF: {'model': {name, args, sd}}
            obj, trail = obj["model"]["sd"], trail + ["model", "sd"]
            continue
        nested = [k for k in NESTED_KEYS if isinstance(obj.get(k), dict)]
        if not nested:
            raise SRError(f"{source} holds a dict with keys {list(obj)[:10]} but no state dict of tensors "
                          f"(looked for {', '.join(NESTED_KEYS)}); pass --key NAME to pick the entry")
        obj, trail = obj[nested[0]], trail + [nested[0]]
    # DataParallel / DistributedDataParallel save every name with a 'module.' prefix.
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}


def _linear_weights(model):
    return {f"{name}.weight" for name, layer in model.named_sublayers() if isinstance(layer, nn.Linear)}


def map_state(model, state):
    """Official names -> this model's: identity plus the [out, in] -> [in, out] transpose of Linear
    weights, Paddle's BatchNorm statistics names, and without the buffers in ``DROPPED_SUFFIXES``."""
    linear = _linear_weights(model)
    out = {}
    for k, v in state.items():
        if k.endswith(DROPPED_SUFFIXES):
            continue
        for old, new in RENAMED_SUFFIXES.items():
            if k.endswith(old):
                k = k[: -len(old)] + new
        if k in linear and v.ndim == 2:
            v = v.T
        out[k] = np.ascontiguousarray(v)
    return out


def _fits(model, state):
    own = model.state_dict()
    return ({k for k in own if k.rsplit(".", 1)[-1] != "value_range"} == set(state)
            and all(list(own[k].shape) == list(state[k].shape) for k in state))


def _guess(model_name, scale, state, model_kwargs):
    """Registered (name, scale) pairs of the same family whose layout the state matches."""
    family = next((f for f in FAMILIES if model_name in f), (model_name,))
    found = []
    for name in family:
        if name not in _registry.names():
            continue
        for s in _registry.scales(name) or (scale,):
            if (name, s) == (model_name, scale):
                continue
            try:
                with paddle.LazyGuard():  # shapes only: no weights are initialised
                    m = _registry.build(name, scale=s, **(model_kwargs if name == model_name else {}))
            except Exception:
                continue
            if _fits(m, state):
                found.append(f"--model {name} --scale {s}")
    if model_name == "lapsrn":  # the depth per level differs between files (10 at x2/x4, 5 in LapSRN_x8.mat)
        from paddle_sr.models.lapsrn import layout_of

        layout = layout_of(state)
        if layout and (layout[1] != model_kwargs.get("depth") or layout[0] != scale):
            kw = dict(model_kwargs, depth=layout[1])
            try:
                with paddle.LazyGuard():
                    fits = _fits(_registry.build("lapsrn", scale=layout[0], **kw), state)
            except Exception:
                fits = False
            hint = f"--model lapsrn --scale {layout[0]} --arg depth={layout[1]}"
            if fits and not any(f == f"--model lapsrn --scale {layout[0]}" for f in found):
                found.append(hint)
    return found


def _parse_scale(scale):
    scale = float(scale)
    return int(scale) if scale.is_integer() else scale


def convert(model_name, scale, in_path, out_path, *, force=False, key=None, **model_kwargs):
    """Convert official checkpoint ``in_path`` for model ``model_name`` x``scale`` to ``out_path``.

    ``model_kwargs`` go to ``models.create`` (e.g. a reduced RCAN: ``n_resgroups=2``); ``key`` picks a
    nested entry ('a.b') when the automatic search does not. Returns the Paddle model with the weights.
    """
    if model_name not in NATIVE_RANGES:
        _registry.scales(model_name)  # unknown name -> SRError listing the registered ones
        raise SRError(f"no official PyTorch checkpoint layout is known for model {model_name!r}; "
                      f"convertible: {', '.join(sorted(NATIVE_RANGES))}")
    scale = _parse_scale(scale)
    out_path = os.fspath(out_path)
    if os.path.isdir(out_path):  # --force replaces a file, never a folder (and its contents)
        raise SRError(f"{out_path} is an existing folder; name the output file, e.g. "
                      f"{os.path.join(out_path, f'{model_name}_x{scale}.pdparams')}")
    if os.path.exists(out_path) and not force:
        raise SRError(f"{out_path} already exists; pass --force (force=True) to overwrite it")
    check_writable(out_path, "output file")  # before reading and checking a possibly large checkpoint
    _registry.check_scale(model_name, scale)
    source = f"checkpoint {in_path}"
    # MatConvNet DagNN .mat (LapSRN's official files): weights come back in Paddle layout and names.
    dagnn = read_dagnn(in_path) if is_mat_file(in_path) or os.fspath(in_path).lower().endswith(".mat") else None
    state = dagnn.state_dict() if dagnn else find_state_dict(read_pth(in_path), key, source)
    try:
        model = _registry.build(model_name, scale=scale, **model_kwargs)
    except TypeError as e:
        raise SRError(f"model {model_name!r} does not accept these arguments: {e}") from None
    state = map_state(model, state)
    if dagnn:  # the file's stride / pad / crop must be the port's too, not only names and shapes
        check_geometry(model, dagnn, source)
    try:
        check_state_dict(model, state, source=source)
    except SRError as e:
        fits = _guess(model_name, scale, state, model_kwargs)
        hint = f" The file fits: {'; '.join(fits)}." if fits else ""
        raise SRError(f"{e}{hint}") from None
    own = model.state_dict()
    tensors = {k: paddle.to_tensor(v, dtype=own[k].dtype) for k, v in state.items()}  # fp16/bf16 -> fp32
    tensors["value_range"] = paddle.to_tensor(np.array(NATIVE_RANGES[model_name], dtype="float32"))
    # A nested encoder's own range (LIIF's) is not the official file's business: LIIF calls the
    # encoder's forward_native, so the model's default stays.
    tensors.update({k: v for k, v in own.items() if k.endswith(".value_range")})
    model.set_state_dict(tensors)
    for k, v in model.state_dict().items():  # set_state_dict only warns on a skipped key
        expected = tensors[k].numpy()
        if not np.array_equal(v.numpy(), expected):
            raise SRError(f"internal error: {k} did not load; please report it")
    atomic_save(model.state_dict(), out_path)
    return model


def parse_arg(text):
    """``--arg KEY=VALUE`` -> (key, value): a Python literal (``2``, ``(16, 16)``, ``{'a': 1}``), else the string."""
    k, sep, v = text.partition("=")
    if not sep or not k.isidentifier():
        raise SRError(f"--arg expects KEY=VALUE, got {text!r}")
    try:
        return k, ast.literal_eval(v)
    except (ValueError, SyntaxError):
        return k, v  # a bare word: keep it as a string (e.g. config=B)
