"""Re-measure the paper tables from the authors' own weights: convert, evaluate, compare.

    python -m paddle_sr.reproduce --weights-dir ../shared/weights/rlfn --data ../shared/benchmarks

For every official checkpoint found in ``--weights-dir`` (RLFN: ``rlfn_x2.pth``, ``rlfn_x4.pth``,
``rlfn_s_x2.pth``, ``rlfn_s_x4.pth``, ``rlfn_ntire_x4.pth``) it converts the file with
``paddle_sr.convert`` (PyTorch not needed; cached under ``--cache``, redone when the .pth is
newer), evaluates it with ``paddle_sr.evaluate`` on every benchmark set found in ``--data``
(Set5, Set14, B100, Urban100) and prints paper PSNR, measured PSNR (and SSIM) and the difference.

Protocol: the one of ``paddle_sr.evaluate`` (HR modcrop, MATLAB bicubic LR, uint8 SR, Y channel,
border = scale), with the grayscale convention of the paper being reproduced: the RLFN paper
evaluates with BasicSR, which scores Set14 ``bridge.png`` as the Y of its replicated RGB
(``gray='basicsr'``). The protocol line is printed above the table.
"""
import argparse
import os

from .checkpoint import check_writable, model_for_weights
from .convert import convert
from .errors import SRError, cli_main
from .evaluate import evaluate, protocol_line

# Official checkpoint file stem -> (registered model, scale, gray convention of its paper).
CHECKPOINTS = {
    "rlfn_x2": ("rlfn", 2, "basicsr"), "rlfn_x4": ("rlfn", 4, "basicsr"),
    "rlfn_s_x2": ("rlfn_s", 2, "basicsr"), "rlfn_s_x4": ("rlfn_s", 4, "basicsr"),
    "rlfn_ntire_x4": ("rlfn_ntire", 4, "basicsr"),
}
# Published PSNR (Y, border = scale), DESIGN.md §5; RLFN_ntire was ranked on DIV2K only (no table).
PAPER = {
    ("rlfn", 2): {"Set5": 38.07, "Set14": 33.72, "B100": 32.22, "Urban100": 32.33},
    ("rlfn", 4): {"Set5": 32.24, "Set14": 28.62, "B100": 27.60, "Urban100": 26.17},
    ("rlfn_s", 2): {"Set5": 38.05, "Set14": 33.68, "B100": 32.19},
    ("rlfn_s", 4): {"Set5": 32.23, "Set14": 28.61, "B100": 27.58},
}
SETS = ("Set5", "Set14", "B100", "Urban100")


def _find_checkpoint(weights_dir, stem):
    for ext in (".pth", ".pt"):
        path = os.path.join(weights_dir, stem + ext)
        if os.path.isfile(path):
            return path
    return None


def _converted(pth, stem, name, scale, cache_dir):
    """Path of the converted weights, converting when missing or older than the .pth."""
    out = os.path.join(cache_dir, stem + ".pdparams")
    if not os.path.isfile(out) or os.path.getmtime(out) < os.path.getmtime(pth):
        convert(name, scale, pth, out, force=True)
    return out


