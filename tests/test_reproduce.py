"""paddle_sr.reproduce: official weights re-measure the papers' numbers, without torch; LapSRN by both protocols."""
import subprocess
import sys
from pathlib import Path

import pytest

from paddle_sr.core.errors import SRError
from paddle_sr.reproduce import format_report, reproduce

ROOT = Path(__file__).resolve().parents[1]


def test_rlfn_x4_set5_matches_paper_without_torch(shared, tmp_path):
    code = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = ['reproduce'] + sys.argv[1:]; "
            "runpy.run_module('paddle_sr.reproduce', run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", code, "--weights-dir", str(shared / "weights"),
                        "--data", str(shared / "benchmarks"), "--ids", "rlfn_x4", "--sets", "Set5",
                        "--cache", str(tmp_path / "cache"), "--quiet"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("protocol: ") and "MATLAB bicubic" in lines[0] and "gray files: per row" in lines[0]
    row = [line.split() for line in lines if line.startswith("rlfn ")]
    assert len(row) == 1
    model, scale, set_name, paper, measured = row[0][:5]
    assert row[0][-1] == "basicsr"  # the RLFN paper scores Set14's gray file the BasicSR way
    assert (model, scale, set_name, paper) == ("rlfn", "x4", "Set5", "32.24")
    assert abs(float(measured) - 32.24) <= 0.02
    assert (tmp_path / "cache" / "pretrained" / "rlfn_x4.pdparams").is_file()
    assert not (tmp_path / "cache" / "downloads").exists()  # the file came from --weights-dir, not the network


def test_format_report_marks_rows_without_paper_value():
    rows = [{"checkpoint": "rlfn_ntire_x4", "model": "rlfn_ntire", "scale": 4, "set": "Set5", "paper": None,
             "psnr": 32.1234, "ssim": 0.89, "diff": None, "protocol": "P"},
            {"checkpoint": "rlfn_x2", "model": "rlfn", "scale": 2, "set": "Set5", "paper": 38.07,
             "psnr": 38.0612, "ssim": 0.96, "diff": -0.0088, "protocol": "P"}]
    text = format_report(rows).splitlines()
    assert text[0] == "protocol: P" and len(text) == 4
    assert text[2].split()[3:5] == ["—", "32.123"]
    assert text[3].split()[3:6] == ["38.07", "38.061", "-0.009"]


def test_bad_folders_and_names_give_sr_error(shared, tmp_path, monkeypatch):
    monkeypatch.setenv("PADDLE_SR_HOME", str(tmp_path / "home"))
    with pytest.raises(SRError, match="does not exist"):
        reproduce(shared / "benchmarks", weights_dir=tmp_path / "nope")
    with pytest.raises(SRError, match="no official checkpoint in"):
        reproduce(shared / "benchmarks", weights_dir=tmp_path)
    with pytest.raises(SRError, match="no official checkpoint in the cache .*python -m paddle_sr.pretrained"):
        reproduce(shared / "benchmarks")
    with pytest.raises(SRError, match="unknown checkpoint id 'rlfn_x3'"):
        reproduce(shared / "benchmarks", ids=["rlfn_x3"])
    with pytest.raises(SRError, match="no benchmark set"):
        reproduce(tmp_path, weights_dir=shared / "weights" / "rlfn")


def test_lapsrn_is_scored_by_the_suite_and_by_its_own_matlab_protocol(shared, tmp_path, monkeypatch):
    """The official LapSRN files: the suite's uint8-LR route within 0.05 dB of the paper, the LapSRN test code's
    double-LR route (column MATLAB) within 0.01 dB."""
    monkeypatch.setenv("PADDLE_SR_HOME", str(tmp_path / "home"))
    rows = reproduce(shared / "benchmarks", weights_dir=shared / "weights" / "lapsrn", sets=["Set5"], progress=False)
    assert [(r["model"], r["scale"]) for r in rows] == [("lapsrn", 2), ("lapsrn", 4)]
    for r in rows:
        assert abs(r["diff"]) < 0.05, r
        assert abs(r["matlab_psnr"] - r["paper"]) < 0.01, r
    text = format_report(rows)
    assert "MATLAB" in text.splitlines()[1] and "not rounded" in text.splitlines()[-1]
