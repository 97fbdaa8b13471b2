"""Re-measure the paper tables from the authors' own weights: one table, measured next to published.

    python -m paddle_sr.reproduce --data data/benchmarks                      # every checkpoint in the cache
    python -m paddle_sr.reproduce --data data/benchmarks --ids rlfn_x4 imdn_x2   # these (downloaded if needed)
    python -m paddle_sr.reproduce --data data/benchmarks --weights-dir DIR    # the published files found in DIR

The checkpoints are the entries of ``paddle_sr.pretrained`` (the table of released files with their
paper rows): those given with ``--ids`` (fetched when missing), those whose published file lies
anywhere under ``--weights-dir`` (checksum-verified), or else every one already in the cache
(``python -m paddle_sr.pretrained ID`` fills it). Each is converted without PyTorch and scored with
``paddle_sr.evaluate`` on the benchmark sets found in ``--data`` (Set5, Set14, B100, Urban100; made
by ``python data_scripts/benchmarks.py --root data/benchmarks``).

Protocol: the one of ``paddle_sr.evaluate`` (HR modcrop, MATLAB bicubic LR, uint8 SR, Y channel,
border = scale), with the grayscale convention of the paper being reproduced (``Entry.gray``: the RLFN,
IMDN, CARN and LapSRN numbers score Set14 ``bridge.png`` the BasicSR way, Y of the RGB file). The Y-channel models of the MATLAB
era (SRCNN, VDSR, DRCN, DRRN, LapSRN) also get the protocol of their own test code, in the column
``MATLAB``: the LR is MATLAB ``imresize`` of the double image, never rounded to uint8 (LapSRN's
``test_LapSRN.m``); the gap to the suite's uint8-LR route is that rounding.
"""
import argparse
import os

from paddle_sr.core.download import home
from paddle_sr.core.errors import SRError, cli_main
from paddle_sr.core.files import check_writable
from paddle_sr.models import pretrained
from paddle_sr.models.resolve import model_for_weights
from paddle_sr.runtime.scoring import evaluate, protocol_line
from paddle_sr.weights import catalogue

SETS = ("Set5", "Set14", "B100", "Urban100")
# Models whose official test code works on a double-precision Y channel (see the module docstring).
MATLAB_Y_MODELS = ("srcnn", "vdsr", "drcn", "drrn", "lapsrn")


def _select(ids, weights_dir):
    """[(entry, local file or None)] to score: ``ids``, the files under ``weights_dir``, or the cache."""
    if ids:
        return [(pretrained.get(i), None) for i in ids]
    if weights_dir is not None:
        if not os.path.isdir(weights_dir):
            raise SRError(f"weights folder {weights_dir} does not exist; pass a folder holding official checkpoint "
                          f"files (`python -m paddle_sr.pretrained` lists their names)")
        found = []
        for e in pretrained.entries():
            local = next((os.path.join(root, e.name) for root, _, files in os.walk(weights_dir) if e.name in files), None)
            if local is not None:
                found.append((e, local))
        if not found:
            names = ", ".join(sorted({e.name for e in pretrained.entries()}))
            raise SRError(f"no official checkpoint in {weights_dir}; expected files named {names}")
        return found
    cached = [(e, None) for e in pretrained.entries() if os.path.isfile(catalogue.converted_path(e))]
    if not cached:
        raise SRError(f"no official checkpoint in the cache {home()}; fetch some with "
                      f"`python -m paddle_sr.pretrained rlfn_x4 ...`, or pass --ids / --weights-dir")
    return cached


