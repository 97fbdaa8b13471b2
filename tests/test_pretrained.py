"""paddle_sr.pretrained: official checkpoints fetched from a real HTTP server on 127.0.0.1 (resume after a cut,
checksum mismatch kept as *.bad, 404, redirect, an HTML page), local copies, and models.create(pretrained=True)."""
import hashlib
import http.server
import os
import pickle
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from paddle_sr.core import download
from paddle_sr import models, pretrained
from paddle_sr.weights import catalogue
from paddle_sr.core.errors import SRError

ROOT = Path(__file__).resolve().parents[1]


class Server:
    """Serves ``files`` {path: bytes}; ``cut`` paths close the connection half way on the first request;
    ``redirect`` {path: other path}; ``html`` paths answer a web page; Range requests are honoured."""

    def __init__(self):
        self.files, self.cut, self.redirect, self.html, self.requests = {}, set(), {}, set(), []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.requests.append((self.path, self.headers.get("Range")))
                if self.path in outer.redirect:
                    self.send_response(302)
                    self.send_header("Location", outer.redirect[self.path])
                    self.end_headers()
                    return
                if self.path in outer.html:
                    body = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                data = outer.files.get(self.path)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                rng = self.headers.get("Range")
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if self.path in outer.cut:
                    outer.cut.discard(self.path)
                    self.wfile.write(data[start:start + (len(data) - start) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(data[start:])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path, monkeypatch):
    srv = Server()
    monkeypatch.setenv("PADDLE_SR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PADDLE_SR_MIRROR", srv.url + "/m")
    monkeypatch.delenv("PADDLE_SR_WEIGHTS", raising=False)
    monkeypatch.setattr(download, "RETRY_WAIT", 0.0)
    yield srv
    srv.close()


@pytest.fixture
def rlfn_x4(shared):
    return (shared / "weights" / "rlfn" / "rlfn_x4.pth").read_bytes()


def test_create_pretrained_downloads_verifies_converts_and_reproduces_set5(server, rlfn_x4, shared, tmp_path):
    from paddle_sr.evaluate import evaluate

    server.files["/m/rlfn_x4.pth"] = rlfn_x4
    server.cut.add("/m/rlfn_x4.pth")  # the first transfer breaks half way: fetch resumes with a Range request
    model = models.create("rlfn", scale=4, pretrained=True)
    assert [r for _, r in server.requests] == [None, f"bytes={len(rlfn_x4) // 2}-"]
    raw = tmp_path / "home" / "downloads" / "rlfn_x4.pth"
    assert raw.read_bytes() == rlfn_x4 and not model.training
    assert (tmp_path / "home" / "pretrained" / "rlfn_x4.pdparams").is_file()
    res = evaluate(model, 4, [str(shared / "benchmarks" / "Set5")], gray="basicsr", progress=False)
    assert abs(res["Set5"]["psnr"] - 32.24) < 0.01
    # cached: no network any more
    n = len(server.requests)
    models.create("rlfn", scale=4, pretrained="rlfn_x4")
    assert len(server.requests) == n


def test_a_tampered_file_is_refused_and_kept_as_bad(server, rlfn_x4, tmp_path):
    bad = bytearray(rlfn_x4)
    bad[len(bad) // 2] ^= 0xFF
    server.files["/m/rlfn_x4.pth"] = bytes(bad)
    with pytest.raises(SRError, match=r"rlfn_x4.pth failed verification \(sha256 .*kept as .*rlfn_x4.pth.bad"):
        models.create("rlfn", scale=4, pretrained=True)
    downloads = tmp_path / "home" / "downloads"
    assert (downloads / "rlfn_x4.pth.bad").is_file() and not (downloads / "rlfn_x4.pth").exists()
    assert not (tmp_path / "home" / "pretrained" / "rlfn_x4.pdparams").exists()


def test_404_html_and_redirects(server, rlfn_x4, tmp_path):
    with pytest.raises(SRError, match=r"answered HTTP 404.*PADDLE_SR_WEIGHTS"):
        pretrained.weights_path("rlfn_x4")
    server.html.add("/m/rlfn_x4.pth")
    with pytest.raises(SRError, match="returned a web page instead of rlfn_x4.pth"):
        pretrained.weights_path("rlfn_x4")
    server.html.clear()
    server.redirect["/m/rlfn_x4.pth"] = "/elsewhere/rlfn_x4.pth"
    server.files["/elsewhere/rlfn_x4.pth"] = rlfn_x4
    assert Path(pretrained.weights_path("rlfn_x4")).is_file()


def test_a_local_copy_stands_in_for_the_download_and_is_checked(shared, tmp_path, monkeypatch):
    monkeypatch.setenv("PADDLE_SR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PADDLE_SR_MIRROR", "http://127.0.0.1:9/nothing-listens-here")
    monkeypatch.setenv("PADDLE_SR_WEIGHTS", str(shared / "weights"))
    path = pretrained.weights_path("official", "rlfn", 2)
    assert path.endswith("rlfn_x2.pdparams") and not (tmp_path / "home" / "downloads").exists()
    fake = tmp_path / "copy"
    fake.mkdir()
    (fake / "rlfn_s_x2.pth").write_bytes(b"not the file")
    with pytest.raises(SRError, match=r"rlfn_s_x2.pth is not the published rlfn_s_x2.pth \(size|sha256"):
        pretrained.weights_path("rlfn_s_x2", source=str(fake))


def test_ids_and_models_must_agree():
    with pytest.raises(SRError, match="checkpoint rlfn_x4 is for --model rlfn --scale 4, not --model rlfn --scale 2"):
        pretrained.get("official:rlfn_x4", "rlfn", 2)
    with pytest.raises(SRError, match="no official checkpoint is known for rdn x4"):
        pretrained.get("official", "rdn", 4)
    with pytest.raises(SRError, match="unknown checkpoint id 'nope'"):
        models.create("rlfn", scale=4, pretrained="nope")
    with pytest.raises(SRError, match="built with the defaults, not"):
        models.create("rlfn", scale=4, pretrained=True, feature_channels=8)


def test_a_pickle_that_runs_code_is_refused_on_the_pretrained_path(server, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    blob = tmp_path / "evil.pth"
    with zipfile.ZipFile(blob, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"conv_1.weight": Evil()}, protocol=2))
    data = blob.read_bytes()
    e = pretrained.Entry("evil_x4", "rlfn", 4, "https://example.invalid/evil.pth", hashlib.sha256(data).hexdigest(),
                         "nowhere", "none")
    monkeypatch.setattr(catalogue, "ENTRIES", catalogue.ENTRIES + [e])
    monkeypatch.setitem(pretrained.BY_ID, "evil_x4", e)
    server.files["/m/evil.pth"] = data
    with pytest.raises(SRError):
        pretrained.weights_path("evil_x4")
    assert not marker.exists()


def test_the_cli_lists_the_table(tmp_path):
    env = dict(os.environ, PADDLE_SR_HOME=str(tmp_path))
    res = subprocess.run([sys.executable, "-m", "paddle_sr.pretrained"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert any(line.startswith("rlfn_x4 ") and " no " in line and "32.24" in line for line in lines)
    ids = {line.split()[0] for line in lines[2:]}
    assert {"rlfn_x2", "rlfn_x4", "rlfn_s_x2", "rlfn_s_x4", "rlfn_ntire_x4"} <= ids
    assert np.all([e.sha256 and len(e.sha256) == 64 for e in pretrained.ENTRIES])


def test_weights_official_in_the_command_line_tools(shared, tmp_path):
    """evaluate / predict / export take --weights official (here from a local copy: no network)."""
    env = dict(os.environ, PADDLE_SR_HOME=str(tmp_path / "home"), PADDLE_SR_WEIGHTS=str(shared / "weights"),
               PADDLE_SR_MIRROR="http://127.0.0.1:9/none")
    res = subprocess.run([sys.executable, "-m", "paddle_sr.evaluate", "--model", "rlfn", "--scale", "4", "--weights",
                          "official", "--gray", "basicsr", "--quiet", "--data", str(shared / "benchmarks" / "Set5")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    row = [line.split() for line in res.stdout.splitlines() if line.startswith("Set5")][0]
    assert abs(float(row[1]) - 32.24) < 0.01
    photo = tmp_path / "p.png"
    from PIL import Image
    Image.fromarray((np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)).save(photo)
    res = subprocess.run([sys.executable, "-m", "paddle_sr.predict", "--model", "rlfn", "--scale", "4", "--weights",
                          "official:rlfn_x4", "--quiet", str(photo), "--out", str(tmp_path / "sr")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert Image.open(tmp_path / "sr" / "p_x4.png").size == (96, 80)
    res = subprocess.run([sys.executable, "-m", "paddle_sr.predict", "--model", "rlfn", "--scale", "2", "--weights",
                          "official:rlfn_x4", "--quiet", str(photo), "--out", str(tmp_path / "sr2")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "checkpoint rlfn_x4 is for --model rlfn --scale 4" in res.stderr


def test_a_download_error_names_the_url_once(server, tmp_path, monkeypatch):
    with pytest.raises(SRError, match=r"answered HTTP 404") as e:
        pretrained.weights_path("rlfn_x4")
    mirrored = server.url + "/m/rlfn_x4.pth"
    assert str(e.value).count(mirrored) == 1
    # with a mirror the authors' URL is named too, as a second place to get the file
    assert str(e.value).count(pretrained.get("rlfn_x4").url) == 1
    monkeypatch.setenv("PADDLE_SR_MIRROR", "http://127.0.0.1:9/none")  # nothing listens: cannot download
    with pytest.raises(SRError, match=r"cannot download rlfn_x4.pth") as e:
        pretrained.weights_path("rlfn_x4")
    assert str(e.value).count("http://127.0.0.1:9/none/rlfn_x4.pth") == 1
    monkeypatch.delenv("PADDLE_SR_MIRROR")
    monkeypatch.setattr(download.urllib.request, "urlopen", _refuse_connection)
    with pytest.raises(SRError, match=r"cannot download rlfn_x4.pth") as e:
        pretrained.weights_path("rlfn_x4")
    assert str(e.value).count(pretrained.get("rlfn_x4").url) == 1


def _refuse_connection(*args, **kwargs):
    raise download.urllib.error.URLError("connection refused (test)")


def test_a_mistyped_weights_folder_is_an_error_naming_the_variable(shared, tmp_path, monkeypatch):
    monkeypatch.setenv("PADDLE_SR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PADDLE_SR_MIRROR", "http://127.0.0.1:9/nothing-listens-here")
    typo = str(shared / "weigths")
    monkeypatch.setenv("PADDLE_SR_WEIGHTS", os.pathsep.join([str(shared / "weights"), typo]))
    with pytest.raises(SRError, match=rf"PADDLE_SR_WEIGHTS names {typo}, which does not exist"):
        pretrained.weights_path("rlfn_x2")
    # the command line: one line, exit 2
    env = dict(os.environ, PADDLE_SR_WEIGHTS=typo, PADDLE_SR_HOME=str(tmp_path / "home2"))
    r = subprocess.run([sys.executable, "-m", "paddle_sr.pretrained", "rlfn_x2"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "error: PADDLE_SR_WEIGHTS names" in r.stderr, r.stderr
    # reproduce --weights-dir puts its folder there: a typo is named as the option
    r = subprocess.run([sys.executable, "-m", "paddle_sr.reproduce", "--data", str(tmp_path), "--ids", "rlfn_x2",
                        "--weights-dir", typo], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and f"error: --weights-dir {typo} does not exist" in r.stderr, r.stderr


def test_an_unwritable_cache_names_paddle_sr_home(server, rlfn_x4, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("a file where the cache folder should be")  # unwritable, also for root
    monkeypatch.setenv("PADDLE_SR_HOME", str(tmp_path / "file" / "cache"))
    server.files["/m/rlfn_x4.pth"] = rlfn_x4
    with pytest.raises(SRError, match=r"cannot write the weights cache .*set PADDLE_SR_HOME to a folder"):
        pretrained.weights_path("rlfn_x4")
    assert not server.requests  # found before any download
