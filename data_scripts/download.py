"""Shared pieces of the data scripts: resumable checked downloads, safe unpacking, completion markers.

Every script keeps its archives in ``ROOT/downloads``:

- ``NAME.part`` is a download in progress; rerunning the same command resumes it with an HTTP Range
  request (a server that ignores Range makes it start over, which is detected and said);
- ``NAME`` appears only after the size and checksum were verified; a file that fails is renamed
  ``NAME.bad`` (kept for inspection, never reused) and the command stops with one clear line;
- ``NAME.unpacked`` lists the files an archive put in place, so a rerun skips a part whose files
  are all there, without touching the network.

Nothing here imports paddle: downloading must work before the suite's dependencies are installed.
"""
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from paddle_sr.core import download as _dl  # the downloading half lives in the package
from paddle_sr.core.download import CHUNK, check_file, describe_checks, file_digest, folder_md5, human, log, set_aside  # noqa: F401,E501
from paddle_sr.core.errors import SRError

# What the data scripts tell a user whose download failed.
ELSEWHERE = ("fetch it from the official page named in --help and pass the folder holding it with "
             "--from-aistudio DIR")


def fetch(archive, folder, retries=3, timeout=60):
    """``paddle_sr.download.fetch`` with the data scripts' advice in its messages."""
    return _dl.fetch(archive, folder, retries=retries, timeout=timeout, elsewhere=ELSEWHERE)


@dataclass
class Archive:
    """One downloadable archive and what it must put where.

    Args:
        name: file name in ``ROOT/downloads`` (and the name searched for in local folders).
        url: where to download it from.
        size: byte size, when known; sha256 / md5: hex digests, when known (any known one is checked).
        target: folder, relative to ROOT, that receives the images (e.g. ``DIV2K_train_LR_bicubic/X2``).
        probe: a file name that identifies the right folder inside the archive (e.g. ``0001x2.png``).
        expected: the official file names of ``target``; a folder that already holds all of them counts
            as complete even without a marker (unpacked by hand), and fewer after unpacking is a warning.
        content_md5: folder checksum of the unpacked images (md5 of the concatenated per-file md5 hex
            digests, files sorted by name; deepinv's ``calculate_md5_for_folder``), for archives whose
            own checksum is unknown.
    """

    name: str
    url: str
    target: str
    probe: str
    size: int = None
    sha256: str = None
    md5: str = None
    expected: tuple = field(default=(), repr=False)
    content_md5: str = None


# ---------------------------------------------------------------------------------------------
# Unpacking
# ---------------------------------------------------------------------------------------------

def _safe_member(name):
    """The member name as a relative POSIX path, or None when it would leave the target folder."""
    name = name.replace("\\", "/")
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        return None
    return p


def safe_extract(path, dest):
    """Unpack a zip or tar archive into ``dest``; refuse members that would land outside it.

    Tar links, devices and FIFOs are refused too (a link could point outside ``dest``).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                rel = _safe_member(info.filename)
                if rel is None:
                    raise SRError(f"{path} contains the unsafe path {info.filename!r}; refusing to unpack it")
                out = dest.joinpath(*rel.parts)
                if info.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with z.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
        return
    try:
        tf = tarfile.open(path)
    except tarfile.TarError:
        raise SRError(f"{path} is not a readable zip or tar archive (damaged or incomplete?); delete it "
                      f"and rerun, or pass the right file") from None
    with tf:
        for m in tf.getmembers():
            rel = _safe_member(m.name)
            if rel is None or not (m.isfile() or m.isdir()):
                raise SRError(f"{path} contains the unsafe member {m.name!r} (path outside the folder, link or "
                              f"device); refusing to unpack it")
        try:
            tf.extractall(dest, filter="data")
        except TypeError:  # Python < 3.8.17 / 3.11.4 has no filter; the members were checked above
            tf.extractall(dest)


def find_folder(top, probe):
    """The folder under ``top`` that holds the file ``probe`` (macOS ``__MACOSX`` copies ignored)."""
    hits = [Path(d) for d, _, files in os.walk(top) if probe in files and "__MACOSX" not in Path(d).parts]
    return min(hits, key=lambda d: len(d.parts)) if hits else None


def marker_path(root, archive):
    return Path(root) / "downloads" / (archive.name + ".unpacked")


def is_complete(root, archive):
    """True when the marker's files (or all official names) are present in ``ROOT/target``."""
    target = Path(root) / archive.target
    marker = marker_path(root, archive)
    if marker.is_file():
        names = [n for n in marker.read_text().splitlines() if n]
        if names and all((target / n).is_file() for n in names):
            return True
    return bool(archive.expected) and target.is_dir() and all((target / n).is_file() for n in archive.expected)