def reproduce(data_dir, *, ids=None, weights_dir=None, sets=None, progress=True):
    """Score official checkpoints on the benchmark sets in ``data_dir`` (see the module docstring).

    Returns rows ``{"checkpoint", "model", "scale", "set", "paper", "psnr", "ssim", "diff", "matlab_psnr",
    "paper_ref", "protocol"}`` (``paper``/``diff`` None where the paper gives no number, ``matlab_psnr``
    None for models without the MATLAB test-code protocol).
    """
    data_dir = os.fspath(data_dir)
    chosen = _select(ids, None if weights_dir is None else os.fspath(weights_dir))
    wanted = list(sets) if sets else [s for s in SETS if os.path.isdir(os.path.join(data_dir, s))]
    if not wanted:
        raise SRError(f"no benchmark set ({', '.join(SETS)}) in {data_dir}; pass the folder that holds Set5/HR ... "
                      f"(`python data_scripts/benchmarks.py --root data/benchmarks` makes one)")
    set_dirs = [os.path.join(data_dir, s) for s in wanted]
    rows = []
    for e, local in chosen:
        path = pretrained.weights_path(e.id, source=local)
        model = model_for_weights(e.model, e.scale, path)
        results = evaluate(model, e.scale, set_dirs, gray=e.gray, progress=progress)
        matlab = (evaluate(model, e.scale, set_dirs, gray=e.gray, progress=progress, lr_float=True)
                  if e.model in MATLAB_Y_MODELS else None)
        p = results["protocol"]
        line = protocol_line(dict(p, model="every model", scale="S", gray="per row (its paper's)",
                                  crop_border="S" if p["crop_border"] == e.scale else p["crop_border"]))
        for set_name in wanted:
            r = results[set_name]
            paper = e.paper.get(set_name, (None, None))[0]
            rows.append({"checkpoint": e.id, "model": e.model, "scale": e.scale, "set": set_name, "paper": paper,
                         "psnr": r["psnr"], "ssim": r["ssim"], "diff": None if paper is None else r["psnr"] - paper,
                         "matlab_psnr": None if matlab is None else matlab[set_name]["psnr"], "gray": e.gray,
                         "paper_ref": e.paper_ref, "protocol": line})
    return rows


def format_report(rows):
    """The protocol line(s), then ``model scale set paper measured diff SSIM [MATLAB]`` rows."""
    lines = [f"protocol: {line}" for line in dict.fromkeys(r["protocol"] for r in rows)]
    with_matlab = any(r.get("matlab_psnr") is not None for r in rows)
    lines.append(f"{'model':<11} {'scale':>5} {'set':<9} {'paper':>6} {'measured':>8} {'diff':>6} {'SSIM':>7}"
                 + (f" {'MATLAB':>8}" if with_matlab else "") + "  gray")
    for r in rows:
        paper = "—" if r["paper"] is None else f"{r['paper']:.2f}"
        diff = "—" if r["diff"] is None else f"{r['diff']:+.3f}"
        extra = "" if not with_matlab else f" {r['matlab_psnr']:8.3f}" if r.get("matlab_psnr") is not None \
            else f" {'—':>8}"
        lines.append(f"{r['model']:<11} {'x' + str(r['scale']):>5} {r['set']:<9} {paper:>6} {r['psnr']:8.3f} "
                     f"{diff:>6} {r['ssim']:7.4f}{extra}  {r.get('gray', '')}".rstrip())
    if with_matlab:
        lines.append("MATLAB: the model's own test code protocol (LR = imresize of the double image, not rounded)")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m paddle_sr.reproduce", description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="folder holding the benchmark sets (Set5/HR, Set14/HR, ...)")
    ap.add_argument("--ids", "--checkpoints", nargs="+", metavar="ID", dest="ids",
                    help="checkpoint ids (`python -m paddle_sr.pretrained` lists them); fetched when missing")
    ap.add_argument("--weights-dir", help="a folder holding published checkpoint files (searched recursively)")
    ap.add_argument("--sets", nargs="+", metavar="SET", help="subset of the sets, e.g. Set5 Set14")
    ap.add_argument("--cache", help="folder for downloads and converted weights (default $PADDLE_SR_HOME or "
                                    "~/.cache/paddle_sr)")
    ap.add_argument("--out", metavar="F.json", help="also write the rows as JSON")
    ap.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    a = ap.parse_args(argv)
    if a.out:
        check_writable(a.out, "--out file")  # before minutes of evaluation, not after
        if not a.force:
            from paddle_sr.core.files import refuse_existing

            refuse_existing([a.out], "--force", "another --out")
    if a.cache:
        check_writable(a.cache, "--cache folder", folder=True)
        os.environ["PADDLE_SR_HOME"] = a.cache
    if a.weights_dir and not os.path.isdir(a.weights_dir):  # named as the option, not as PADDLE_SR_WEIGHTS
        raise SRError(f"--weights-dir {a.weights_dir} does not exist; pass a folder holding official checkpoint "
                      f"files")
    if a.ids and a.weights_dir:
        # the ids, read from the folder: each file is looked for there before any download
        os.environ["PADDLE_SR_WEIGHTS"] = os.pathsep.join(filter(None, [a.weights_dir,
                                                                        os.environ.get("PADDLE_SR_WEIGHTS")]))
    rows = reproduce(a.data, ids=a.ids, weights_dir=None if a.ids else a.weights_dir, sets=a.sets,
                     progress=not a.quiet)
    print(format_report(rows))
    if a.out:
        from paddle_sr.core.files import atomic_write_json

        atomic_write_json(rows, a.out)
    return rows


if __name__ == "__main__":
    cli_main(main)
