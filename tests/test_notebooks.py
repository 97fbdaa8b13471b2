"""The notebooks run top to bottom, headless, in their tiny mode; plus the run-folder helpers they use.

Each notebook is executed with nbclient in a kernel started from this interpreter (a throw-away
kernelspec, so whatever ``python3`` kernel a machine has installed plays no part), with
``PADDLE_SR_TINY=1`` and the working folder in a temporary directory: run folders and data never land in
the repository. A cell error fails the test; the files and numbers each notebook must produce are
checked afterwards. The committed notebooks must carry no outputs.
"""
import json
import os
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from paddle_sr.core.errors import SRError

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
PSNR_ROW = re.compile(r"^\S+\s+\d+\.\d\d\s+0\.\d{4}\s+\d+$", re.M)  # a format_table row: set PSNR SSIM images

SHARED = REPO.parent / "shared"
SHARED_RLFN = SHARED / "weights" / "rlfn"
RLFN_RUNS = [f"output/{v}_x4_stage{k}" for v in ("rlfn", "rlfn_s", "rlfn_ntire") for k in (1, 2, 3)]

# Files each notebook must leave in its working folder, text its outputs must match, the least number of
# PSNR table rows (format_table) and of inline figures.
EXPECT = {
    "00_quickstart.ipynb": {
        "files": ["output/demo_x2/Best.pdparams", "output/demo_x2/config.json", "output/demo_x2/curves.png",
                  "output/demo_x2/comparison.png", "output/demo_x2/compare_benchmark.png",
                  "output/demo_x2/my_photo_x2.png"],
        "text": [r"bicubic x2 \| HR modcrop", r"rdn x2 \| HR modcrop", r"128x96 -> 256x192"],
        "tables": 2, "images": 2,
    },
    "01_rdn_liif.ipynb": {
        "files": ["output/rdn_x4/Best.pdparams", "output/rdn_x4/curves.png", "output/rdn_x4/compare.png",
                  "output/liif_x4/Best.pdparams", "output/liif_x4/curves.png", "output/liif_x4/compare_rdn_liif.png",
                  "output/liif_x4/x3.5.png"],
        "text": [r"rdn x4 \| HR modcrop", r"liif x6 \| .*SR clipped to \[0,255\], float", r"LIIF x3.5: 64x64 -> 224x224"],
        "tables": 4, "images": 4,
    },
    "02_srresnet_srgan_celeba.ipynb": {
        "files": ["output/srresnet_x4/Best.pdparams", "output/srresnet_x4/curves.png", "output/srgan_x4/Best.pdparams",
                  "output/srgan_x4/curves.png", "output/srgan_x4/compare.png"],
        "text": [r"init from output/srresnet_x4/Best.pdparams", r"SRResNet x4 \| HR modcrop", r"SRGAN x4 \| HR modcrop"],
        "tables": 3, "images": 3,
    },
    "03_rlfn.ipynb": {
        "files": [f"{r}/{f}" for r in RLFN_RUNS for f in ("Best.pdparams", "curves.png")]
        + [f"output/{v}_x4_stage3/compare_official.png" for v in ("rlfn", "rlfn_s", "rlfn_ntire")],
        "text": [r"init from output/rlfn_s_x4_stage2/Best.pdparams", r"\| rlfn_ntire \| 4 \| 0\.3172 \|",
                 r"rlfn_ntire \(trained, stage 3 Best\) x4 .*gray files: basicsr"],
        "tables": 3, "images": 8,
    },
    "04_rcan.ipynb": {
        "files": ["output/rcan_x2/Best.pdparams", "output/rcan_x2/curves.png", "output/rcan_x4/Best.pdparams",
                  "output/rcan_x4/curves.png", "output/rcan_x4/compare.png"],
        "text": [r"init from output/rcan_x2/Best.pdparams: \d+ tensors loaded, 2 kept random", r"rcan x4 \| HR modcrop",
                 r"RCAN_BIX4.pt not found"],
        "tables": 4, "images": 3,
    },
}


