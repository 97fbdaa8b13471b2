"""A persistent cache of exported models, so a new process loads the predictor instead of exporting again.

Exporting (``paddle_sr.export.export``: ``paddle.jit.to_static`` + ``jit.save``) costs 0.5 s for
RLFN_ntire and about 30 s for RCAN, and used to be paid again in every process (each ``predict`` or
``evaluate`` run, each notebook restart). ``InferenceEngine.from_model`` now keeps each export in

    $PADDLE_SR_EXPORT_CACHE   (default: $PADDLE_SR_HOME/exports, i.e. ~/.cache/paddle_sr/exports)

one folder per entry, named ``<model>_x<scale>-<key>``. The key hashes everything that changes the
exported program (``facts``): model name, class and constructor arguments, a digest of the layer
structure (every sublayer's class, ``extra_repr`` and plain attributes, so e.g. EDSR's ``res_scale``
counts), the source files of the suite's (or the user's) layer classes and of ``export.py``, scale,
the weights fingerprint (``facts.fingerprint``), Paddle's version and commit, the device kind
and ``FORMAT`` (bump it when ``export`` writes a different program).

Safety:
- an entry is written in a hidden ``.tmp-*`` sibling (files fsynced, ``cache.json`` manifest with each
  file's size and blake2b last) and appears by one ``os.rename``; two processes exporting the same
  model race for that rename, the loser drops its copy and uses the winner's;
- every load checks the manifest (key and checksums) first; a half-written, damaged or foreign entry
  is never used: one warning line, then it is moved aside and rebuilt;
- a cache folder that cannot be written (read-only, full disk) gives one warning per process and the
  export goes to a temporary folder as before; hits in a read-only cache are still used.

Bounded: ``$PADDLE_SR_EXPORT_CACHE_MB`` (default 2048) megabytes; after each new entry the least
recently used ones (last use = the manifest's mtime, touched on every hit) are removed until the
cache fits. ``PADDLE_SR_EXPORT_CACHE=off`` turns the cache off. Beside the entries, ``.spent-<key>``
files hold engine auto's sum of predicted eager seconds per model (``engine_choice``), so that a model
used one photo per process still gets exported once the processes together have paid for it. List and clear it with
``python -m paddle_sr.export --cache list`` / ``--cache clear``.
"""
import errno
import hashlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import time
import warnings

from paddle_sr.core.errors import SRError

FORMAT = 1  # export format version: part of every key
DIR_ENV, LIMIT_ENV = "PADDLE_SR_EXPORT_CACHE", "PADDLE_SR_EXPORT_CACHE_MB"
DEFAULT_MB = 2048
MANIFEST = "cache.json"
STALE_S = 3600  # a .tmp-/.trash- folder older than this belongs to a crashed process
_warned = set()  # cache folders already warned about in this process
_sources = {}  # module file -> digest (source files do not change under a running process)


def folder():
    """The cache folder: ``$PADDLE_SR_EXPORT_CACHE``, else ``$PADDLE_SR_HOME/exports``; None when turned off."""
    value = os.environ.get(DIR_ENV, "").strip()
    if value.lower() in ("off", "0", "none", "false"):
        return None
    if value:
        return os.path.abspath(os.path.expanduser(value))
    from paddle_sr.core.download import home

    return os.path.abspath(os.path.join(home(), "exports"))


def limit_bytes():
    value = os.environ.get(LIMIT_ENV, "").strip()
    try:
        mb = float(value) if value else DEFAULT_MB
    except ValueError:
        raise SRError(f"{LIMIT_ENV} must be a number of megabytes, got {value!r}") from None
    if mb < 0:
        raise SRError(f"{LIMIT_ENV} must be at least 0 megabytes, got {value!r}")
    return int(mb * 1e6)


def _plain(value):
    return value is None or isinstance(value, (bool, int, float, str)) or (
        isinstance(value, (tuple, list)) and all(_plain(v) for v in value))


def _source_digest(model):
    """Digest of the source files defining the model's layer classes (outside Paddle) and of ``export.py``."""
    from paddle_sr.runtime import export_format as export_module

    files = {os.path.abspath(export_module.__file__)}
    for layer in model.sublayers(include_self=True):
        for cls in type(layer).__mro__:
            mod = sys.modules.get(cls.__module__)
            if mod is None or cls.__module__.split(".")[0] in ("paddle", "builtins"):
                continue
            try:
                files.add(os.path.abspath(inspect.getsourcefile(mod) or ""))
            except TypeError:  # a class defined in the interpreter: its repr stands for it
                files.add(repr(cls))
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(files):
        if path not in _sources:
            try:
                with open(path, "rb") as f:
                    _sources[path] = hashlib.blake2b(f.read(), digest_size=16).hexdigest()
            except OSError:
                _sources[path] = path
        h.update(path.encode() + _sources[path].encode())
    return h.hexdigest()


