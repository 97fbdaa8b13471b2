"""Reading a run folder back, for the notebooks: the model it trained, its curves, the benchmark sets.

    from paddle_sr.apps.notebook import load_run, plot_curves, find_benchmarks
    model = load_run("output/rdn_x4")                  # config.json's model with Best.pdparams
    plot_curves("output/rdn_x4", save="curves.png", force=True)    # loss and validation PSNR from the VisualDL logs
    sets = find_benchmarks(["Set5", "Set14"])          # $PADDLE_SR_BENCHMARKS or data/benchmarks

A run's VisualDL logs are one ``vdl/vdlrecords.<time>.log`` per invocation (a resumed run adds a
file); ``read_scalars`` merges them in time order, a later file winning for a repeated iteration.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np

from paddle_sr.core.errors import SRError
from paddle_sr.weights.run_folder import BEST, CONFIG, LOG_DIR, STATE

# Where the benchmark sets are looked for, in order: the environment (the tests point it at their copy),
# and what ``data_scripts/benchmarks.py --root data/benchmarks`` makes.
BENCHMARK_ROOTS = ("$PADDLE_SR_BENCHMARKS", "data/benchmarks", "{repo}/data/benchmarks")


def find_repo():
    """The paddle_sr checkout: $PADDLE_SR_REPO, the working folder or its parent, ~/paddle_sr or ~/work/paddle_sr."""
    from pathlib import Path

    here = Path.cwd()
    for c in (os.environ.get("PADDLE_SR_REPO"), here, here.parent, Path.home() / "paddle_sr",
              Path.home() / "work" / "paddle_sr"):
        if c and (Path(c) / "paddle_sr" / "__init__.py").is_file() and (Path(c) / "data_scripts").is_dir():
            return Path(c).resolve()
    raise SRError("no paddle_sr checkout found: clone the repository into ~/paddle_sr (AI Studio: ~/work/paddle_sr) "
                  "or set PADDLE_SR_REPO")


def bootstrap(tiny=False):
    """The notebooks' set-up cell: (repository root, whether Paddle sees a GPU).

    Works from the repository root when started in ``notebooks/``, so run folders (``output/``) and data
    (``data/``) land where the command-line tools put them; checks that Paddle imports and prints one line.
    """
    from pathlib import Path

    repo = find_repo()
    if Path.cwd().resolve() == repo / "notebooks":
        os.chdir(repo)
    try:
        import paddle
    except ImportError:
        raise SRError("Paddle is not installed. Locally: `make notebook` (a .venv with the CPU Paddle and JupyterLab); "
                      "AI Studio environments have it preinstalled") from None
    gpu = paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    print(f"paddle {paddle.__version__} on {'GPU' if gpu else 'CPU'} | repository {repo} | working folder "
          f"{Path.cwd()}" + (" | TINY smoke-test settings" if tiny else ""))
    return repo, gpu


def read_config(run_dir):
    """The resolved recipe of a run (its ``config.json``) as a dict."""
    path = os.path.join(os.fspath(run_dir), CONFIG)
    if not os.path.isfile(path):
        raise SRError(f"{path} does not exist; {run_dir} is not a training run folder "
                      f"(train first: python -m paddle_sr.train RECIPE)")
    with open(path) as f:
        return json.load(f)


def load_run(run_dir, weights=BEST):
    """The model a run trained (architecture, scale and model_kwargs from ``config.json``) with
    ``weights`` (a file name inside the run folder, or a path) loaded, in eval mode."""
    from paddle_sr.models.resolve import model_in_run

    return model_in_run(run_dir, read_config(run_dir), weights)


def run_progress(run_dir):
    """(iterations done, iterations planned) of a run, from its state file and ``config.json``."""
    import paddle

    cfg = read_config(run_dir)
    state = os.path.join(os.fspath(run_dir), STATE)
    done = int(paddle.load(state)["iteration"]) if os.path.isfile(state) else 0
    return done, int(cfg["iterations"])


def require_finished(run_dir, what_next="the next stage"):
    """SRError unless the run has done all its iterations: a warm start (next RLFN stage, SRGAN from
    SRResNet, x4 from x2) must not begin from a run that ``--max_minutes`` stopped halfway."""
    done, total = run_progress(run_dir)
    if done < total:
        raise SRError(f"{run_dir} stopped at iteration {done} of {total} (--max_minutes or --stop_after); "
                      f"rerun the training cell to continue it before {what_next} starts from its {BEST}")


def _log_files(run_dir):
    folder = os.path.join(os.fspath(run_dir), LOG_DIR)
    if not os.path.isdir(folder):
        raise SRError(f"{folder} does not exist; {run_dir} has no VisualDL logs (is it a training run folder?)")
    files = [f for f in os.listdir(folder) if re.fullmatch(r"vdlrecords\.\d+\.log", f)]
    if not files:
        raise SRError(f"{folder} holds no vdlrecords.*.log file; the run has not logged anything yet")
    # The number in the name is the writer's start time: it orders the invocations of a resumed run.
    return [os.path.join(folder, f) for f in sorted(files, key=lambda f: int(f.split(".")[1]))]


def read_scalars(run_dir):
    """``{tag: (iterations, values)}`` (numpy arrays sorted by iteration) from a run's VisualDL logs."""
    from visualdl import LogReader

    merged = {}
    for path in _log_files(run_dir):
        reader = LogReader(file_path=path)
        for tag in reader.get_tags().get("scalar", []):
            points = merged.setdefault(tag, {})
            for record in reader.get_data("scalar", tag):
                points[int(record.id)] = float(record.value)
    return {tag: (np.array(sorted(p), dtype=np.int64), np.array([p[k] for k in sorted(p)], dtype=np.float64))
            for tag, p in merged.items()}