def unpack(path, root, archive, own_file=True):
    """Unpack ``path`` and move the folder holding ``archive.probe`` to ``ROOT/archive.target``.

    Unpacking goes to a scratch folder inside ROOT first, so an interrupted run never leaves a
    half-filled target that looks complete; files already in the target are replaced. A
    ``content_md5`` mismatch refuses the archive (renamed ``.bad`` when ``own_file``).
    """
    root = Path(root)
    target = root / archive.target
    log(f"{archive.name}: unpacking into {target}")
    for stale in root.glob(".unpack-*"):  # left by an unpack that was killed
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=".unpack-", dir=root) as tmp:
        try:
            safe_extract(path, tmp)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as e:
            raise SRError(f"cannot unpack {path}: {e}. If it is damaged, delete it and rerun; if the disk is "
                          f"full, free space in {root}") from None
        found = find_folder(tmp, archive.probe)
        if found is None:
            raise SRError(f"{path} holds no {archive.probe}, so it is not the {archive.name} archive expected "
                          f"here; pass the right file")
        if archive.content_md5:
            got = folder_md5(found)
            if got != archive.content_md5:
                note = f"; moved it to {set_aside(path)}" if own_file else ""
                raise SRError(f"the images in {path} differ from the published ones (folder md5 {got}, expected "
                              f"{archive.content_md5}){note}. Rerun to download again, or pass another copy")
        names = sorted(os.listdir(found))
        target.mkdir(parents=True, exist_ok=True)
        for n in names:
            os.replace(found / n, target / n)
    marker = marker_path(root, archive)
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp_marker = marker.with_suffix(".tmp")
    tmp_marker.write_text("\n".join(names) + "\n")
    os.replace(tmp_marker, marker)
    if archive.expected and len(archive.expected) != len(names):
        log(f"warning: {target} received {len(names)} files; the official archive has {len(archive.expected)}")
    log(f"{archive.name}: {len(names)} files in {target}")
    return target


def find_local(folder, name):
    """``folder/**/name`` (AI Studio mounts data sets as /home/aistudio/data/dataNNNN/NAME), or None."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SRError(f"{folder} does not exist; on AI Studio add the data set to the project and pass its "
                      f"folder, e.g. /home/aistudio/data/data12345")
    hits = sorted(folder.rglob(name))
    return hits[0] if hits else None


def obtain(archive, root, local_dir=None, local_file=None, verify=True, keep=False, retries=3, timeout=60):
    """Make ``ROOT/archive.target`` complete: skip, unpack a local archive, or download and unpack.

    ``local_file`` / ``local_dir`` are the user's files: checked like downloads, never renamed or
    deleted. ``verify=False`` drops the published size/checksums (a mirror or repack the user
    trusts). A downloaded archive is deleted after unpacking unless ``keep``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if not verify:  # a mirror or repack the user trusts: only completeness and the layout are checked
        archive = replace(archive, size=None, sha256=None, md5=None, content_md5=None)
    if is_complete(root, archive):
        log(f"{archive.target}: complete, skipped")
        return root / archive.target
    if local_dir is not None and local_file is None:
        local_file = find_local(local_dir, archive.name)
        if local_file is None:
            found = sorted(p.name for p in Path(local_dir).rglob("*") if p.suffix in (".zip", ".tar", ".gz", ".tgz"))
            raise SRError(f"no {archive.name} under {local_dir} (archives there: {', '.join(found) or 'none'}); "
                          f"add the data set that holds it, or leave --from-aistudio out to download it")
    if local_file is not None:
        local_file = Path(local_file)
        if not local_file.is_file():
            raise SRError(f"{local_file} does not exist; pass the path of the downloaded {archive.name}")
        if archive.size or archive.sha256 or archive.md5:
            log(f"{local_file}: verifying ({describe_checks(archive)})")
            problem = check_file(local_file, archive.size, archive.sha256, archive.md5)
            if problem is not None:
                raise SRError(f"{local_file} is not the official {archive.name} ({problem}); if it is a repack "
                              f"you trust, rerun with --no-verify (the unpacked layout is still checked)")
        return unpack(local_file, root, archive, own_file=False)
    path = fetch(archive, root / "downloads", retries=retries, timeout=timeout)
    target = unpack(path, root, archive, own_file=True)
    if not keep:
        os.remove(path)
    return target


def add_common_args(parser):
    parser.add_argument("--root", required=True, help="folder that receives the data set (created if missing)")
    parser.add_argument("--keep-archives", action="store_true",
                        help="keep downloaded archives in ROOT/downloads after unpacking (default: delete them)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the published size/checksum checks (a mirror or repack you trust); "
                             "completeness and the unpacked layout are still checked")
    parser.add_argument("--retries", type=int, default=3, help="automatic resumes after a dropped connection")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds without data before giving up")
