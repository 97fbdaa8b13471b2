"""Every model with a re-typed official reference: Paddle eager vs Paddle Inference vs the official PyTorch code.

    .venv/bin/python -m benchmarks.runtime_vs_torch                       # the whole zoo, CPU
    .venv/bin/python -m benchmarks.runtime_vs_torch --models rlfn_ntire edsr_baseline --repeats 7
    .venv/bin/python -m benchmarks.runtime_vs_torch --device gpu          # GPU variant (see below)

Contenders, per model and LR size, all on the same input and the same weights:

- ``pytorch``: the official network re-typed in ``tests/reference/`` (the code the parity tests
  check the ports against), ``torch.no_grad``, timed with ``--threads`` threads (default: the usable
  CPUs) and with 1 thread; the table takes the faster of the two (the conservative comparison);
- ``paddle eager``: the suite's model called like ``super_resolve`` calls it (``paddle.no_grad``,
  the suite's [-1, 1] in and out), with ``paddle_sr.engine.use_threads(--threads)``;
- ``paddle inference``: the same model exported (``paddle_sr.export``) and run by
  ``paddle_sr.engine.InferenceEngine`` (oneDNN on CPU) — what ``super_resolve(..., engine='inference')``
  and ``--engine inference`` run — timed with ``--threads`` threads and with 1 thread, the faster counts.

Weights: PyTorch's default initialisation of the official class, copied into the port by name
(as in the parity tests; run time does not depend on the values); RLFN_ntire x4 uses the official
``rlfn_ntire_x4.pth`` when ``../shared/weights`` has it. Everything runs in ONE process,
interleaved round-robin (one call of every contender per round), so load from other processes
hits all alike; each time is the median of ``--repeats`` rounds after one warm-up round (two for
the first size). "x" columns are the ratio to PyTorch's median. The difference is the max abs
difference of the output from PyTorch's on the 0-255 scale (Y-channel models: their network's Y,
the one output the official code makes).

Y-channel models with a ``forward_y`` (SRCNN, ESPCN, VDSR, DRRN, DRCN) get a second row, "Y network
only": ``forward_y`` eager and exported (1-channel input, a predictor configured as
``InferenceEngine``) on exactly the prepared Y the official network gets: the like-for-like figure.
"export s" is the one-time cost of ``InferenceEngine.from_model`` (export + predictor), what engine
'auto' (``paddle_sr.engine_choice``, the default of ``super_resolve``) weighs against eager time.

ONNX Runtime columns (when onnxruntime and paddle2onnx are installed; CPU only): the same port exported
to ONNX (``paddle_sr.onnx_export``) and run by ``OnnxEngine`` (float32), and its INT8 version
(``paddle_sr.quantize`` with its default calibration crops), ``--threads`` intra-op threads, in the
same round-robin. Models ONNX cannot take (SAN, IGNN) say so in the first ONNX cell. Their "diff"
columns are against PyTorch like the others (INT8: its quantization error on random-init weights, not
a quality figure; ``benchmarks/onnx_int8.py`` has PSNR with trained weights).

Inputs: a photo crop (scikit-image's astronaut) at each LR size. Heavy models (``SLOW``) run at
the smaller size only and some at a reduced configuration; the row's config column says which.
Y-channel models (SRCNN, VDSR, DRRN, DRCN, ESPCN, LapSRN): the official code is the network on
the (MATLAB-bicubic pre-upsampled) Y channel, prepared outside the timed PyTorch call, while the
Paddle contenders of the first row run the suite's whole RGB pipeline (colour conversion and
MATLAB bicubic included) — that row favours PyTorch.

``--device gpu``: PyTorch on CUDA, Paddle on ``gpu`` (eager and Paddle Inference GPU), with a
device synchronisation inside every timed call. NOT RUN HERE: written for a GPU machine; the
project's machines had no GPU when it was written, so no GPU figures exist yet.

torch and scikit-image are benchmark-only dependencies.
"""
import argparse
import os
import statistics
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import paddle  # noqa: E402
import torch  # noqa: E402

