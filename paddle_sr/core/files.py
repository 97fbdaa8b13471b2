"""Files that are never torn: ``atomic_write`` (any file, optionally refusing to replace), ``atomic_save`` (Paddle
objects), ``atomic_write_json``, and the checks every tool makes before writing (``check_writable``,
``refuse_existing``: one overwrite rule, ``--force`` to lift it).
"""
import os
import tempfile

import paddle

from paddle_sr.core.errors import SRError


def _umask_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path, write, suffix="", replace=True):
    """Call ``write(tmp_path)``, fsync, give the file normal umask permissions, then ``os.replace`` it
    over ``path``: readers see the old file or the whole new one, never a torn one.

    ``replace=False`` (a tool without ``--force``): the last step is a hard link, which fails when ``path``
    exists, so a file that another process wrote meanwhile (two ``predict`` runs into one folder) is never
    replaced: SRError, the other file kept. (File systems without hard links: a check, then the rename.)

    ``mkstemp`` creates files 0600; left so, outputs in shared folders would be unreadable to others,
    so the temporary file gets ``0666 & ~umask`` (what ``open(path, 'w')`` would give) before the rename.
    A process killed mid-write leaves the previous file intact (plus at most a stray temporary).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise SRError(f"{path} is an existing folder; name the file to write (e.g. {os.path.join(path, 'out' + suffix)})")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # ``NAME.<random>.tmp``: no image extension, so a stray one is never read back as an input image
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, _umask_mode())
        if replace:
            os.replace(tmp, path)
        else:
            _place_new(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError) and e.errno is not None and e.filename in (None, tmp):
            # A failed write (disk full) names no file, a failed rename the temporary: name the target.
            raise OSError(e.errno, e.strerror or str(e), path) from None
        raise
    return path


def _place_new(tmp, path):
    import errno

    try:
        os.link(tmp, path)
    except FileExistsError:
        raise SRError(f"{path} was written by another process while this one worked (two runs into one output "
                      f"folder?); it is kept. Pass --force to overwrite outputs") from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        if os.path.exists(path):  # no hard links here: as close as a rename gets
            raise SRError(f"{path} was written by another process while this one worked; it is kept. Pass "
                          f"--force to overwrite outputs") from None
        os.replace(tmp, path)
        return
    os.remove(tmp)


def atomic_save(obj, path):
    """``paddle.save`` through ``atomic_write`` (temporary file in the same folder, fsync, ``os.replace``)."""
    return atomic_write(path, lambda tmp: paddle.save(obj, tmp), ".pdparams")


def atomic_write_json(obj, path):
    """Write ``obj`` as JSON to ``path`` through ``atomic_write``."""
    import json

    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1)
    return atomic_write(path, write, ".json")


def check_writable(path, what="output", folder=False):
    """SRError unless ``path`` can be written, checked before any work is done.

    ``folder=True``: ``path`` is a folder to write files into (it may not exist yet); else a file
    (its folder may not exist yet; an existing folder in its place is an error). The nearest existing
    ancestor must be a folder that accepts a new file: a small probe file is written, fsynced and
    removed, so a read-only file system, missing permissions (also for root on such a file system) or
    a full disk are found before the work rather than after it.
    """
    path = os.path.abspath(os.fspath(path))
    if folder and os.path.exists(path) and not os.path.isdir(path):
        raise SRError(f"{what} {path} is an existing file, not a folder; name a folder for the results")
    if not folder and os.path.isdir(path):
        raise SRError(f"{what} {path} is an existing folder; name the file to write inside it")
    probe_in = path if folder else os.path.dirname(path)
    while not os.path.exists(probe_in):
        probe_in = os.path.dirname(probe_in)
    if not os.path.isdir(probe_in):
        raise SRError(f"cannot write {what} {path}: {probe_in} is a file, not a folder; choose another path")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".paddle_sr-write-check.", dir=probe_in)
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            os.remove(tmp)
    except OSError as e:
        from paddle_sr.core.errors import os_error_message

        raise SRError(f"cannot write {what} {path}: {os_error_message(e)}") from None


def refuse_existing(paths, how="--force", other="another path"):
    """SRError naming the outputs that exist already (the suite's one overwrite rule: a tool never replaces
    a file unless told, ``how`` = the option or argument that tells it); checked before any work."""
    existing = [os.fspath(p) for p in paths if os.path.exists(p)]
    if existing:
        more = f" (and {len(existing) - 1} more output(s))" if len(existing) > 1 else ""
        raise SRError(f"{existing[0]}{more} already exists; pass {how} to overwrite it, or choose {other}")