def _kernel_manager(tmp_path):
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = tmp_path / "kernels" / "paddle_sr_nbtest"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "paddle_sr notebook test", "language": "python"}))
    ksm = KernelSpecManager(kernel_dirs=[str(spec_dir.parent)], ensure_native_kernel=False)
    return KernelManager(kernel_name="paddle_sr_nbtest", kernel_spec_manager=ksm)


def execute(path, workdir, tmp_path, monkeypatch, timeout=600):
    """Run notebook ``path`` with ``workdir`` as working folder; returns the executed notebook (saved beside it)."""
    from nbclient import NotebookClient

    monkeypatch.setenv("PADDLE_SR_TINY", "1")
    monkeypatch.setenv("PADDLE_SR_REPO", str(REPO))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    # What a user points the suite at, here at ../shared when it is beside the checkout (CI): the benchmark
    # sets and local copies of the official weights; the pretrained cache is the test's own, and the
    # unreachable mirror keeps a missing file from going to the internet.
    if (SHARED / "benchmarks").is_dir():
        monkeypatch.setenv("PADDLE_SR_BENCHMARKS", str(SHARED / "benchmarks"))
    else:
        monkeypatch.delenv("PADDLE_SR_BENCHMARKS", raising=False)
    monkeypatch.setenv("PADDLE_SR_WEIGHTS", str(SHARED / "weights"))
    monkeypatch.setenv("PADDLE_SR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PADDLE_SR_MIRROR", "http://127.0.0.1:9/no-network-in-tests")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, km=_kernel_manager(tmp_path), timeout=timeout, allow_errors=False,
                            resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    finally:
        nbformat.write(nb, workdir / ("executed_" + path.name))  # kept for a look when a cell failed
    return nb


def _outputs(nb):
    text, images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text.append(out["text"])
            elif out.get("output_type") in ("display_data", "execute_result"):
                images += "image/png" in out.get("data", {})
                text.append(out.get("data", {}).get("text/plain", ""))
            elif out.get("output_type") == "error":
                text.append("\n".join(out.get("traceback", [])))
    return "\n".join(text), images


def test_every_notebook_has_expectations():
    assert NOTEBOOKS, "no notebook found in notebooks/"
    assert sorted(p.name for p in NOTEBOOKS) == sorted(EXPECT)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip the outputs before committing"
    setup = next(c.source for c in nb.cells if c.cell_type == "code")
    assert 'os.environ.get("PADDLE_SR_TINY")' in setup, "the first code cell reads the tiny switch"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_tiny_mode(path, tmp_path, monkeypatch):
    workdir = tmp_path / "work"
    workdir.mkdir()
    nb = execute(path, workdir, tmp_path, monkeypatch)
    expect = EXPECT[path.name]
    missing = [f for f in expect["files"] if not (workdir / f).is_file()]
    assert not missing, f"{path.name} did not write {missing}"
    for f in expect["files"]:
        assert (workdir / f).stat().st_size > 0
        if f.endswith(".png"):
            from PIL import Image
            with Image.open(workdir / f) as im:
                assert min(im.size) >= 32
    text, images = _outputs(nb)
    assert "MKL ERROR" not in text, f"{path.name}: MKL noise in the outputs (issue 20)"
    for pattern in expect["text"]:
        assert re.search(pattern, text), f"{path.name}: no output matches {pattern!r}"
    rows = PSNR_ROW.findall(text)
    assert len(rows) >= expect["tables"], f"{path.name}: expected {expect['tables']} PSNR table rows, got {rows}"
    for row in rows:
        psnr = float(row.split()[1])
        assert 5 < psnr < 60, row
    assert images >= expect["images"], f"{path.name}: {images} inline figures, expected {expect['images']}"
    assert not (REPO / "notebooks" / "output").exists()
    if path.name == "03_rlfn.ipynb" and (SHARED_RLFN / "rlfn_x4.pth").is_file():
        # The official RLFN / RLFN-S x4 weights, converted and evaluated by the notebook, match the paper.
        for name in ("rlfn", "rlfn_s"):
            m = re.search(rf"^{name}\s+x4 Set5\s+(\d+\.\d+)\s+(\d+\.\d+)", text, re.M)
            assert m, f"no reproduce row for {name} x4 Set5"
            assert abs(float(m.group(1)) - float(m.group(2))) < 0.05, m.group(0)