from paddle_sr import models  # noqa: E402
from paddle_sr.runtime.predictor import InferenceEngine
from paddle_sr.runtime.device import thread_count, use_threads  # noqa: E402
from paddle_sr.models.common import MatlabBicubicUpsample, rgb_to_ycbcr  # noqa: E402
from tests.reference import load_torch_state  # noqa: E402

RLFN_WEIGHTS = os.path.join(ROOT, "..", "shared", "weights", "rlfn", "rlfn_ntire_x4.pth")


def lr_image(size):
    """A real photo crop (scikit-image's astronaut, 2x area-downsampled), NCHW float32 in [0, 1]."""
    from skimage import data
    img = data.astronaut().astype(np.float32)
    img = (img[0::2, 0::2] + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2]) / 4  # 256x256
    img = np.tile(img, (2, 2, 1))[:size, :size]
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None] / 255.0).astype(np.float32)


# ---- weight copy ----------------------------------------------------------------------------------
def copy_weights(tmodel, model):
    """Official torch module -> Paddle port by name: BatchNorm statistics renamed, nn.Linear weights
    transposed, SwinIR's stored ``attn_mask`` buffers (recomputed by the port) left out."""
    linear = {f"{n}.weight" for n, m in tmodel.named_modules() if isinstance(m, torch.nn.Linear)}
    state = {}
    for k, v in tmodel.state_dict().items():
        if k.endswith("num_batches_tracked") or k.endswith(".attn_mask"):
            continue
        state[k.replace("running_mean", "_mean").replace("running_var", "_variance")] = v
    load_torch_state(model, state, transpose=[k for k in linear if k in state])
    tmodel.eval()
    model.eval()
    return model


# ---- the official side: how each reference is called ----------------------------------------------
def _rgb_native(lo, hi):
    """(prep, run, post) for RGB models fed on [lo, hi] (the port's ``value_range``: the official code's)."""
    def prep(x01):
        return torch.from_numpy((lo + x01 * (hi - lo)).astype(np.float32))

    def post(y):
        return (y - lo) / (hi - lo)
    return prep, None, post


def _y_channel(scale, pre_upsample):
    """Official Y-channel networks on [0, 1]: the Y of the LR (MATLAB-bicubic pre-upsampled for
    SRCNN/VDSR/DRRN/DRCN), computed with the suite's tested helpers outside the timed call."""
    up = MatlabBicubicUpsample(scale)

    def prep(x01):
        y = rgb_to_ycbcr(paddle.to_tensor(x01 * 2 - 1), (-1.0, 1.0))[:, :1]
        y = (y + 1) / 2
        if pre_upsample:
            y = up(y)
        return torch.from_numpy(y.numpy())

    def post(y):
        return y
    return prep, None, post


class Case:
    def __init__(self, name, scale, paddle_kwargs, torch_factory, native=255.0, y_model=None, config="official",
                 call=None, sizes=None, setup=None):
        self.name, self.scale, self.paddle_kwargs, self.torch_factory = name, scale, paddle_kwargs, torch_factory
        self.native, self.y_model, self.config, self.call, self.sizes, self.setup = (native, y_model, config, call,
                                                                                    sizes, setup)