def plot_curves(run_dir, save=None, show=None, force=False):
    """Training losses (left; log scale unless a loss is <= 0) and validation PSNR with the bicubic reference (right); the Figure.

    ``save``: PNG path to write (an existing file is refused unless ``force``); ``show``: display inline
    (default: inside a Jupyter kernel only).
    """
    if save is not None and not force:
        from paddle_sr.core.files import refuse_existing

        refuse_existing([save], "force=True", "another save= path")
    from matplotlib.figure import Figure

    from paddle_sr.apps.viz import _in_notebook

    scalars = read_scalars(run_dir)
    terms = [t for t in scalars if t.startswith("train/") and t not in ("train/loss", "train/lr")]
    if len(terms) == 1 and np.array_equal(scalars[terms[0]][1], scalars.get("train/loss", (0, None))[1]):
        del scalars[terms[0]]  # a single loss term is the loss itself: one line, not two on top of each other
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    ax_loss, ax_psnr = fig.subplots(1, 2)
    losses = sorted(t for t in scalars if t.startswith("train/") and t != "train/lr")
    for tag in losses:
        steps, values = scalars[tag]
        style = "-" if tag == "train/loss" else "--"
        ax_loss.plot(steps, values, style, label=tag[len("train/"):], marker="." if len(steps) < 30 else None)
    # Log scale shows a loss that keeps falling by decades; a loss that can be <= 0 needs a linear axis.
    ax_loss.set_yscale("log" if losses and all((scalars[t][1] > 0).all() for t in losses) else "linear")
    ax_loss.set_xlabel("iteration")
    ax_loss.set_title(f"{os.path.basename(os.path.normpath(os.fspath(run_dir)))}: training loss")
    for tag in sorted(t for t in scalars if re.fullmatch(r"val/.+/(psnr|srresnet_psnr)", t)):
        steps, values = scalars[tag]
        ax_psnr.plot(steps, values, marker="o", label=tag[len("val/"):])
        bic = tag.rsplit("/", 1)[0] + "/bicubic_psnr"
        if bic in scalars and tag.endswith("/psnr") and not tag.endswith("srresnet_psnr"):
            ax_psnr.plot(*scalars[bic], ":", color="gray", label=bic[len("val/"):])
    ax_psnr.set_xlabel("iteration")
    ax_psnr.set_ylabel("dB")
    ax_psnr.set_title("validation PSNR (Y, border = scale)")
    for ax in (ax_loss, ax_psnr):
        if ax.lines:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if save is not None:
        from paddle_sr.core.files import atomic_write

        # written whole, then renamed (never a torn PNG), with normal umask permissions
        atomic_write(save, lambda tmp: fig.savefig(tmp, format="png", dpi=100), ".png")
    if show if show is not None else _in_notebook():
        from IPython.display import display
        display(fig)
    return fig


