"""ONNX export: the Paddle export (``paddle_sr.export``) converted by paddle2onnx, with the suite's metadata.

    python -m paddle_sr.export --format onnx --model rlfn_ntire --scale 4 --weights official --out rlfn_ntire_x4.onnx

The ONNX graph is the Paddle Inference graph converted op by op (``paddle2onnx``, opset ``OPSET``):
input ``lr`` NCHW float32 in [-1, 1] with dynamic batch, height and width, output SR in [-1, 1]
(the weights' own value range is baked in, as in the Paddle export). ``metadata_props`` carry what
``sr_meta.json`` carries for a Paddle export, plus what a deployer needs to check a file:
``sr_model``, ``sr_scale``, ``sr_input`` / ``sr_output`` (layout and value range), ``sr_weights_range``
(the range the weights were trained on, informative), ``sr_fingerprint`` (``facts.fingerprint``
of the weights), ``sr_paddle``, ``sr_paddle2onnx``. ``read_onnx_meta(path)`` returns them as a dict.

Not exportable to ONNX (``NOT_EXPORTABLE``, refused with one SRError naming ``--format paddle`` or
eager instead): LIIF (its fixed-scale renderer's coordinate query does not convert; no encoder-only
ONNX either: the query step would have to be re-implemented outside the file), SAN and IGNN
(operators paddle2onnx or ONNX Runtime lack). Every other registered model converts.
Needs ``paddle2onnx`` (``pip install paddle2onnx``);
running the file needs only ``onnxruntime`` (``paddle_sr.runtime.onnx_engine``, ``examples/onnx_upscale.py``).
"""
import os
import tempfile

from paddle_sr.core.errors import SRError

OPSET = 13
META_PREFIX = "sr_"
IO_RANGE = "NCHW float32 in [-1, 1]"


# Model classes whose graph does not convert (found by exporting every registered model with
# paddle2onnx 2.1.0 / onnxruntime 1.32 on Paddle 3.0.0; tests/test_onnx.py checks each refusal is still needed).
NOT_EXPORTABLE = {
    "LIIF": "its coordinate query (gathers at every output pixel centre) uses operators paddle2onnx cannot convert",
    "SAN": "its second-order channel attention (covariance pooling, Newton-Schulz square root) uses operators "
           "paddle2onnx cannot convert",
    "IGNN": "its graph aggregation converts to a boolean Where that ONNX Runtime does not implement",
}


def onnx_refusal(model):
    """Why ``model`` cannot be exported to ONNX (one sentence with the fix), or None when it can."""
    name = getattr(model, "sr_name", type(model).__name__)
    why = NOT_EXPORTABLE.get(type(model).__name__)
    if why:
        return f"{name} cannot be exported to ONNX: {why}; use --format paddle (Paddle Inference) or run it eager"
    return None


def _require(module, what):
    try:
        return __import__(module)
    except ImportError:
        raise SRError(f"{what} needs the {module} package, which is not installed; "
                      f"pip install {module} (or pip install -r requirements-onnx.txt)") from None


def check_onnx_out(out, force=False):
    """SRError unless ``out`` is a writable path ending in ``.onnx`` that does not exist yet (or ``force``);
    also checks paddle2onnx is installed."""
    from paddle_sr.core.files import check_writable, refuse_existing

    if not os.fspath(out).endswith(".onnx"):
        raise SRError(f"--format onnx writes one file: give --out a path ending in .onnx, got {out}")
    check_writable(out, "--out file")
    if not force:
        refuse_existing([out] if os.path.exists(out) else [], "--force", "another --out file")
    _require("paddle2onnx", "--format onnx")
    _require("onnx", "--format onnx")


def export_onnx(model, out, name=None, scale=None, opset=OPSET):
    """Write ``model`` as an ONNX file with dynamic N/H/W at ``out`` (a ``.onnx`` path); returns the path.

    The file appears all at once (written beside it, then ``os.replace``d).
    """
    from paddle_sr.runtime.export_format import export, weights_meta

    reason = onnx_refusal(model)
    if reason:
        raise SRError(reason)
    paddle2onnx = _require("paddle2onnx", "--format onnx")
    onnx = _require("onnx", "--format onnx")
    import paddle

    out = os.fspath(out)
    name = name or getattr(model, "sr_name", type(model).__name__)
    scale = scale if scale is not None else getattr(model, "sr_scale", None)
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="paddle_sr_onnx_", dir=parent) as tmp:
        export(model, os.path.join(tmp, "paddle"), name=name, scale=scale)
        from paddle_sr.runtime.export_format import model_files

        graph, params = model_files(os.path.join(tmp, "paddle"))
        raw = os.path.join(tmp, "raw.onnx")
        detail = _convert(graph, params, raw, opset)
        if detail:
            raise SRError(f"cannot export {name} to ONNX: {detail}; use --format paddle (Paddle Inference) instead")
        proto = onnx.load_model(raw)
        _name_dims(proto)
        _constants_to_initializers(proto)
        meta = {"model": name, "scale": str(scale), "input": IO_RANGE + ", any N/H/W", "output": IO_RANGE,
                **weights_meta(model), "paddle": paddle.__version__, "paddle2onnx": paddle2onnx.__version__}
        del proto.metadata_props[:]
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = META_PREFIX + k, str(v)
        proto.producer_name = "paddle_sr"
        tmp_file = os.path.join(tmp, "model.onnx")
        onnx.save_model(proto, tmp_file)
        os.replace(tmp_file, out)
    return out