def _cases():
    from tests.reference import classic_torch as cl
    from tests.reference import edsr_family_torch as ed
    from tests.reference import esrgan_wdsr_lapsrn_torch as eg
    from tests.reference import ignn_torch as ig
    from tests.reference import imdn_carn_torch as ic
    from tests.reference import rlfn_torch as rl
    from tests.reference import swinir_san_torch as ss

    def rlfn(name):
        def make():
            t = rl.build(name, 4)
            if name == "rlfn_ntire" and os.path.isfile(RLFN_WEIGHTS):
                t.load_state_dict(torch.load(RLFN_WEIGHTS, map_location="cpu"))
            return t
        return make

    swin_light = dict(embed_dim=60, depths=[6] * 4, num_heads=[6] * 4, window_size=8, mlp_ratio=2.0)
    swin = dict(embed_dim=180, depths=[6] * 6, num_heads=[6] * 6, window_size=8, mlp_ratio=2.0)
    ignn_small = dict(n_resblocks=8, n_feats=64)

    def swinir_call(t, x):
        return ss.swinir_test_pad(t, x, 8, 4)

    def ic_call(name):
        return lambda t, x: ic.run(name, t, x, 4)

    def ignn_setup():
        ig.reset_cfg(scale=4, n_resblocks=ignn_small["n_resblocks"], n_feats=ignn_small["n_feats"], window=30)

    def ignn_call(t, x):
        son = torch.stack([ig.make_son(im) for im in x])
        return t(son, x)

    return [
        Case("rlfn_ntire", 4, {}, rlfn("rlfn_ntire"),
             config="official" + (" weights" if os.path.isfile(RLFN_WEIGHTS) else "")),
        Case("rlfn", 4, {}, rlfn("rlfn")),
        Case("rlfn_s", 4, {}, rlfn("rlfn_s")),
        Case("edsr_baseline", 4, {}, lambda: ed.make_edsr_baseline(4)),
        Case("edsr", 4, {}, lambda: ed.make_edsr(4), sizes=[32]),
        Case("rcan", 4, {}, lambda: ed.make_rcan(4), sizes=[32]),
        Case("rdn", 4, {}, lambda: ed.make_rdn(4), sizes=[32]),
        Case("imdn", 4, {}, lambda: ic.build("imdn", 4), native=1.0, call=ic_call("imdn")),
        Case("carn", 4, {}, lambda: ic.build("carn", 4), native=1.0, call=ic_call("carn")),
        Case("carn_m", 4, {}, lambda: ic.build("carn_m", 4), native=1.0, call=ic_call("carn_m")),
        Case("esrgan", 4, {}, lambda: eg.RRDBNet(3, 3, scale=4), native=1.0, sizes=[32]),
        Case("wdsr_a", 4, {}, lambda: eg.make_wdsr("A", 4)),
        Case("wdsr_b", 4, {}, lambda: eg.make_wdsr("B", 4)),
        Case("swinir_light", 4, {}, lambda: ss.SwinIR(img_size=64, upscale=4, img_range=1.0,
                                                      upsampler="pixelshuffledirect", **swin_light),
             native=1.0, call=swinir_call),
        Case("swinir", 4, {}, lambda: ss.SwinIR(img_size=48, upscale=4, img_range=1.0, upsampler="pixelshuffle",
                                                **swin), native=1.0, call=swinir_call, sizes=[32]),
        Case("san", 4, {}, lambda: ss.SAN(scale=4), sizes=[32]),
        Case("ignn", 4, ignn_small, lambda: ig.IGNN(), call=ignn_call, sizes=[32], setup=ignn_setup,
             config="reduced: n_resblocks=8, n_feats=64 (official 32/256); VGG and graph search full"),
        Case("srcnn", 4, {}, lambda: cl.SRCNN(), native=1.0, y_model=True),
        Case("espcn", 4, {}, lambda: cl.ESPCN(4), native=1.0, y_model=False),
        Case("vdsr", 4, {}, lambda: cl.VDSR(), native=1.0, y_model=True, sizes=[64]),
        Case("drrn", 4, {}, lambda: cl.DRRNCaffe(), native=1.0, y_model=True, sizes=[32]),
        Case("drcn", 2, {}, lambda: cl.DRCN(), native=1.0, y_model=True, sizes=[32],
             call=lambda t, x: t(x)[0]),  # (final output, per-recursion predictions)
        Case("lapsrn", 4, {}, lambda: eg.LapSRNMatConvNet(4), native=1.0, y_model=False,
             call=lambda t, x: t(x)[-1]),
    ]


CASES = {c.name: c for c in _cases()}
NOT_COVERED = {  # registered models without a usable re-typed official reference in tests/reference
    "srresnet": "no re-typed official PyTorch reference (checked against the notebook's Paddle code)",
    "liif": "arbitrary-scale renderer; the reference is LIIF's decoder on a tiny encoder (tests/test_liif.py)",
    "liif_edsr_baseline": "as liif",
}


