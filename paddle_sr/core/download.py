"""Resumable, checked downloads (no paddle import): the data scripts' archives and the pretrained weights.

- ``NAME.part`` is a download in progress; calling ``fetch`` again resumes it with an HTTP Range
  request (a server that ignores Range makes it start over, which is detected and said);
- ``NAME`` appears only after the size and checksum were verified; a file that fails is renamed
  ``NAME.bad`` (kept for inspection, never reused) and the call ends in one clear SRError;
- a web page served instead of the file (a quota, sign-in or moved-file page) is refused.

``fetch`` takes any object with ``name``, ``url`` and optional ``size`` / ``sha256`` / ``md5``
attributes (``data_scripts.download.Archive``, ``paddle_sr.pretrained.Entry``).
"""
import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from paddle_sr.core.errors import SRError

CHUNK = 1 << 20


RETRY_WAIT = 2.0  # seconds before the first automatic resume (doubles, at most 8x); tests set 0


USER_AGENT = "paddle_sr/0.1 (python urllib)"


# How to get a file another way, for the messages; the data scripts and pretrained pass their own.
ELSEWHERE = "fetch it another way and pass the folder holding it"


def log(msg):
    print(msg, flush=True)


def human(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0


def file_digest(path, algo):
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def folder_md5(folder):
    """deepinv's folder checksum: md5 over the per-file md5 hex digests, files sorted by name."""
    h = hashlib.md5()
    for name in sorted(os.listdir(folder)):
        h.update(file_digest(os.path.join(folder, name), "md5").encode())
    return h.hexdigest()


def check_file(path, size=None, sha256=None, md5=None):
    """None if ``path`` matches every known property, else a sentence saying what differs."""
    actual = os.path.getsize(path)
    if size is not None and actual != size:
        return f"size {actual} bytes, expected {size}"
    for algo, want in (("sha256", sha256), ("md5", md5)):
        if want:
            got = file_digest(path, algo)
            if got != want.lower():
                return f"{algo} {got}, expected {want}"
    return None


def describe_checks(a):
    known = [k for k in ("sha256", "md5") if getattr(a, k)]
    if known:
        return f"{'+'.join(known)} checked"
    if a.size:
        return "no checksum published; size checked"
    return "no checksum or size published; completeness checked against Content-Length"


def set_aside(path):
    """Rename a failed file to ``*.bad`` (replacing an older one) and return the new path."""
    bad = str(path)[:-len(".part")] + ".bad" if str(path).endswith(".part") else f"{path}.bad"
    os.replace(path, bad)
    return bad


def fetch(archive, folder, retries=3, timeout=60, elsewhere=ELSEWHERE):
    """Download ``archive`` into ``folder`` (resuming ``NAME.part``), verify it, return its path.

    An already verified ``NAME`` is reused without network access. Network failures that keep the
    partial file resumable end in SRError telling the user to rerun; a checksum mismatch moves the
    file to ``NAME.bad`` and ends in SRError.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / archive.name
    part = folder / (archive.name + ".part")
    if dest.is_file():
        problem = check_file(dest, archive.size, archive.sha256, archive.md5)
        if problem is None:
            log(f"{archive.name}: already downloaded")
            return dest
        bad = set_aside(dest)
        raise SRError(f"{dest} is damaged ({problem}); moved it to {bad}. Rerun the command to download it again")
    attempt = 0
    while True:
        try:
            total = _download(archive, part, timeout, elsewhere)
            break
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError) as e:
            reason = getattr(e, "reason", None) or e
            have = part.stat().st_size if part.exists() else 0
            if not have or attempt >= retries:
                host = urllib.parse.urlsplit(archive.url).netloc
                if not have:  # the URL once: it names the host too
                    raise SRError(f"cannot download {archive.name} from {archive.url} ({reason}); check the internet "
                                  f"connection or the URL, or {elsewhere}") from None
                raise SRError(f"download of {archive.name} from {host} was interrupted after {human(have)} "
                              f"({reason}); rerun the same command to resume from {part}") from None
            attempt += 1
            log(f"{archive.name}: connection lost after {human(have)} ({reason}); resuming "
                f"(attempt {attempt} of {retries})")
            time.sleep(RETRY_WAIT * min(2 ** (attempt - 1), 8))
    problem = check_file(part, archive.size or total, archive.sha256, archive.md5)
    if problem is not None:
        bad = set_aside(part)
        raise SRError(f"{archive.name} failed verification ({problem}); the file was kept as {bad} and not "
                      f"used. Rerun to download again; if it fails again the server's file changed: {elsewhere}")
    os.replace(part, dest)
    log(f"{archive.name}: downloaded {human(dest.stat().st_size)}, {describe_checks(archive)}")
    return dest


def _download(archive, part, timeout, elsewhere=ELSEWHERE):
    """Append the missing bytes to ``part``; return the total size the server announced (or None)."""
    have = part.stat().st_size if part.exists() else 0
    if archive.size is not None and have > archive.size:
        log(f"{archive.name}: partial file is larger than the archive; starting over ({set_aside(part)})")
        have = 0
    if archive.size is not None and have == archive.size:
        return archive.size
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    req = urllib.request.Request(archive.url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # asked for bytes past the end: the part file may be complete
            total = _total_from_content_range(e.headers.get("Content-Range"))
            if total == have:
                return total
            log(f"{archive.name}: server refused to resume; starting over ({set_aside(part)})")
            return _download(archive, part, timeout, elsewhere)
        raise SRError(f"{archive.url} answered HTTP {e.code} {e.reason}; the file may have moved: {elsewhere}") from None
    with resp:
        ctype = resp.headers.get("Content-Type", "")
        if ctype.startswith("text/html"):
            raise SRError(f"{archive.url} returned a web page instead of {archive.name} (a quota or sign-in page, "
                          f"or a moved file); download it in a browser and {elsewhere.split(' and ', 1)[-1]}")
        if have and resp.status == 206:
            crange = resp.headers.get("Content-Range")
            start = _start_from_content_range(crange) if crange else have  # no Content-Range: from our Range
            if start != have:
                raise SRError(f"{archive.url} resumed at byte {start}, not {have}; delete {part} and rerun")
            length = resp.headers.get("Content-Length")
            total = (_total_from_content_range(crange) if crange else
                     have + int(length) if length and length.isdigit() else None)
            mode = "ab"
            log(f"{archive.name}: resuming at {human(have)}")
        else:
            if have:
                log(f"{archive.name}: server does not support resuming; starting over")
            have, mode = 0, "wb"
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if total is None:
            total = archive.size
        size_note = f" of {human(total)}" if total else ""
        log(f"{archive.name}: downloading{size_note} from {urllib.parse.urlsplit(archive.url).netloc}")
        done, next_report, t0 = have, have, time.time()
        with open(part, mode) as f:
            while True:
                block = resp.read(CHUNK)
                if not block:
                    break
                f.write(block)
                done += len(block)
                if total and done >= next_report:
                    log(f"  {archive.name}: {100.0 * done / total:5.1f}% ({human(done)}, "
                        f"{human((done - have) / max(time.time() - t0, 1e-3))}/s)")
                    next_report = done + max(total // 20, CHUNK)
    if total is not None and done < total:
        raise ConnectionError(f"connection closed at {human(done)} of {human(total)}")
    return total


def _total_from_content_range(value):
    try:
        total = (value or "").rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None
    except IndexError:
        return None


def _start_from_content_range(value):
    try:
        return int(value.split()[1].split("-")[0])
    except (AttributeError, IndexError, ValueError):
        return None


def home():
    return os.path.expanduser(os.environ.get("PADDLE_SR_HOME") or os.path.join("~", ".cache", "paddle_sr"))