def find_benchmarks(names=("Set5", "Set14", "B100"), roots=None, repo=None):
    """Folders ``ROOT/<name>`` (each with ``HR/``) for the sets found in the first root holding any of them.

    Roots default to ``BENCHMARK_ROOTS``; sets missing there are left out (say which with a print), and
    an SRError names the download command when none is found.
    """
    repo = os.fspath(repo) if repo is not None else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tried = []
    for root in roots or BENCHMARK_ROOTS:
        root = os.path.expandvars(root.format(repo=repo)) if isinstance(root, str) else os.fspath(root)
        if not root or root.startswith("$"):
            continue
        root = os.path.normpath(root)
        tried.append(root)
        found = [os.path.join(root, n) for n in names if os.path.isdir(os.path.join(root, n, "HR"))]
        if found:
            missing = [n for n in names if os.path.join(root, n) not in found]
            if missing:
                print(f"benchmark sets not in {root}: {', '.join(missing)} (download: python data_scripts/"
                      f"benchmarks.py --root data/benchmarks --sets {' '.join(missing)})")
            return found
    raise SRError(f"none of the benchmark sets {', '.join(names)} found (looked in {', '.join(tried)}); download "
                  f"them: python data_scripts/benchmarks.py --root data/benchmarks --sets {' '.join(names)}")


def run_command(*args):
    """Run a command (e.g. a ``data_scripts/`` script), its output streamed into the notebook; SRError on failure.

    ``!python ...`` would print too, but would not stop the notebook when the command fails.
    """
    args = [os.fspath(a) for a in args]
    print("$", " ".join(args), flush=True)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    for line in proc.stdout:
        print(line, end="", flush=True)
    if proc.wait():
        raise SRError(f"the command above failed (exit status {proc.returncode}); its message is printed above")


def benchmark_sets(names=("Set5", "Set14", "B100"), root="data/benchmarks", stand_in=False, repo=None):
    """Set folders for evaluation: ``find_benchmarks``, else downloaded by ``data_scripts/benchmarks.py`` into
    ``root``. ``stand_in=True`` (the notebooks' tiny mode, offline CI) writes the embedded validation photos
    as the set ``root/EmbeddedVal/HR`` instead of downloading."""
    repo = os.fspath(repo) if repo is not None else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        return find_benchmarks(names, repo=repo)
    except SRError:
        if not stand_in:
            run_command(sys.executable, os.path.join(repo, "data_scripts", "benchmarks.py"), "--root", root,
                        "--sets", *names)
            return find_benchmarks(names, roots=[root], repo=repo)
    from paddle_sr.data.sources import embedded_images
    from paddle_sr.image.io import save_png

    folder = os.path.join(os.fspath(root), "EmbeddedVal", "HR")
    os.makedirs(folder, exist_ok=True)
    for name, img in embedded_images("val"):
        path = os.path.join(folder, name + ".png")
        if not os.path.isfile(path):
            save_png(img, path)  # atomic: an interrupted cell never leaves a torn PNG in the set
    print(f"no benchmark set found: using the embedded validation photos ({folder}) as a stand-in")
    return [os.path.dirname(folder)]


def reader_patch(batchsize, scale=4, patchsize=48, source="embedded:train", seed=None, num_batches=None):
    """The notebooks' generator, fixed: yields ``(lr, hr)`` float32 NCHW in [-1, 1].

    Each yield is a fresh array; the patches of a batch come from several images (drawn per patch);
    LR is MATLAB bicubic of the HR crop; 8-way flip/rotation is applied (the notebooks' separate
    ``data_augmentation`` step is no longer needed); decoded images are cached. Like the notebooks'
    reader it yields one batch per image (one "epoch") unless ``num_batches`` says otherwise.
    ``seed=None`` draws a fresh seed each call, as the notebooks' shuffling did.
    """
    from paddle_sr.data.datasets import PatchDataset, _stack

    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2 ** 63)
    ds = PatchDataset(source, scale, patchsize, seed=seed)
    n = len(ds.paths) if num_batches is None else int(num_batches)
    for k in range(n):
        yield _stack([ds[k * batchsize + j] for j in range(batchsize)])