def reproduce(weights_dir, data_dir, *, checkpoints=None, sets=None, cache_dir="output/converted", progress=True):
    """Evaluate every official checkpoint in ``weights_dir`` on the sets in ``data_dir``.

    Returns a list of rows ``{"checkpoint", "model", "scale", "set", "paper", "psnr", "ssim", "diff",
    "protocol"}`` (``paper``/``diff`` None where the paper gives no number).
    """
    weights_dir, data_dir = os.fspath(weights_dir), os.fspath(data_dir)
    if not os.path.isdir(weights_dir):
        raise SRError(f"weights folder {weights_dir} does not exist; pass the folder holding the official "
                      f".pth files (e.g. ../shared/weights/rlfn)")
    unknown = [c for c in (checkpoints or []) if c not in CHECKPOINTS]
    if unknown:
        raise SRError(f"unknown checkpoint(s) {', '.join(unknown)}; known: {', '.join(CHECKPOINTS)}")
    found = {s: _find_checkpoint(weights_dir, s) for s in (checkpoints or CHECKPOINTS)}
    if checkpoints and not all(found.values()):
        missing = [s for s, p in found.items() if p is None]
        raise SRError(f"{', '.join(m + '.pth' for m in missing)} not found in {weights_dir}")
    found = {s: p for s, p in found.items() if p}
    if not found:
        raise SRError(f"no official checkpoint in {weights_dir}; expected files named "
                      f"{', '.join(s + '.pth' for s in CHECKPOINTS)}")
    wanted = list(sets) if sets else [s for s in SETS if os.path.isdir(os.path.join(data_dir, s))]
    if not wanted:
        raise SRError(f"no benchmark set ({', '.join(SETS)}) in {data_dir}; pass the folder that holds Set5/HR ...")
    set_dirs = [os.path.join(data_dir, s) for s in wanted]
    check_writable(cache_dir, "--cache folder", folder=True)  # converted weights go there: check before the work
    rows = []
    for stem, pth in found.items():
        name, scale, gray = CHECKPOINTS[stem]
        model = model_for_weights(name, scale, _converted(pth, stem, name, scale, cache_dir))
        results = evaluate(model, scale, set_dirs, gray=gray, progress=progress)
        p = results["protocol"]
        # One protocol line for the whole table: the model and scale are in the row.
        line = protocol_line(dict(p, model="every model", scale="S",
                                  crop_border="S" if p["crop_border"] == scale else p["crop_border"]))
        for set_name in wanted:
            r = results[set_name]
            paper = PAPER.get((name, scale), {}).get(set_name)
            rows.append({"checkpoint": stem, "model": name, "scale": scale, "set": set_name, "paper": paper,
                         "psnr": r["psnr"], "ssim": r["ssim"],
                         "diff": None if paper is None else r["psnr"] - paper, "protocol": line})
    return rows


def format_report(rows):
    """The protocol line(s), then ``model scale set paper measured diff SSIM`` rows."""
    lines = []
    for line in dict.fromkeys(r["protocol"] for r in rows):
        lines.append(f"protocol: {line}")
    lines.append(f"{'model':<11} {'scale':>5} {'set':<9} {'paper':>6} {'measured':>8} {'diff':>6} {'SSIM':>7}")
    for r in rows:
        paper = "—" if r["paper"] is None else f"{r['paper']:.2f}"
        diff = "—" if r["diff"] is None else f"{r['diff']:+.3f}"
        lines.append(f"{r['model']:<11} {'x' + str(r['scale']):>5} {r['set']:<9} {paper:>6} {r['psnr']:8.3f} "
                     f"{diff:>6} {r['ssim']:7.4f}")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m paddle_sr.reproduce", description=__doc__.split("\n")[0])
    ap.add_argument("--weights-dir", required=True, help="folder with the official .pth files")
    ap.add_argument("--data", required=True, help="folder holding the benchmark sets (Set5/HR, Set14/HR, ...)")
    ap.add_argument("--checkpoints", nargs="+", metavar="STEM", help=f"subset of: {', '.join(CHECKPOINTS)}")
    ap.add_argument("--sets", nargs="+", metavar="SET", help="subset of the sets, e.g. Set5 Set14")
    ap.add_argument("--cache", default=os.path.join("output", "converted"), help="where converted weights go")
    ap.add_argument("--out", metavar="F.json", help="also write the rows as JSON")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    a = ap.parse_args(argv)
    if a.out:
        check_writable(a.out, "--out file")  # before minutes of evaluation, not after
    rows = reproduce(a.weights_dir, a.data, checkpoints=a.checkpoints, sets=a.sets, cache_dir=a.cache,
                     progress=not a.quiet)
    print(format_report(rows))
    if a.out:
        from .checkpoint import atomic_write_json

        atomic_write_json(rows, a.out)
    return rows


if __name__ == "__main__":
    cli_main(main)
