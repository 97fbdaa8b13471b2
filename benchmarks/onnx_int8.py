"""INT8 vs float32 ONNX Runtime for the efficient models: PSNR/SSIM, size, speed vs PyTorch, in one run.

    PADDLE_SR_WEIGHTS=../shared/weights .venv/bin/python -m benchmarks.onnx_int8
    .venv/bin/python -m benchmarks.onnx_int8 --models rlfn_ntire imdn --sets Set5 --repeats 5

Per model (x4): the suite's port with the official weights where ``$PADDLE_SR_WEIGHTS`` (or the
download cache) has them (RLFN, RLFN_ntire, IMDN, CARN-M; EDSR-baseline and ESPCN have no released
weights the suite loads, so their rows have no PSNR), exported to ONNX (``paddle_sr.onnx_export``) and
quantized to INT8 (``paddle_sr.quantize``: its default calibration, 8 crops of 64x64 LR from
scikit-image photos, never a benchmark image).

- Quality: ``paddle_sr.evaluate`` on Set5/Set14/B100 (``$PADDLE_SR_BENCHMARKS`` or ``--bench-root``) with
  the float32 file and with the INT8 file run by ``OnnxEngine`` — the protocol line is printed (Y channel,
  crop = scale, uint8 LR and SR; gray images as MATLAB). "drop" = float32 minus INT8 PSNR.
- Size: the two ONNX files.
- Speed: ``benchmarks.runtime_vs_torch.bench`` at ``--size`` LR on the same process: official PyTorch
  (re-typed in tests/reference), Paddle Inference (oneDNN), ONNX Runtime float32 and INT8, interleaved
  round-robin, median of ``--repeats`` (weights there: PyTorch's default init copied into the port;
  time does not depend on the values). "x" = time / PyTorch's.
"""
import argparse
import os
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OFFICIAL = {"rlfn": "rlfn_x4", "rlfn_ntire": "rlfn_ntire_x4", "imdn": "imdn_x4", "carn_m": "carn_m_x4",
            "edsr_baseline": None, "espcn": None}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(OFFICIAL), help=f"any of: {' '.join(OFFICIAL)}")
    p.add_argument("--sets", nargs="+", default=["Set5", "Set14", "B100"])
    p.add_argument("--bench-root", default=os.environ.get("PADDLE_SR_BENCHMARKS",
                                                          os.path.join(ROOT, "..", "shared", "benchmarks")))
    p.add_argument("--size", type=int, default=128, help="LR side for the speed columns")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    import onnxruntime
    import paddle

    from benchmarks.runtime_vs_torch import CASES, bench
    from paddle_sr import models
    from paddle_sr.runtime.device import thread_count, use_threads
    from paddle_sr.evaluate import evaluate
    from paddle_sr.runtime.onnx_engine import OnnxEngine
    from paddle_sr.runtime.onnx_export import export_onnx
    from paddle_sr.quantize import calibration_crops, quantize_onnx

    threads = thread_count(args.threads)
    use_threads(threads)
    print(f"paddle {paddle.__version__}, onnxruntime {onnxruntime.__version__}, {threads} threads, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    quality, speed, protocol = [], [], None
    for name in args.models:
        pre = OFFICIAL[name]
        try:
            model = models.create(name, scale=4, pretrained=pre) if pre else models.create(name, scale=4)
            weights = pre
        except Exception as e:  # noqa: BLE001 - weights not found: the row says so
            model, weights = models.create(name, scale=4), f"default init ({type(e).__name__})"
        model.eval()
        with tempfile.TemporaryDirectory(prefix="int8_") as tmp:
            fp32 = export_onnx(model, os.path.join(tmp, "fp32.onnx"), name=name, scale=4)
            start = time.perf_counter()
            int8 = quantize_onnx(fp32, os.path.join(tmp, "int8.onnx"), calibration_crops(4)[0])
            qs = time.perf_counter() - start
            sizes = (os.path.getsize(fp32) / 1e6, os.path.getsize(int8) / 1e6)
            row = {"name": name, "weights": weights or "default init (no released weights)", "mb": sizes, "q_s": qs}
            if weights:
                for label, path in (("fp32", fp32), ("int8", int8)):
                    r = evaluate(OnnxEngine(path, threads=threads), 4,
                                 [os.path.join(args.bench_root, s, "HR") for s in args.sets], progress=False)
                    protocol = r.pop("protocol")
                    row[label] = [(r[k]["psnr"], r[k]["ssim"]) for k in r]
            quality.append(row)
        print(f"{name}: done quality ({row['weights']})", flush=True)
        if name in CASES:
            (size, med, diff), = bench(CASES[name], [args.size], args.repeats, "cpu", threads)
            speed.append((name, size, med))
    print(f"\nquality protocol: {protocol}")
    print("| model x4 | weights | set | float32 PSNR/SSIM | INT8 PSNR/SSIM | drop dB | float32 MB | INT8 MB |")
    print("|---|---|---|---|---|---|---|---|")
    for row in quality:
        if "fp32" not in row:
            print(f"| {row['name']} | {row['weights']} | - | - | - | - | {row['mb'][0]:.2f} | {row['mb'][1]:.2f} |")
            continue
        for s, (pf, sf), (pq, sq) in zip(args.sets, row["fp32"], row["int8"]):
            print(f"| {row['name']} | {row['weights']} | {s} | {pf:.3f}/{sf:.4f} | {pq:.3f}/{sq:.4f} | "
                  f"{pf - pq:.3f} | {row['mb'][0]:.2f} | {row['mb'][1]:.2f} |")
    print(f"\nspeed at {args.size}x{args.size} LR, seconds (x PyTorch), median of {args.repeats}:")
    print("| model x4 | PyTorch | Paddle Inference | ONNX RT float32 | ONNX RT INT8 | INT8 / float32 |")
    print("|---|---|---|---|---|---|")
    for name, size, med in speed:
        t = med["pytorch"]
        print(f"| {name} | {t:.3f} | {med['inference']:.3f} ({med['inference'] / t:.2f}) | "
              f"{med['onnx']:.3f} ({med['onnx'] / t:.2f}) | {med['onnx int8']:.3f} ({med['onnx int8'] / t:.2f}) | "
              f"{med['onnx int8'] / med['onnx']:.2f} |")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
