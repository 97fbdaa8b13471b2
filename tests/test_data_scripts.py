"""data_scripts/: resumable checked downloads, safe unpacking, layouts, sub-images and LR generation.

Offline: a threaded HTTP server on 127.0.0.1 (Range support, optional cut connection) serves small
archives built here in the official layouts.
"""
import hashlib
import io
import os
import re
import socket
import subprocess
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from data_scripts import benchmarks, celeba, div2k
from data_scripts import download as D
from paddle_sr.core.errors import SRError, cli_main

ROOT = Path(__file__).resolve().parents[1]


class Server:
    """Serves ``files`` ({url path: bytes}); ``cut`` ({path: n}) sends only n body bytes the first time."""

    def __init__(self, files, cut=None, ranges=True):
        self.files, self.cut, self.ranges, self.requests = dict(files), dict(cut or {}), ranges, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                path = urlsplit(self.path).path
                rng = self.headers.get("Range")
                server.requests.append((path, rng))
                data = server.files.get(path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                m = re.fullmatch(r"bytes=(\d+)-", rng or "")
                if m and server.ranges:
                    start = int(m.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "text/html" if path.endswith(".html") else "application/zip")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if path in server.cut:
                    body = body[:server.cut.pop(path)]
                    self.close_connection = True
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def _no_retry_wait(monkeypatch):
    monkeypatch.setattr(D._dl, "RETRY_WAIT", 0.0)


def _png(h, w, seed=0):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _tar(members, links=()):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        for name, to in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, to
            t.addfile(info)
    return buf.getvalue()


def _sha(b):
    return hashlib.sha256(b).hexdigest()


def _archive(url, data, **kw):
    return D.Archive(name="x.zip", url=url, target="X", probe="a.png", size=len(data), sha256=_sha(data), **kw)


def _div2k_zips():
    """Tiny official-layout zips: 2 train HR images and their x2 LR."""
    hr = {f"DIV2K_train_HR/000{i}.png": _png(40, 36, i) for i in (1, 2)}
    lr = {f"DIV2K_train_LR_bicubic/X2/000{i}x2.png": _png(20, 18, 10 + i) for i in (1, 2)}
    return {"DIV2K_train_HR.zip": _zip(hr), "DIV2K_train_LR_bicubic_X2.zip": _zip(lr)}


@pytest.fixture
def div2k_server(monkeypatch):
    zips = _div2k_zips()
    for name, data in zips.items():  # the tiny zips stand in for the official ones, with their own checksums
        monkeypatch.setitem(div2k._CHECKSUMS, name, (len(data), _sha(data)))
    with Server({f"/div2k/{n}": d for n, d in zips.items()}) as srv:
        yield srv


def test_interrupted_download_resumes_on_rerun(tmp_path):
    data = os.urandom(300_000)
    with Server({"/x.zip": data}, cut={"/x.zip": 120_000}) as srv:
        a = _archive(srv.url + "/x.zip", data)
        with pytest.raises(SRError, match="interrupted after .*rerun the same command to resume"):
            D.fetch(a, tmp_path, retries=0, timeout=5)
        assert (tmp_path / "x.zip.part").stat().st_size == 120_000
        assert not (tmp_path / "x.zip").exists()
        path = D.fetch(a, tmp_path, retries=0, timeout=5)
        assert path.read_bytes() == data
        assert srv.requests == [("/x.zip", None), ("/x.zip", "bytes=120000-")]
        assert not (tmp_path / "x.zip.part").exists()


def test_dropped_connection_resumes_automatically(tmp_path):
    data = os.urandom(200_000)
    with Server({"/x.zip": data}, cut={"/x.zip": 50_000}) as srv:
        path = D.fetch(_archive(srv.url + "/x.zip", data), tmp_path, retries=2, timeout=5)
        assert path.read_bytes() == data
        assert srv.requests == [("/x.zip", None), ("/x.zip", "bytes=50000-")]


def test_server_without_range_support_starts_over(tmp_path):
    data = os.urandom(100_000)
    (tmp_path / "x.zip.part").write_bytes(b"\0" * 30_000)  # stale bytes that must not survive
    with Server({"/x.zip": data}, ranges=False) as srv:
        path = D.fetch(_archive(srv.url + "/x.zip", data), tmp_path, timeout=5)
        assert path.read_bytes() == data and srv.requests == [("/x.zip", "bytes=30000-")]


def test_bad_checksum_is_refused_and_kept_aside(tmp_path):
    data = os.urandom(50_000)
    with Server({"/x.zip": data}) as srv:
        a = _archive(srv.url + "/x.zip", data)
        a.sha256 = "0" * 64
        with pytest.raises(SRError, match=r"failed verification \(sha256 .*kept as .*x\.zip\.bad"):
            D.fetch(a, tmp_path, timeout=5)
    assert (tmp_path / "x.zip.bad").read_bytes() == data
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "x.zip.part").exists()


