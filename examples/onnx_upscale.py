"""Upscale an image with a paddle_sr ONNX export, using only onnxruntime, numpy and Pillow (no Paddle).

    pip install onnxruntime numpy pillow
    python examples/onnx_upscale.py rlfn_ntire_x4.onnx photo.png photo_x4.png
    python examples/onnx_upscale.py rlfn_ntire_x4.onnx photo.png photo_x4.png --tile 256   # large images

The file comes from ``python -m paddle_sr.export --format onnx`` (or ``python -m paddle_sr.quantize``
for INT8). Everything the caller needs is in the file: input ``NCHW float32 in [-1, 1]`` with any
height and width, output the same at ``scale`` times the size, ``scale`` and the model name in its
metadata (``sr_scale``, ``sr_model``). ``--tile N`` cuts the image into N x N LR tiles with
``--overlap`` pixels of context on each side and keeps each tile's centre (no blending; for models
whose receptive field fits in the overlap, RLFN's global attention excepted, this is the whole-image
result). ``tests/test_onnx_example.py`` runs this script with ``import paddle`` blocked.
"""
import argparse
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image


def load_session(path, threads=0):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads  # 0: onnxruntime's default (all cores)
    opts.log_severity_level = 3
    session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    if "sr_scale" not in meta:
        sys.exit(f"error: {path} has no sr_scale metadata; export it with python -m paddle_sr.export --format onnx")
    return session, float(meta["sr_scale"]), meta.get("sr_model", "?")


def run(session, lr):
    """HxWx3 uint8 -> SR float32 HxWx3 in [-1, 1] (not clipped)."""
    x = (lr.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0)
    y = session.run(None, {session.get_inputs()[0].name: x})[0]
    return y[0].transpose(1, 2, 0)


def upscale(session, scale, lr, tile=None, overlap=16):
    s = int(scale)
    if tile is None:
        return run(session, lr)
    h, w, _ = lr.shape
    out = np.zeros((h * s, w * s, 3), np.float32)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            ya, xa = max(y0 - overlap, 0), max(x0 - overlap, 0)
            yb, xb = min(y1 + overlap, h), min(x1 + overlap, w)
            sr = run(session, lr[ya:yb, xa:xb])
            out[y0 * s:y1 * s, x0 * s:x1 * s] = sr[(y0 - ya) * s:(y1 - ya) * s, (x0 - xa) * s:(x1 - xa) * s]
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help=".onnx file from python -m paddle_sr.export --format onnx")
    p.add_argument("input", help="image file (any format Pillow reads)")
    p.add_argument("output", help="PNG to write")
    p.add_argument("--tile", type=int, default=None, help="LR tile size (bounded memory)")
    p.add_argument("--overlap", type=int, default=16, help="LR pixels of context around each tile")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: onnxruntime's default)")
    args = p.parse_args(argv)
    session, scale, name = load_session(args.model, args.threads)
    if not float(scale).is_integer():
        sys.exit(f"error: {args.model} renders at x{scale}; this example handles integer scales")
    lr = np.asarray(Image.open(args.input).convert("RGB"))
    sr = upscale(session, scale, lr, args.tile, args.overlap)
    Image.fromarray(np.clip(np.round((sr + 1.0) * 127.5), 0, 255).astype(np.uint8)).save(args.output)
    print(f"{name} x{scale:g}: {lr.shape[1]}x{lr.shape[0]} -> {sr.shape[1]}x{sr.shape[0]}, wrote {args.output}")


if __name__ == "__main__":
    main()