# ---- timing ---------------------------------------------------------------------------------------
def contenders(case, device, threads):
    """{label: f(x01) -> NCHW output on [0, 1] (Y models: [0, 1] Y)} for one case."""
    if case.setup:
        case.setup()
    torch.manual_seed(0)
    tmodel = case.torch_factory()
    model = models.create(case.name, scale=case.scale, **case.paddle_kwargs)
    copy_weights(tmodel, model)
    tdev = "cuda" if device == "gpu" else "cpu"
    tmodel = tmodel.to(tdev)
    vr = getattr(model, "value_range", None)  # the port's native range is the official code's
    lo, hi = (float(v) for v in vr.numpy()) if vr is not None else (0.0, case.native)
    if case.y_model is None:
        prep, _, post = _rgb_native(lo, hi)
    else:
        prep, _, post = _y_channel(case.scale, case.y_model)
    call = case.call or (lambda t, x: t(x))
    sync_t = torch.cuda.synchronize if device == "gpu" else (lambda: None)
    sync_p = paddle.device.synchronize if device == "gpu" else (lambda: None)
    prepared = {}

    def torch_run(x01, threads=threads):
        key = id(x01)
        if key not in prepared:  # the Y channel / value-range scaling, outside the timed call
            prepared.clear()
            prepared[key] = prep(x01).to(tdev)
        inp = prepared[key]
        torch.set_num_threads(threads)
        start = time.perf_counter()
        with torch.no_grad():
            y = call(tmodel, inp)
        sync_t()
        elapsed = time.perf_counter() - start
        return elapsed, post(y.cpu().numpy())

    def to_output(y):  # suite [-1, 1] RGB -> [0, 1] (Y models: the Y channel)
        if case.y_model is not None:
            y = rgb_to_ycbcr(paddle.to_tensor(y), (-1.0, 1.0))[:, :1].numpy()
        return (y + 1) / 2

    def eager_run(x01):
        use_threads(threads)
        x = paddle.to_tensor(x01 * 2 - 1)
        start = time.perf_counter()
        with paddle.no_grad():
            y = model(x)
        sync_p()
        elapsed = time.perf_counter() - start
        return elapsed, to_output(y.numpy())

    start = time.perf_counter()
    engine = InferenceEngine.from_model(model, device=device, threads=threads)
    case.export_s = time.perf_counter() - start  # the one-time cost engine 'auto' weighs (engine_choice)

    def engine_run(x01):
        x = np.ascontiguousarray(x01 * 2 - 1, dtype=np.float32)
        start = time.perf_counter()
        y = engine.run(x)  # copy_to_cpu waits for the device
        elapsed = time.perf_counter() - start
        return elapsed, to_output(y)

    runs = {"pytorch": torch_run, "eager": eager_run, "inference": engine_run}
    runs.update(_onnx_runs(case, model, threads, to_output) if device == "cpu" else {})
    if case.y_model is not None and hasattr(model, "forward_y"):
        # Like for like with the official code: the bare Y network on the same prepared Y input.
        ynet = _y_network_runs(model, prepared_y=lambda x01: prep(x01).numpy(), device=device, threads=threads)
        runs.update(ynet)
    if threads > 1 and device == "cpu":  # on a loaded machine one thread can be the faster setting
        runs["pytorch 1 thr"] = lambda x01: torch_run(x01, threads=1)
        engine1 = InferenceEngine.from_model(model, device=device, threads=1)

        def engine1_run(x01):
            x = np.ascontiguousarray(x01 * 2 - 1, dtype=np.float32)
            start = time.perf_counter()
            y = engine1.run(x)
            return time.perf_counter() - start, to_output(y)
        runs["inference 1 thr"] = engine1_run
    return runs


