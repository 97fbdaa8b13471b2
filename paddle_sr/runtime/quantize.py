"""INT8 post-training static quantization of an ONNX export (ONNX Runtime's quantization tools).

    python -m paddle_sr.quantize rlfn_ntire_x4.onnx --out rlfn_ntire_x4_int8.onnx          # skimage photo crops
    python -m paddle_sr.quantize rlfn_ntire_x4.onnx --out q.onnx --calibration my_photos/    # your own images

Calibration: ``--crops`` LR crops (``--crop-size`` pixels) cut at fixed random positions from
MATLAB-bicubic-downscaled photographs: by default the natural photos scikit-image ships (astronaut,
chelsea, coffee, rocket, motorcycle; never a benchmark image), or the images of ``--calibration``.
QDQ format; only convolutions are quantized (per-channel signed INT8 weights, unsigned INT8
activations: the x86 U8S8 kernels), additions, attention gates, resizes and the pixel shuffle stay
float32; by default the first and the last convolution stay float32 too (``--all-convs`` quantizes
them): the last one writes the image itself. Activation ranges: the 99.99th percentile over the crops
(``PERCENTILE``). Chosen on official RLFN_ntire x4, Set5 PSNR 32.097 dB float32 (the numbers below are
INT8): every op MinMax 30.43, convolutions only MinMax 30.72, + first/last float 30.86, percentile
99.999 31.06, 99.99 31.28, 99.9 30.13, 99.5 23.28 (``weights`` in the constant nodes paddle2onnx
writes were not quantized at all until ``onnx_export`` made them initializers).
The INT8 file keeps the float file's ``sr_*`` metadata and adds ``sr_quantized=int8`` and
``sr_calibration``; ``OnnxEngine`` and ``examples/onnx_upscale.py`` run it like the float file. INT8 is
opt-in: the PSNR cost per model is in the README (``benchmarks/onnx_int8.py``, x4, Set5/Set14/B100):
0.05-0.07 dB for CARN-M, 0.11-0.31 dB for RLFN and IMDN, 0.33-0.82 dB for RLFN_ntire, never under
0.05 dB on every set, so nothing in the suite picks it on its own.
"""
import os
import tempfile

import numpy as np

from paddle_sr.core.errors import SRError

PERCENTILE = 99.99  # activation range: this percentile of |values| over the crops (see the module docstring)


SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left")


def _photos(folder=None):
    if folder is None:
        from skimage import data

        photos = []
        for name in SKIMAGE_PHOTOS:
            img = data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(data, name)()
            photos.append(np.asarray(img)[..., :3])
        return photos, "scikit-image photos " + ", ".join(SKIMAGE_PHOTOS)
    from paddle_sr.image.io import load_image

    files = sorted(os.path.join(folder, f) for f in os.listdir(folder)
                   if f.lower().endswith((".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")))
    if not files:
        raise SRError(f"--calibration {folder} holds no images (.png/.jpg/...); point it at a folder of photos")
    return [load_image(f) for f in files], f"{len(files)} images of {folder}"


def calibration_crops(scale, n=8, size=64, folder=None, seed=0):
    """(list of ``size`` x ``size`` x 3 uint8 LR crops, description): photos downscaled by ``scale``
    (MATLAB bicubic, as the benchmark LR), ``n`` crops spread over the photos at seeded positions."""
    from paddle_sr.image.imresize import imresize

    photos, where = _photos(folder)
    rng = np.random.default_rng(seed)
    lrs = [np.clip(np.round(imresize(p.astype(np.float64), 1.0 / scale)), 0, 255).astype(np.uint8) for p in photos]
    lrs = [lr for lr in lrs if min(lr.shape[:2]) >= size]
    if not lrs:
        raise SRError(f"no calibration image is at least {size * scale} pixels a side; use a smaller --crop-size")
    crops = []
    for i in range(n):
        lr = lrs[i % len(lrs)]
        y, x = rng.integers(0, lr.shape[0] - size + 1), rng.integers(0, lr.shape[1] - size + 1)
        crops.append(np.ascontiguousarray(lr[y:y + size, x:x + size]))
    return crops, f"{n} crops of {size}x{size} LR from {where}"