# ------------------------------------------------------------------------------------------------
# paddle_sr.notebook helpers
# ------------------------------------------------------------------------------------------------

def _fake_run(folder, model="rdn", scale=2, model_kwargs=None):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model": model, "scale": scale,
                                                    "model_kwargs": model_kwargs or {}, "val_every": 10}))
    return folder


def test_read_scalars_merges_resumed_logs_in_time_order(tmp_path):
    from visualdl import LogWriter

    from paddle_sr.apps.notebook import plot_curves, read_scalars

    run = _fake_run(tmp_path / "run")
    # Two invocations (a resumed run): the second rewrites iteration 20 and continues. The file names
    # carry the writer's start time; "1000" sorts after "999" only numerically.
    for start, stop, offset, name in ((1, 21, 0.0, "vdlrecords.999.log"), (20, 31, 100.0, "vdlrecords.1000.log")):
        w = LogWriter(logdir=str(run / "vdl"), file_name=name)
        for it in range(start, stop):
            w.add_scalar("train/loss", offset + it, it)
        w.add_scalar("val/embedded_val/psnr", 20.0 + stop, stop - 1)
        w.add_scalar("val/embedded_val/bicubic_psnr", 30.0, stop - 1)
        w.close()
    assert sorted(os.listdir(run / "vdl")) == ["vdlrecords.1000.log", "vdlrecords.999.log"]
    s = read_scalars(run)
    steps, values = s["train/loss"]
    assert steps.tolist() == list(range(1, 31))
    assert values[18] == 19.0 and values[19] == 120.0 and values[-1] == 130.0
    assert s["val/embedded_val/psnr"][0].tolist() == [20, 30]
    fig = plot_curves(run, save=tmp_path / "c.png", show=False)
    assert (tmp_path / "c.png").stat().st_size > 1000
    labels = [line.get_label() for ax in fig.axes for line in ax.lines]
    assert "loss" in labels and "embedded_val/psnr" in labels and "embedded_val/bicubic_psnr" in labels


def test_read_scalars_single_log(tmp_path):
    from visualdl import LogWriter

    from paddle_sr.apps.notebook import plot_curves, read_scalars

    run = _fake_run(tmp_path / "run")
    w = LogWriter(logdir=str(run / "vdl"))
    for it in (1, 5, 10):
        w.add_scalar("train/loss", 1.0 / it, it)
        w.add_scalar("train/pixel", 1.0 / it, it)
        w.add_scalar("train/lr", 1e-3, it)
    w.close()
    s = read_scalars(run)
    assert s["train/loss"][0].tolist() == [1, 5, 10]
    np.testing.assert_allclose(s["train/loss"][1], [1.0, 0.2, 0.1], rtol=1e-6)
    fig = plot_curves(run, show=False)
    assert [line.get_label() for line in fig.axes[0].lines] == ["loss"]  # pixel == loss: drawn once
    assert fig.axes[0].get_yscale() == "log"
    w = LogWriter(logdir=str(run / "vdl"), file_name="vdlrecords.9999999999.log")
    w.add_scalar("train/adversarial", -0.5, 11)  # a loss that can be negative: no log axis
    w.close()
    fig = plot_curves(run, show=False)
    assert fig.axes[0].get_yscale() == "linear"
    assert sorted(line.get_label() for line in fig.axes[0].lines) == ["adversarial", "loss", "pixel"]