def _onnx_runs(case, model, threads, to_output):
    """'onnx' / 'onnx int8': the same model exported to ONNX (``paddle_sr.onnx_export``) and run by
    ONNX Runtime float32 and INT8 (``paddle_sr.quantize``, calibrated on its default photo crops);
    {} without onnxruntime/paddle2onnx or for a model ONNX cannot take."""
    import tempfile

    from paddle_sr.runtime.onnx_engine import OnnxEngine, available
    from paddle_sr.runtime.onnx_export import export_onnx, onnx_refusal
    from paddle_sr.core.errors import SRError
    from paddle_sr.quantize import calibration_crops, quantize_onnx

    case.onnx_note = ""
    if not available():
        case.onnx_note = "onnxruntime not installed"
        return {}
    if onnx_refusal(model):
        case.onnx_note = "not exportable to ONNX"
        return {}
    with tempfile.TemporaryDirectory(prefix="bench_onnx_") as tmp:
        fp32 = export_onnx(model, os.path.join(tmp, "m.onnx"))
        engines = {"onnx": OnnxEngine(fp32, threads=threads)}
        try:  # a deep network's calibration may not fit in memory (quantize.check_calibration_memory)
            int8 = quantize_onnx(fp32, os.path.join(tmp, "q.onnx"), calibration_crops(case.scale)[0])
            engines["onnx int8"] = OnnxEngine(int8, threads=threads)
        except SRError as e:
            case.onnx_note = "INT8 not calibrated: " + str(e).split(" (")[0]

    def runner(engine):
        def run(x01):
            x = np.ascontiguousarray(x01 * 2 - 1, dtype=np.float32)
            start = time.perf_counter()
            y = engine.run(x)
            return time.perf_counter() - start, to_output(y)
        return run
    return {k: runner(e) for k, e in engines.items()}


