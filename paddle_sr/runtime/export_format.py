"""The export folder: ``paddle.jit.save`` of a model with a dynamic height/width input, and its metadata.

``export(model, out)`` writes ``OUT/model.json`` (``model.pdmodel`` before Paddle 3), ``OUT/model.pdiparams``
and ``OUT/sr_meta.json`` (model, scale, I/O range, the weights' own range and ``fingerprint``). The graph
takes one NCHW float32 image batch in the suite's [-1, 1] of any height/width and returns SR in [-1, 1];
the weights' own value range is baked in. ``runtime.predictor.InferenceEngine`` runs it; the command line
is ``python -m paddle_sr.export``.
"""
import json
import os
import shutil
import tempfile

import paddle
from paddle.static import InputSpec

from paddle_sr.core.errors import SRError
from paddle_sr.core.files import check_writable, refuse_existing

META_FILE = "sr_meta.json"


PREFIX = "model"


def model_files(folder):
    """(graph file, params file) of an export folder; SRError when the folder holds none."""
    folder = os.fspath(folder)
    params = os.path.join(folder, PREFIX + ".pdiparams")
    # Paddle >= 3 writes the PIR graph as .json; older versions a ProgramDesc .pdmodel.
    for ext in (".json", ".pdmodel"):
        graph = os.path.join(folder, PREFIX + ext)
        if os.path.isfile(graph) and os.path.isfile(params):
            return graph, params
    raise SRError(f"{folder} holds no exported model ({PREFIX}.json or {PREFIX}.pdmodel plus {PREFIX}.pdiparams); "
                  f"create one with `python -m paddle_sr.export --model NAME --scale S --weights FILE --out {folder}`")


def read_meta(folder):
    """The export's ``sr_meta.json`` (model name, scale, Paddle version), or {} for a bare export."""
    path = os.path.join(os.fspath(folder), META_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def weights_meta(model):
    """What an export says about its weights (also in an ONNX export's metadata): ``weights_range``, the
    value range they were trained on (baked into the graph; informative), and ``fingerprint``
    (``facts.fingerprint``, to tell which weights a file holds)."""
    from paddle_sr.runtime.facts import fingerprint

    vr = getattr(model, "value_range", None)
    return {"weights_range": ",".join(f"{float(v):g}" for v in vr.numpy()) if vr is not None else "-1,1",
            "fingerprint": fingerprint(model)}


def export(model, out, name=None, scale=None, force=False):
    """Save ``model.forward`` as a static graph with dynamic H/W under folder ``out``; returns ``out``.

    Files appear all at once (written in a temporary sibling folder, then moved), so a failed
    export never leaves a half-written model next to an older good one. A model already in ``out``
    is replaced only with ``force`` (``--force``).
    """
    out = os.fspath(out)
    check_writable(out, "export folder", folder=True)
    if not force:
        refuse_existing(model_files_in(out), "--force (force=True)", "another --out folder")
    name = name or getattr(model, "sr_name", type(model).__name__)
    scale = scale if scale is not None else getattr(model, "sr_scale", None)
    model.eval()
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    own_forward = vars(model).get("forward")  # normally None: forward is the class method
    tmp = tempfile.mkdtemp(prefix=os.path.basename(out) + ".", suffix=".tmp", dir=parent)
    try:
        static = paddle.jit.to_static(model, input_spec=[InputSpec([None, 3, None, None], "float32", "lr")],
                                      full_graph=True)
        paddle.jit.save(static, os.path.join(tmp, PREFIX))
        with open(os.path.join(tmp, META_FILE), "w") as f:
            json.dump({"model": name, "scale": scale, "paddle": paddle.__version__,
                       "input": "NCHW float32 in [-1, 1], any H/W", "output": "NCHW float32 in [-1, 1]",
                       **weights_meta(model)}, f, indent=1)
        os.makedirs(out, exist_ok=True)
        for ext in (".json", ".pdmodel"):  # a stale graph of the other format would shadow the new one
            stale = os.path.join(out, PREFIX + ext)
            if os.path.exists(stale):
                os.remove(stale)
        for fname in os.listdir(tmp):
            os.replace(os.path.join(tmp, fname), os.path.join(out, fname))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        # to_static swaps in a static forward on the instance; give the caller back an eager layer.
        if own_forward is None:
            vars(model).pop("forward", None)
        else:
            model.forward = own_forward
    model_files(out)  # fails loudly if Paddle wrote something unexpected
    return out


def model_files_in(out):
    """The files of an exported model that ``export`` would replace in folder ``out``."""
    return [os.path.join(out, f) for f in (PREFIX + ".json", PREFIX + ".pdmodel", PREFIX + ".pdiparams", META_FILE)]