_CONVERT = """
import sys, paddle2onnx
data = paddle2onnx.export(sys.argv[1], sys.argv[2], save_file=None, opset_version=int(sys.argv[4]),
                          auto_upgrade_opset=True, enable_onnx_checker=True, enable_optimize=True)
open(sys.argv[3], "wb").write(data)
"""


def _convert(graph, params, raw, opset):
    """paddle2onnx in a child process (it aborts the process on an operator it cannot convert);
    returns None on success, else the reason in one line."""
    import subprocess
    import sys

    # Own session: a terminal's Ctrl-C reaches this process (which waits for the export, see
    # OnnxEngine.from_model), not the converter half-way through.
    proc = subprocess.run([sys.executable, "-c", _CONVERT, graph, params, raw, str(opset)], start_new_session=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    if proc.returncode == 0 and os.path.isfile(raw) and os.path.getsize(raw) > 0:
        return None
    errors = [line.split("]", 2)[-1].strip() for line in proc.stdout.splitlines() if "[ERROR]" in line
              and "unsupported features" not in line]
    last = [line for line in proc.stdout.splitlines() if line.strip()][-1:] or ["no output"]
    return "paddle2onnx: " + (errors[0] if errors else f"exit status {proc.returncode}: {last[0].strip()[:200]}")


def _constants_to_initializers(proto):
    """paddle2onnx writes every weight as a ``Constant`` node, often behind an ``Identity``: make them graph
    initializers and drop those Identities, the form ONNX Runtime's quantizer recognises as weights (it
    left Constant-fed convolutions' weights in float32 and quantized the Identity outputs instead)."""
    from onnx import numpy_helper

    graph = proto.graph
    inits = {i.name for i in graph.initializer}
    keep = []
    for node in graph.node:
        value = [a for a in node.attribute if a.name == "value"] if node.op_type == "Constant" else []
        if value and value[0].HasField("t"):
            tensor = numpy_helper.from_array(numpy_helper.to_array(value[0].t), node.output[0])
            graph.initializer.append(tensor)
            inits.add(node.output[0])
        else:
            keep.append(node)
    outputs = {o.name for o in graph.output}
    rename = {}
    final = []
    for node in keep:
        if node.op_type == "Identity" and node.input[0] in inits and node.output[0] not in outputs:
            rename[node.output[0]] = node.input[0]
        else:
            final.append(node)
    for node in final:
        for i, name in enumerate(node.input):
            while name in rename:
                name = rename[name]
            node.input[i] = name
    del graph.node[:]
    graph.node.extend(final)


def _name_dims(proto):
    """Readable dynamic dimension names (``batch``, ``height``, ``width``; ``out_height`` ...)."""
    for value, prefix in ((proto.graph.input[0], ""), (proto.graph.output[0], "out_")):
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4:
            for d, label in zip(dims, ("batch", None, "height", "width")):
                if label and not d.HasField("dim_value"):
                    d.dim_param = label if label == "batch" else prefix + label


def read_onnx_meta(path):
    """``metadata_props`` of an ONNX file written by ``export_onnx``, without the ``sr_`` prefix ({} if none).

    Reads with onnxruntime (no ``onnx`` package needed), so deployment machines can check a file.
    """
    ort = _require("onnxruntime", "reading an ONNX file")
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        sess = ort.InferenceSession(os.fspath(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001
        raise SRError(f"{path} is not a readable ONNX model ({' '.join(str(e).split())[:160]}); "
                      f"export one with python -m paddle_sr.export --format onnx") from None
    props = sess.get_modelmeta().custom_metadata_map
    return {k[len(META_PREFIX):]: v for k, v in props.items() if k.startswith(META_PREFIX)}