def _structure_digest(model):
    """Every sublayer's path, class, ``extra_repr`` and plain public attributes (``res_scale``, ...)."""
    h = hashlib.blake2b(digest_size=16)
    for name, layer in model.named_sublayers(include_self=True):
        cls = type(layer)
        attrs = sorted((k, repr(v)) for k, v in vars(layer).items()
                       if not k.startswith("_") and k != "training" and _plain(v))
        h.update(repr((name, f"{cls.__module__}.{cls.__qualname__}", layer.extra_repr(), attrs)).encode())
    return h.hexdigest()


def facts(model, weights, device):
    """What the key of ``model``'s export is made of (a JSON-able dict); ``weights``: its fingerprint."""
    import paddle

    cls = type(model)
    return {"format": FORMAT, "model": getattr(model, "sr_name", None) or cls.__name__,
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "kwargs": json.loads(json.dumps(getattr(model, "sr_kwargs", None), sort_keys=True, default=repr)),
            "scale": getattr(model, "sr_scale", None), "structure": _structure_digest(model),
            "source": _source_digest(model), "weights": weights,
            "paddle": f"{paddle.__version__} {getattr(paddle.version, 'commit', '')}".strip(), "device": device}


def key_of(f):
    return hashlib.blake2b(json.dumps(f, sort_keys=True).encode(), digest_size=12).hexdigest()


def entry_name(f):
    scale = f["scale"]
    safe = "".join(c if c.isalnum() or c in "_-." else "_" for c in str(f["model"]))[:40]
    return f"{safe}_x{scale}-{key_of(f)}"


def _file_digest(path, sync=False):
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
        if sync:
            os.fsync(fh.fileno())
    return h.hexdigest()


def check(path, key=None):
    """None when entry folder ``path`` is whole (manifest, key, every file's size and checksum), else why not."""
    try:
        with open(os.path.join(path, MANIFEST)) as fh:
            manifest = json.load(fh)
        files = manifest["files"]
        if key is not None and manifest.get("key") != key:
            return f"its manifest is for key {manifest.get('key')}, not {key}"
        for fname, want in files.items():
            p = os.path.join(path, fname)
            if not os.path.isfile(p):
                return f"{fname} is missing"
            if os.path.getsize(p) != want["size"] or _file_digest(p) != want["blake2b"]:
                return f"{fname} does not match its checksum"
        extra = set(os.listdir(path)) - set(files) - {MANIFEST}
        if extra:
            return f"it holds files the manifest does not list ({', '.join(sorted(extra))})"
        from paddle_sr.runtime.export_format import model_files

        model_files(path)
    except FileNotFoundError:
        return "it has no manifest (a half-written or foreign folder)"
    except (OSError, ValueError, KeyError, TypeError, SRError) as e:
        return f"its manifest is unreadable ({type(e).__name__}: {e})"
    return None


def lookup(f):
    """Path of the whole cache entry for facts ``f``, or None (no cache, no entry, or a damaged one: warned)."""
    root = folder()
    if root is None:
        return None
    path = os.path.join(root, entry_name(f))
    if not os.path.isdir(path):
        return None
    why = check(path, key_of(f))
    if why is not None:
        warnings.warn(f"export cache entry {path} is damaged or not the suite's ({why}); rebuilding it",
                      RuntimeWarning, stacklevel=3)
        return None
    try:
        os.utime(os.path.join(path, MANIFEST))  # last use, for LRU eviction
    except OSError:
        pass  # a read-only cache still serves its entries
    return path


def has(f):
    """Cheap: does an entry for ``f`` exist (its checksums are checked when it is loaded)?"""
    root = folder()
    return root is not None and os.path.isfile(os.path.join(root, entry_name(f), MANIFEST))


def _spent_path(root, f):
    return os.path.join(root, f".spent-{key_of(f)}")


def spent(f):
    """Predicted eager seconds earlier processes ran on the model of facts ``f`` (``remember_spent``), or 0."""
    root = folder()
    try:
        with open(_spent_path(root, f)) as fh:
            return max(0.0, float(fh.read().strip()))
    except (OSError, ValueError, TypeError):
        return 0.0


def remember_spent(f, seconds):
    """Keep ``seconds`` for the next process (engine auto's cost sum across processes); silent when read-only."""
    from paddle_sr.core.files import atomic_write

    root = folder()
    try:
        os.makedirs(root, exist_ok=True)
        def write(tmp):
            with open(tmp, "w") as fh:
                fh.write(f"{seconds:.6g}\n")
        atomic_write(_spent_path(root, f), write)
    except OSError:
        pass


def _degrade(root, err):
    if root not in _warned:
        _warned.add(root)
        warnings.warn(f"export cache {root} cannot be written ({err}); exporting to a temporary folder in this "
                      f"process (free space or make it writable, or set {DIR_ENV} to another folder)",
                      RuntimeWarning, stacklevel=4)