def calibration_mb(proto, crop_size, n_crops):
    """MB that ONNX Runtime's calibrator holds: it makes every intermediate tensor a graph output and keeps
    all of them, for every crop, before it builds a histogram (``HistogramCalibrater.collect_data``). Sizes
    from ONNX shape inference with the input fixed to one ``crop_size`` crop (tensors whose size it cannot
    infer are left out, so this is a lower bound)."""
    import math

    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(proto)
    for dim, value in zip(model.graph.input[0].type.tensor_type.shape.dim, (1, 3, crop_size, crop_size)):
        dim.dim_value = value
    inferred = onnx.shape_inference.infer_shapes(model)
    total = 0
    for info in list(inferred.graph.value_info) + list(inferred.graph.output):
        tensor = info.type.tensor_type
        shape = [d.dim_value for d in tensor.shape.dim]
        if shape and all(v > 0 for v in shape) and tensor.elem_type == onnx.TensorProto.FLOAT:
            total += 4 * math.prod(shape)
    return total * n_crops / 2 ** 20


def check_calibration_memory(proto, crop_size, n_crops, src="the model"):
    """SRError before calibrating when its activations would not fit in the memory available now (a deep
    network on large crops would otherwise be killed for memory: DRRN on 8 crops of 64x64 needs ~50 GB)."""
    from paddle_sr.runtime.memory import HOST_FRACTION, available_mb

    need, free = calibration_mb(proto, crop_size, n_crops), available_mb()
    if free is None or need <= HOST_FRACTION * free:
        return need
    per_crop = need / n_crops
    fits = int(HOST_FRACTION * free // per_crop)
    raise SRError(f"calibrating {src} on {n_crops} crops of {crop_size}x{crop_size} would hold about {need:,.0f} MB "
                  f"of activations (ONNX Runtime keeps every intermediate tensor of every crop); "
                  f"{HOST_FRACTION * free:,.0f} MB can be used now. Pass fewer --crops (about {fits} fit) or a "
                  f"smaller --crop-size")


def quantize_onnx(src, out, crops, description="", all_convs=False):
    """Write the INT8 (QDQ) version of ONNX file ``src`` at ``out``, calibrated on ``crops`` (HxWx3 uint8 LR)."""
    from paddle_sr.runtime.onnx_engine import require_onnxruntime

    require_onnxruntime("INT8 quantization")
    try:
        import onnx
        from onnxruntime import quantization as Q
    except ImportError as e:
        raise SRError(f"INT8 quantization needs {e.name}, which is not installed; "
                      f"pip install -r requirements-onnx.txt") from None
    src, out = os.fspath(src), os.fspath(out)
    proto = onnx.load(src)
    check_calibration_memory(proto, crops[0].shape[0], len(crops), src)
    input_name = proto.graph.input[0].name
    convs = [n.name for n in proto.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    exclude = [] if all_convs or len(convs) < 3 else [convs[0], convs[-1]]

    class Reader(Q.CalibrationDataReader):
        def __init__(self):
            self.items = iter([{input_name: (c.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0)}
                               for c in crops])

        def get_next(self):
            return next(self.items, None)

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="paddle_sr_int8_", dir=os.path.dirname(os.path.abspath(out))) as tmp:
        raw = os.path.join(tmp, "int8.onnx")
        Q.quantize_static(src, raw, Reader(), quant_format=Q.QuantFormat.QDQ, per_channel=True,
                          activation_type=Q.QuantType.QUInt8, weight_type=Q.QuantType.QInt8,
                          op_types_to_quantize=["Conv", "ConvTranspose"], nodes_to_exclude=exclude,
                          calibrate_method=Q.CalibrationMethod.Percentile,
                          extra_options={"CalibPercentile": PERCENTILE})
        q = onnx.load(raw)
        del q.metadata_props[:]
        extra = {"sr_quantized": "int8", "sr_calibration": description or f"{len(crops)} crops",
                 "sr_float_convs": ",".join(exclude) or "none"}
        for entry in list(proto.metadata_props):
            q.metadata_props.add(key=entry.key, value=entry.value)
        for k, v in extra.items():
            q.metadata_props.add(key=k, value=v)
        final = os.path.join(tmp, "model.onnx")
        onnx.save(q, final)
        os.replace(final, out)
    return out