def test_web_page_and_404_give_clear_errors(tmp_path):
    with Server({"/quota.html": b"<html>Google Drive quota exceeded</html>"}) as srv:
        with pytest.raises(SRError, match="returned a web page"):
            D.fetch(D.Archive("x.zip", srv.url + "/quota.html", "X", "a.png"), tmp_path, timeout=5)
        with pytest.raises(SRError, match="HTTP 404"):
            D.fetch(D.Archive("x.zip", srv.url + "/missing.zip", "X", "a.png"), tmp_path, timeout=5)
    assert not (tmp_path / "x.zip").exists()


def test_no_network_is_one_clear_line_and_exit_2(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused, as without network
    r = subprocess.run([sys.executable, str(ROOT / "data_scripts" / "div2k.py"), "--root", str(tmp_path / "d"),
                        "--base-url", f"http://127.0.0.1:{port}/", "--parts", "valid_hr", "--retries", "0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot download DIV2K_valid_HR.zip from http://127.0.0.1:{port}/")
    assert "Traceback" not in r.stderr and "internet connection" in lines[0]


def test_div2k_unpacks_official_layout_and_skips_on_rerun(tmp_path, div2k_server):
    root = tmp_path / "DIV2K"
    div2k.main(["--root", str(root), "--base-url", div2k_server.url + "/div2k", "--parts", "train_hr", "train_lr_x2"])
    assert sorted(os.listdir(root / "DIV2K_train_HR")) == ["0001.png", "0002.png"]
    assert sorted(os.listdir(root / "DIV2K_train_LR_bicubic" / "X2")) == ["0001x2.png", "0002x2.png"]
    assert Image.open(root / "DIV2K_train_LR_bicubic" / "X2" / "0002x2.png").size == (18, 20)
    assert sorted(os.listdir(root / "downloads")) == ["DIV2K_train_HR.zip.unpacked",
                                                     "DIV2K_train_LR_bicubic_X2.zip.unpacked"]
    assert not [p for p in os.listdir(root) if p.startswith(".unpack-")]
    from paddle_sr import data as PD
    assert [os.path.basename(p) for p in PD.resolve_source(f"div2k:{root}")] == ["0001.png", "0002.png"]
    assert PD.div2k_lr_folder(root, 2) == str(root / "DIV2K_train_LR_bicubic" / "X2")
    n = len(div2k_server.requests)
    div2k.main(["--root", str(root), "--base-url", div2k_server.url + "/div2k", "--parts", "train_hr", "train_lr_x2"])
    assert len(div2k_server.requests) == n  # complete parts: no network at all


def test_div2k_cli_refuses_bad_checksum(tmp_path, div2k_server, monkeypatch, capsys):
    monkeypatch.setitem(div2k._CHECKSUMS, "DIV2K_train_HR.zip", (div2k._CHECKSUMS["DIV2K_train_HR.zip"][0], "0" * 64))
    with pytest.raises(SystemExit) as e:
        cli_main(lambda: div2k.main(["--root", str(tmp_path), "--base-url", div2k_server.url + "/div2k",
                                       "--parts", "train_hr"]))
    assert e.value.code == 2
    assert "failed verification" in capsys.readouterr().err
    assert (tmp_path / "downloads" / "DIV2K_train_HR.zip.bad").is_file()
    assert not (tmp_path / "DIV2K_train_HR").exists()


def test_from_aistudio_unpacks_local_zips_without_network(tmp_path, monkeypatch):
    zips = _div2k_zips()
    mount = tmp_path / "data" / "data104667"
    mount.mkdir(parents=True)
    (mount / "DIV2K_train_HR.zip").write_bytes(zips["DIV2K_train_HR.zip"])
    args = ["--root", str(tmp_path / "DIV2K"), "--base-url", "http://127.0.0.1:9/", "--from-aistudio",
            str(tmp_path / "data"), "--parts", "train_hr"]
    with pytest.raises(SRError, match="not the official DIV2K_train_HR.zip .*--no-verify"):
        div2k.main(args)  # the official checksum applies to a local zip too
    assert (mount / "DIV2K_train_HR.zip").is_file()  # the user's file is never renamed
    div2k.main(args + ["--no-verify"])
    assert sorted(os.listdir(tmp_path / "DIV2K" / "DIV2K_train_HR")) == ["0001.png", "0002.png"]
    assert (mount / "DIV2K_train_HR.zip").is_file()
    with pytest.raises(SRError, match="no DIV2K_valid_HR.zip under .*DIV2K_train_HR.zip"):
        div2k.main(args[:-1] + ["valid_hr"])


def test_unsafe_archives_are_refused(tmp_path):
    evil_zip = tmp_path / "evil.zip"
    evil_zip.write_bytes(_zip({"ok/a.png": b"1", "../escaped.png": b"2"}))
    with pytest.raises(SRError, match="unsafe path '../escaped.png'"):
        D.safe_extract(evil_zip, tmp_path / "out")
    abs_tar = tmp_path / "abs.tar.gz"
    abs_tar.write_bytes(_tar({"/tmp/abs_escaped.png": b"3"}))
    with pytest.raises(SRError, match="unsafe member"):
        D.safe_extract(abs_tar, tmp_path / "out2")
    link_tar = tmp_path / "link.tar.gz"
    link_tar.write_bytes(_tar({"a.png": b"4"}, links=[("b.png", "/etc/passwd")]))
    with pytest.raises(SRError, match="unsafe member 'b.png'"):
        D.safe_extract(link_tar, tmp_path / "out3")
    assert not (tmp_path / "escaped.png").exists() and not os.path.exists("/tmp/abs_escaped.png")
    assert not (tmp_path / "out3" / "b.png").exists()


def test_subimage_grid_matches_basicsr():
    assert div2k.grid(600, 480, 240, 48) == [0, 120]  # 120 px left over > 48: one more, flush with the end
    assert div2k.grid(1000, 480, 240, 48) == [0, 240, 480]  # 40 px left over <= 48: dropped
    assert div2k.grid(2040, 480, 240, 48) == [0, 240, 480, 720, 960, 1200, 1440, 1560]
    assert div2k.grid(300, 480, 240, 48) == [0]


def test_subimages_and_lr_generation(tmp_path):
    pytest.importorskip("paddle_sr.image.imresize")
    from paddle_sr.image.imresize import imresize

    root = tmp_path / "DIV2K"
    hr_dir = root / "DIV2K_train_HR"
    hr_dir.mkdir(parents=True)
    rng = np.random.default_rng(3)
    hr1 = rng.integers(0, 256, (600, 1000, 3), dtype=np.uint8)
    hr2 = rng.integers(0, 256, (61, 50, 3), dtype=np.uint8)  # odd height: modcropped before downscaling
    Image.fromarray(hr1).save(hr_dir / "0001.png")
    Image.fromarray(hr2).save(hr_dir / "0002.png")
    # '--parts' alone: no download, prepare what is in ROOT
    args = ["--root", str(root), "--parts", "--lr-scales", "2", "--subimages", "--workers", "1"]
    div2k.main(args)

    lr_dir = root / "DIV2K_train_LR_bicubic" / "X2"
    lr1 = np.asarray(Image.open(lr_dir / "0001x2.png"))
    lr2 = np.asarray(Image.open(lr_dir / "0002x2.png"))
    np.testing.assert_array_equal(lr1, imresize(hr1, 0.5))
    assert lr2.shape == (30, 25, 3)
    np.testing.assert_array_equal(lr2, imresize(hr2[:60], 0.5))

    hr_sub = sorted(os.listdir(root / "DIV2K_train_HR_sub"))
    lr_sub = sorted(os.listdir(root / "DIV2K_train_LR_bicubic" / "X2_sub"))
    # HR 600x1000 (480, 240, 48): rows [0, 120], cols [0, 240, 480] -> 6; LR 300x500 (240, 120, 24): the same
    # grid halved. 0002 is smaller than a crop: one sub-image, the whole image.
    assert hr_sub == lr_sub == [f"0001_s{i:03d}.png" for i in range(1, 7)] + ["0002_s001.png"]
    for k, (top, left) in enumerate([(0, 0), (0, 240), (0, 480), (120, 0), (120, 240), (120, 480)], 1):
        sub_hr = np.asarray(Image.open(root / "DIV2K_train_HR_sub" / f"0001_s{k:03d}.png"))
        sub_lr = np.asarray(Image.open(root / "DIV2K_train_LR_bicubic" / "X2_sub" / f"0001_s{k:03d}.png"))
        np.testing.assert_array_equal(sub_hr, hr1[top:top + 480, left:left + 480])
        np.testing.assert_array_equal(sub_lr, lr1[top // 2:top // 2 + 240, left // 2:left // 2 + 240])
    np.testing.assert_array_equal(np.asarray(Image.open(root / "DIV2K_train_HR_sub" / "0002_s001.png")), hr2)
    # rerun: every output exists, nothing is rewritten
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*.png")}
    div2k.main(args)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.png")} == before


def test_benchmarks_check_unpacked_content(tmp_path):
    tar = _tar({"Set5_HR/baby.png": _png(8, 8, 1), "Set5_HR/bird.png": _png(8, 8, 2)})
    with Server({"/Set5_HR.tar.gz": tar}) as srv:
        args = ["--root", str(tmp_path), "--sets", "Set5", "--url", srv.url + "/Set5_HR.tar.gz"]
        with pytest.raises(SRError, match="differ from the published ones .*moved it to .*Set5_HR.tar.gz.bad"):
            benchmarks.main(args)  # not the real Set5: its folder md5 differs
        assert not (tmp_path / "Set5").exists()
        benchmarks.main(args + ["--no-verify"])
    assert sorted(os.listdir(tmp_path / "Set5" / "HR")) == ["baby.png", "bird.png"]
    with pytest.raises(SRError, match="exactly one set"):
        benchmarks.main(["--root", str(tmp_path), "--url", "http://127.0.0.1:9/x.tar.gz"])


def test_benchmark_checksum_accepts_the_real_set5(shared, tmp_path):
    """The recorded Set5 content checksum passes for the real images (tar built here from ../shared)."""
    hr = shared / "benchmarks" / "Set5" / "HR"
    tar = _tar({f"Set5_HR/{p.name}": p.read_bytes() for p in sorted(hr.glob("*.png"))})
    with Server({"/Set5_HR.tar.gz": tar}) as srv:
        benchmarks.main(["--root", str(tmp_path), "--sets", "Set5", "--url", srv.url + "/Set5_HR.tar.gz"])
    assert sorted(os.listdir(tmp_path / "Set5" / "HR")) == sorted(p.name for p in hr.glob("*.png"))
    assert D.folder_md5(shared / "benchmarks" / "Set14" / "HR") == benchmarks.archives()["Set14"].content_md5


def test_celeba_local_zip(tmp_path):
    z = tmp_path / "img_align_celeba.zip"
    z.write_bytes(_zip({"img_align_celeba/000001.jpg": b"jpeg1", "img_align_celeba/000002.jpg": b"jpeg2"}))
    with pytest.raises(SRError, match=r"size \d+ bytes, expected 1443490838"):
        celeba.main(["--root", str(tmp_path / "c"), "--zip", str(z)])
    celeba.main(["--root", str(tmp_path / "c"), "--zip", str(z), "--no-verify"])
    assert sorted(os.listdir(tmp_path / "c" / "img_align_celeba")) == ["000001.jpg", "000002.jpg"]
    torn = tmp_path / "torn" / "img_align_celeba.zip"
    torn.parent.mkdir()
    torn.write_bytes(z.read_bytes()[:-30])  # central directory cut off
    with pytest.raises(SRError, match="not a readable zip or tar archive .*delete it"):
        celeba.main(["--root", str(tmp_path / "c2"), "--from-aistudio", str(torn.parent), "--no-verify"])
    flipped = bytearray(z.read_bytes())
    flipped[flipped.index(b"jpeg2")] ^= 1  # stored member data no longer matches its CRC-32
    torn.write_bytes(bytes(flipped))
    with pytest.raises(SRError, match="cannot unpack .*CRC.*delete it and rerun"):
        celeba.main(["--root", str(tmp_path / "c2"), "--from-aistudio", str(torn.parent), "--no-verify"])


@pytest.mark.parametrize("module, words", [
    (div2k, ["academic research", "3.53 GB", "--from-aistudio", "data.vision.ee.ethz.ch/cvl/DIV2K"]),
    (celeba, ["non-commercial research", "1.44 GB", "--from-aistudio", "00d2c5bc6d35e252742224ab0c1e8fcb"]),
    (benchmarks, ["Licences", "Urban100", "../shared/benchmarks", "huggingface.co/datasets/eugenesiow"]),
])
def test_help_names_sources_sizes_licences(module, words, capsys):
    with pytest.raises(SystemExit) as e:
        module.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for w in words:
        assert w in out