def _set_aside(path, root):
    """Move ``path`` out of the way with one rename (readers never see half of it), then delete it."""
    trash = os.path.join(root, f".trash-{os.getpid()}-{time.time_ns()}")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def store(model, f, export):
    """Export ``model`` into the cache entry for facts ``f`` (``export(model, folder)``); returns its path,
    or None when the cache folder cannot be written (warned once; the caller exports elsewhere)."""
    root = folder()
    if root is None:
        return None
    final = os.path.join(root, entry_name(f))
    try:
        os.makedirs(root, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".tmp-", dir=root)
    except OSError as e:
        _degrade(root, e)
        return None
    try:
        try:
            export(model, tmp)
            files = {}
            for fname in sorted(os.listdir(tmp)):
                p = os.path.join(tmp, fname)
                files[fname] = {"size": os.path.getsize(p), "blake2b": _file_digest(p, sync=True)}
            manifest = {"key": key_of(f), "facts": f, "files": files, "created": time.time()}
            with open(os.path.join(tmp, MANIFEST), "w") as fh:  # written last: its presence means whole files
                json.dump(manifest, fh, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o777 & ~_umask())
        except (OSError, SRError) as e:  # a full disk shows as OSError, or as check_writable's SRError
            if isinstance(e, SRError) and "cannot write" not in str(e):
                raise
            _degrade(root, e)
            return None
        for attempt in range(2):
            try:
                os.rename(tmp, final)
                break
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or check(final, key_of(f)) is None:
                    break  # another process published a whole entry first: use it, drop ours
                _set_aside(final, root)  # a damaged entry: replace it
        evict(keep=final)
        return final if check(final, key_of(f)) is None else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def entries(root=None):
    """[(path, size in bytes, last use, facts or None)] of the cache, least recently used first."""
    root = root or folder()
    out = []
    if root is None or not os.path.isdir(root):
        return out
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if name.startswith(".") or not os.path.isdir(path):
            continue
        size = sum(os.path.getsize(os.path.join(d, fn)) for d, _, fns in os.walk(path) for fn in fns
                   if os.path.isfile(os.path.join(d, fn)))
        manifest = os.path.join(path, MANIFEST)
        try:
            used = os.path.getmtime(manifest)
            with open(manifest) as fh:
                info = json.load(fh).get("facts")
        except (OSError, ValueError):
            used, info = os.path.getmtime(path), None
        out.append((path, size, used, info))
    return sorted(out, key=lambda e: e[2])


def _remove_stale(root):
    now = time.time()
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if name.startswith((".tmp-", ".trash-")) and now - os.path.getmtime(path) > STALE_S:
            shutil.rmtree(path, ignore_errors=True)
        elif name.startswith(".spent-") and now - os.path.getmtime(path) > 30 * 86400:
            os.remove(path)  # eager-time sums untouched for a month


def evict(keep=None, limit=None):
    """Remove least recently used entries until the cache fits ``limit`` bytes (``limit_bytes()``); never ``keep``."""
    root = folder()
    if root is None or not os.path.isdir(root):
        return []
    limit = limit_bytes() if limit is None else limit
    try:
        _remove_stale(root)
    except OSError:
        pass
    listed = entries(root)
    total = sum(e[1] for e in listed)
    removed = []
    for path, size, _, _ in listed:
        if total <= limit:
            break
        if keep is not None and os.path.abspath(path) == os.path.abspath(keep):
            continue
        _set_aside(path, root)
        total -= size
        removed.append(path)
    return removed


def clear():
    """Remove every entry (and stale temporary folders); returns (entries removed, bytes freed)."""
    root = folder()
    listed = entries(root)
    for path, _, _, _ in listed:
        _set_aside(path, root)
    if root is not None and os.path.isdir(root):
        _remove_stale(root)
        for name in os.listdir(root):
            if name.startswith(".spent-"):
                os.remove(os.path.join(root, name))
    return len(listed), sum(e[1] for e in listed)


def describe():
    """The ``--cache list`` table, as lines."""
    from paddle_sr.core.download import human

    root = folder()
    if root is None:
        return [f"export cache: off ({DIR_ENV}={os.environ.get(DIR_ENV)})"]
    listed = entries(root)
    lines = [f"export cache: {root}  ({len(listed)} {'entry' if len(listed) == 1 else 'entries'}, {human(sum(e[1] for e in listed))} of "
             f"{human(limit_bytes())}; {DIR_ENV}, {LIMIT_ENV})"]
    for path, size, used, info in reversed(listed):  # most recently used first
        info = info or {}
        what = (f"{info.get('model')} x{info.get('scale')}  paddle {str(info.get('paddle', '?')).split()[0]}  "
                f"{info.get('device')}") if info else "(no manifest: damaged or foreign, rebuilt on use)"
        lines.append(f"  {os.path.basename(path)}  {human(size):>9}  last used "
                     f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(used))}  {what}")
    return lines
