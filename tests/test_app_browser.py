"""End to end: ``python -m paddle_sr.app`` on 127.0.0.1, driven by a real headless Chromium (Playwright).

Set-up installs what is missing: Gradio (``requirements-app.txt``) and Playwright into this Python,
Debian's ``chromium`` with apt-get (as root). It skips, saying why, only where the browser cannot be
installed. The screenshots are written under the test's tmp folder.
"""
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("PADDLE_SR_CHROMIUM", "/usr/bin/chromium")
TINY_RDN = {"num_features": 8, "num_blocks": 2, "num_layers": 2, "growth_rate": 4}


def _pip(*args):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *args], check=True, cwd=ROOT, timeout=900)


def _importable(name):
    return subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def browser_tools():
    """Gradio, Playwright and a Chromium binary, installed when missing."""
    if not _importable("gradio"):
        _pip("-r", str(ROOT / "requirements-app.txt"))
    if not _importable("playwright.sync_api"):
        _pip("playwright")
    if not os.path.exists(CHROMIUM):
        apt = shutil.which("apt-get")
        if apt is None or os.geteuid() != 0:
            pytest.skip(f"{CHROMIUM} is missing and cannot be installed here (needs apt-get as root): "
                        f"install Debian's chromium or set PADDLE_SR_CHROMIUM")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run([apt, "update", "-qq"], env=env, timeout=600, capture_output=True)
        done = subprocess.run([apt, "install", "-y", "-q", "chromium"], env=env, timeout=900, capture_output=True,
                              text=True)
        if done.returncode != 0 or not os.path.exists(CHROMIUM):
            pytest.skip(f"apt-get install chromium failed: {done.stderr.strip()[-300:]}")
    return CHROMIUM


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(browser_tools, tmp_path_factory):
    """The app on a free port of 127.0.0.1, offering one tiny demo run folder, with a 60,000-pixel cap."""
    from paddle_sr import train

    runs = tmp_path_factory.mktemp("output")
    opts = dict(iterations=2, batch_size=2, patch_size=8, val_every=2, val_max_size=32, progress="false",
                output=str(runs), model_kwargs=json.dumps(TINY_RDN))
    assert train.main(["demo"] + [f"--{k}={v}" for k, v in opts.items()]) == 0
    port = _free_port()
    log = open(tmp_path_factory.mktemp("app") / "app.log", "w+")
    env = {k: v for k, v in os.environ.items() if k != "PADDLE_SR_WEIGHTS"}
    env.update(PADDLE_SR_HOME=str(tmp_path_factory.mktemp("home")), GRADIO_ANALYTICS_ENABLED="False",
               CUDA_VISIBLE_DEVICES="")
    proc = subprocess.Popen([sys.executable, "-m", "paddle_sr.app", "--server-name", "127.0.0.1", "--port", str(port),
                             "--output", str(runs), "--max-pixels", "60000"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    log.seek(0)
                    pytest.fail(f"the app did not start (exit {proc.poll()}):\n{log.read()[-3000:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture()
def page(app_url, browser_tools):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_tools, args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.set_default_timeout(60_000)
            pg.goto(app_url)
            pg.wait_for_selector("#run")
            yield pg
        finally:
            browser.close()


def _image(page, selector):
    src = page.get_attribute(selector, "src")
    body = page.request.get(src).body()
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))


def _upload(page, path):
    page.set_input_files("#upload input[type=file]", str(path))


def test_upscale_an_uploaded_image_in_a_real_browser(page, tmp_path):
    from paddle_sr.data.sources import _embedded_table

    photo = tmp_path / "cat.png"
    Image.open(dict(_embedded_table("val"))["chelsea"]).convert("RGB").crop((150, 80, 270, 170)).save(photo)
    _upload(page, photo)
    page.wait_for_selector("#input-view img")
    assert "Input 120x90" in page.inner_text("#status")
    page.click("#run")
    page.wait_for_selector("#out-a img")
    status = page.inner_text("#status")
    assert "x2" in status and "240x180" in status and "run demo_x2" in status
    sr, bic = _image(page, "#out-a img"), _image(page, "#out-bicubic img")
    assert sr.shape == bic.shape == (180, 240, 3)
    assert np.abs(sr.astype(int) - bic.astype(int)).mean() > 1  # the model's result, not bicubic again
    page.wait_for_selector("#zoom img")  # the synchronised zoom filled in
    page.wait_for_selector("#downloads a")
    page.screenshot(path=str(tmp_path / "upscale.png"), full_page=True)
    assert (tmp_path / "upscale.png").stat().st_size > 10_000

    page.click("#mode label:has-text('Degrade then restore')")  # scores against the upload, evaluate's protocol
    page.click("#run")
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('PSNR')")
    status = page.inner_text("#status")
    assert "120x90" in status and "HR modcrop, LR MATLAB bicubic" in status and "border 2" in status
    page.screenshot(path=str(tmp_path / "degrade.png"), full_page=True)
    # the result panel is labelled with the model's name, not "Model"
    assert "run demo_x2" in page.inner_text("#out-a") and "Bicubic (MATLAB)" in page.inner_text("#out-bicubic")

    # a failing run empties the result panels and downloads: no old result stays under the new message
    fake = tmp_path / "holiday.png"
    fake.write_text("not a picture\n")
    page.click("#upload button[aria-label='Clear']")  # empty the upload box (the last good image stays picked)
    _upload(page, fake)
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('cannot read image')")
    page.click("#run")
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('upload an image')")
    page.wait_for_function("() => !document.querySelector('#out-a img') && !document.querySelector('#downloads a')")


def test_bad_uploads_give_a_message_in_the_page(page, tmp_path):
    fake = tmp_path / "holiday.png"
    fake.write_text("this is a text file, not a picture\n")
    _upload(page, fake)
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('cannot read image')")
    assert "holiday.png" in page.inner_text("#status") and "Traceback" not in page.content()

    big = tmp_path / "big.png"
    Image.new("RGB", (400, 300), (90, 120, 200)).save(big)
    _upload(page, big)
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('--max-pixels')")
    text = page.inner_text("#status")
    assert "400x300 = 120,000 pixels" in text and "--tile" in text
    page.click("#run")  # the refused file was taken out: running asks for an image, the page stays usable
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('upload an image')")
    page.screenshot(path=str(tmp_path / "errors.png"), full_page=True)