def test_load_run_builds_from_config(tmp_path):
    import paddle

    from paddle_sr import models
    from paddle_sr.core.files import atomic_save
    from paddle_sr.apps.notebook import load_run

    kw = {"num_features": 8, "num_blocks": 2, "num_layers": 2, "growth_rate": 4}
    run = _fake_run(tmp_path / "run", "rdn", 2, kw)
    with pytest.raises(SRError, match="Best.pdparams does not exist"):
        load_run(run)
    paddle.seed(1)
    trained = models.create("rdn", scale=2, **kw)
    atomic_save(trained.state_dict(), str(run / "Best.pdparams"))
    model = load_run(run)
    assert model.sr_scale == 2 and not model.training
    x = paddle.rand([1, 3, 8, 8]) * 2 - 1
    np.testing.assert_array_equal(model(x).numpy(), trained(x).numpy())
    with pytest.raises(SRError, match="not a training run folder"):
        load_run(tmp_path)


def test_require_finished_reads_the_state_file(tmp_path):
    import paddle

    from paddle_sr.apps.notebook import require_finished, run_progress

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"model": "rdn", "scale": 2, "iterations": 5}))
    assert run_progress(run) == (0, 5)
    paddle.save({"iteration": 3}, str(run / "state.pdstate"))
    with pytest.raises(SRError, match="stopped at iteration 3 of 5.*before SRGAN starts"):
        require_finished(run, "SRGAN")
    paddle.save({"iteration": 5}, str(run / "state.pdstate"))
    require_finished(run)


def test_find_benchmarks_and_stand_in(tmp_path, monkeypatch, capsys):
    from paddle_sr.apps.notebook import benchmark_sets, find_benchmarks

    root = tmp_path / "bench"
    (root / "Set5" / "HR").mkdir(parents=True)
    assert find_benchmarks(["Set5", "Set14"], roots=[str(tmp_path / "none"), str(root)]) == [str(root / "Set5")]
    assert "Set14" in capsys.readouterr().out
    with pytest.raises(SRError, match="data_scripts/benchmarks.py"):
        find_benchmarks(["Set5"], roots=[str(tmp_path / "none")])
    monkeypatch.setenv("PADDLE_SR_BENCHMARKS", str(root))
    assert find_benchmarks(["Set5"])[0] == str(root / "Set5")
    # Stand-in: no set anywhere (no repo beside, no data/): the embedded validation photos are written.
    monkeypatch.delenv("PADDLE_SR_BENCHMARKS")
    monkeypatch.chdir(tmp_path)
    sets = benchmark_sets(["NoSuchSet"], root=str(tmp_path / "data"), stand_in=True, repo=str(tmp_path))
    assert sets == [str(tmp_path / "data" / "EmbeddedVal")]
    assert sorted(os.listdir(sets[0] + "/HR")) == ["chelsea.png", "coffee.png"]


def test_execution_fails_on_a_cell_error_and_uses_this_interpreter(tmp_path, monkeypatch):
    from nbclient.exceptions import CellExecutionError
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("import sys; print(sys.executable)"),
                             new_code_cell("raise ValueError('broken cell')"), new_code_cell("print('not reached')")])
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    with pytest.raises(CellExecutionError, match="broken cell"):
        execute(path, workdir, tmp_path, monkeypatch, timeout=60)
    executed = nbformat.read(workdir / "executed_broken.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == sys.executable
    assert executed.cells[2].outputs == []


def test_run_command_streams_and_fails_clearly(capsys):
    from paddle_sr.apps.notebook import run_command

    run_command(sys.executable, "-c", "print('hello from the script')")
    assert "hello from the script" in capsys.readouterr().out
    with pytest.raises(SRError, match="exit status 3"):
        run_command(sys.executable, "-c", "import sys; print('bad'); sys.exit(3)")