class _YNetwork(paddle.nn.Layer):
    """A Y-channel model's bare network (``forward_y``: native-range Y in, SR Y out), for export."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, y):
        return self.model.forward_y(y)


def _y_network_runs(model, prepared_y, device, threads):
    """'eager net' / 'inference net': ``model.forward_y`` eager, and exported (1-channel input) and run
    by a Paddle Inference predictor configured as ``InferenceEngine`` (oneDNN on CPU)."""
    import tempfile

    from paddle import inference
    from paddle.static import InputSpec

    from paddle_sr.runtime.export_format import model_files
    sync_p = paddle.device.synchronize if device == "gpu" else (lambda: None)
    cache = {}

    def y_of(x01):
        if id(x01) not in cache:
            cache.clear()
            cache[id(x01)] = np.ascontiguousarray(prepared_y(x01), dtype=np.float32)
        return cache[id(x01)]

    def eager_net(x01):
        y = paddle.to_tensor(y_of(x01))
        start = time.perf_counter()
        with paddle.no_grad():
            out = model.forward_y(y)
        sync_p()
        return time.perf_counter() - start, out.numpy()

    with tempfile.TemporaryDirectory(prefix="ynet_") as tmp:
        net = _YNetwork(model)
        net.eval()
        static = paddle.jit.to_static(net, input_spec=[InputSpec([None, 1, None, None], "float32")], full_graph=True)
        paddle.jit.save(static, os.path.join(tmp, "model"))
        config = inference.Config(*model_files(tmp))
        config.disable_glog_info()
        if device == "gpu":
            config.enable_use_gpu(256, 0)
        else:
            config.disable_gpu()
            config.set_cpu_math_library_num_threads(threads)
            config.enable_mkldnn()
        predictor = inference.create_predictor(config)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    out_name = predictor.get_output_names()[0]

    def inference_net(x01):
        y = y_of(x01)
        start = time.perf_counter()
        handle.reshape(list(y.shape))
        handle.copy_from_cpu(y)
        predictor.run()
        out = predictor.get_output_handle(out_name).copy_to_cpu()
        return time.perf_counter() - start, out
    return {"eager net": eager_net, "inference net": inference_net}


def bench(case, sizes, repeats, device, threads):
    runs = contenders(case, device, threads)
    rows = []
    for i, size in enumerate(sizes):
        x = lr_image(size)
        times = {k: [] for k in runs}
        outs = {}
        warm = 2 if i == 0 else 1
        for r in range(repeats + warm):
            for k, f in runs.items():
                elapsed, out = f(x)
                if r >= warm:
                    times[k].append(elapsed)
                outs[k] = out
        med = {k: statistics.median(v) for k, v in times.items()}
        # Each framework's faster thread setting (the conservative comparison for PyTorch).
        med["pytorch"] = min(v for k, v in med.items() if k.startswith("pytorch"))
        med["inference"] = min(v for k, v in med.items() if k.startswith("inference") and "net" not in k)
        diff = {k: float(np.abs(outs[k] - outs["pytorch"]).max() * 255) for k in runs if not k.startswith("pytorch")}
        rows.append((size, med, diff))
    return rows


def _onnx_cells(med, diff, t, y_row, case):
    if y_row or "onnx" not in med:
        why = "" if y_row else getattr(case, "onnx_note", "")
        return f"{why or '-'} | | | | | |"
    if "onnx int8" not in med:
        return f"{med['onnx']:.3f} | {med['onnx'] / t:.2f} | {case.onnx_note} | | {diff['onnx']:.1e} | |"
    return (f"{med['onnx']:.3f} | {med['onnx'] / t:.2f} | {med['onnx int8']:.3f} | {med['onnx int8'] / t:.2f} | "
            f"{diff['onnx']:.1e} | {diff['onnx int8']:.1e} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(CASES), help=f"any of: {' '.join(CASES)}")
    p.add_argument("--sizes", nargs="+", type=int, default=[64, 128], help="LR sides (SLOW models: the smallest)")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds (after the warm-up rounds)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads of every contender (default: usable CPUs)")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    args = p.parse_args(argv)
    unknown = [m for m in args.models if m not in CASES]
    if unknown:
        p.error(f"no reference case for {unknown}; cases: {' '.join(CASES)}")
    threads = thread_count(args.threads)
    paddle.set_device(args.device)
    use_threads(threads)
    print(f"paddle {paddle.__version__}, torch {torch.__version__}, device {args.device}, {os.cpu_count()} CPUs, "
          f"{threads} threads, load average {os.getloadavg()[0]:.1f}", flush=True)
    print("| model | LR | config | PyTorch s | Paddle eager s | x | Paddle Inference s | x | fastest Paddle x "
          "| diff eager | diff inference | export s | ONNX RT fp32 s | x | ONNX RT INT8 s | x | diff fp32 "
          "| diff INT8 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for name in args.models:
        case = CASES[name]
        sizes = case.sizes or args.sizes
        if case.sizes:
            sizes = [s for s in case.sizes]
        try:
            rows = bench(case, sizes, args.repeats, args.device, threads)
        except Exception as e:  # noqa: BLE001 - one model failing must not lose the rest of the table
            print(f"| {name} x{case.scale} | - | {case.config} | failed: {type(e).__name__}: "
                  f"{' '.join(str(e).split())[:150]} | | | | | | | | |", flush=True)
            continue
        for size, med, diff in rows:
            t = med["pytorch"]
            for label, e, i in ((f"{name} x{case.scale}", "eager", "inference"),
                                (f"{name} x{case.scale} Y network only", "eager net", "inference net")):
                if e not in med:
                    continue
                best = min(med[e], med[i])
                print(f"| {label} | {size}x{size} | {case.config} | {t:.3f} | {med[e]:.3f} | "
                      f"{med[e] / t:.2f} | {med[i]:.3f} | {med[i] / t:.2f} | "
                      f"**{best / t:.2f}** | {diff[e]:.1e} | {diff[i]:.1e} | {case.export_s:.1f} | "
                      f"{_onnx_cells(med, diff, t, label.endswith('only'), case)}", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    for name, why in NOT_COVERED.items():
        print(f"not covered: {name}: {why}")


if __name__ == "__main__":
    main()
