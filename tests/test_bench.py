"""NTIRE-convention complexity figures, peak-memory probes, timing and the bench CLI."""
import csv

import numpy as np
import paddle
import paddle.nn as nn
import pytest

from paddle_sr import bench, models
from paddle_sr.core.errors import SRError


class Tiny(nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2D(3, 4, 3, padding=1)
        self.act = nn.LeakyReLU(0.1)
        self.down = nn.Conv2D(4, 6, 3, stride=2, padding=1, groups=2)
        self.fc = nn.Linear(6, 5)

    def forward(self, x):
        y = self.down(self.act(self.conv(x)))  # [1, 6, 4, 4]
        return self.fc(y.flatten(2).transpose([0, 2, 1]))  # 3-D input: 16 rows of 6


def test_complexity_counts_by_hand():
    c = bench.complexity(Tiny(), size=8)
    conv = 4 * 3 * 9 * 64  # out x in x k x k per output pixel, 8x8 outputs
    grouped = 6 * (4 // 2) * 9 * 16  # groups=2: each output sees in/groups channels; 4x4 outputs
    assert c["flops"] == conv + 4 * 64 + grouped + 16 * 6 * 5  # + LeakyReLU elements + Linear MACs per row
    assert c["activations"] == 4 * 64 + 6 * 16  # conv outputs only
    assert c["convs"] == 2
    assert c["params"] == (4 * 27 + 4) + (6 * 2 * 9 + 6) + (6 * 5 + 5)


def test_rlfn_ntire_matches_ntire_report():
    # NTIRE 2022 ESR report, RLFN_ntire (team ByteESR): 0.317 M params, 19.70 G FLOPs, 80.05 M activations.
    c = bench.complexity(models.create("rlfn_ntire", scale=4), size=256)
    assert c["params"] == 317_218
    assert abs(c["flops"] / 19.70e9 - 1) < 0.005
    assert abs(c["activations"] / 80.05e6 - 1) < 0.01
    assert c["convs"] == 39  # conv_1, 4 x (4 convs + 5 ESA convs), conv_2, upsampler conv


def test_peak_memory_sees_an_allocation():
    n = 4 * 2 ** 20  # 16 MiB of float32
    _, eager = bench.peak_memory(lambda: float(paddle.ones([n]).sum()), paddle_allocator=True)
    assert n * 4 <= eager < n * 4 * 3

    def touch():
        a = np.ones(n * 2, np.float32)  # 32 MiB, every page written
        return float(a[::1024].sum())
    _, rss = bench.peak_memory(touch, paddle_allocator=False)
    assert 32 * 2 ** 20 * 0.9 <= rss < 32 * 2 ** 20 * 3


def test_timed_runs_warmup_then_repeats():
    calls = []
    seconds = bench.timed(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5 and 0 <= seconds < 1


def test_cli_table_and_csv(tmp_path, capsys):
    out = tmp_path / "bench.csv"
    bench.main(["--models", "rlfn_ntire", "--scales", "4", "--sizes", "16", "--repeats", "1", "--warmup", "0",
                "--complexity-size", "32", "--csv", str(out)])
    table = capsys.readouterr().out
    assert "| rlfn_ntire | 4 |" in table
    rows = list(csv.DictReader(out.open()))
    assert [r["mode"] for r in rows] == list(bench.MODES)
    for r in rows:
        assert r["size"] == "16" and float(r["runtime_s"]) > 0 and float(r["peak_mem_MiB"]) >= 0
        assert float(r["params_M"]) == pytest.approx(0.317218)
        # FLOPs scale with the input area: 19.695 G at 256 -> /64 at 32
        assert float(r["flops_G"]) == pytest.approx(19.695306752 / 64, rel=0.01)


def test_cli_errors():
    with pytest.raises(SRError, match="unknown model"):
        bench.main(["--models", "nope", "--no-runtime"])
    with pytest.raises(SRError, match="supports scale"):
        bench.main(["--models", "rlfn_ntire", "--scales", "5", "--no-runtime"])
