"""Weights on disk: atomic writes and loading with a clear error when a file does not fit a model.

``.pdparams`` files hold weights only and load with ``model.set_state_dict(paddle.load(p))``.
Converted official weights also carry the model's ``value_range`` buffer (see ``models.common``).
"""
import os
import tempfile

import paddle

from .errors import SRError


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
        from .errors import os_error_message

        raise SRError(f"cannot write {what} {path}: {os_error_message(e)}") from None


def refuse_existing(paths, how="--force", other="another path"):
    """SRError naming the outputs that exist already (the suite's one overwrite rule: a tool never replaces
    a file unless told, ``how`` = the option or argument that tells it); checked before any work."""
    existing = [os.fspath(p) for p in paths if os.path.exists(p)]
    if existing:
        more = f" (and {len(existing) - 1} more output(s))" if len(existing) > 1 else ""
        raise SRError(f"{existing[0]}{more} already exists; pass {how} to overwrite it, or choose {other}")


def read_state_dict(path):
    """``paddle.load`` with SRError for a missing or unreadable file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise SRError(f"weights file {path} does not exist; pass the path of a .pdparams file "
                      f"(convert official .pth files with `python -m paddle_sr.convert`)")
    try:
        state = paddle.load(path)
    except Exception as e:  # paddle raises assorted types for torn/foreign files
        raise SRError(f"cannot read weights file {path} ({type(e).__name__}: {e}); is it a .pdparams "
                      f"saved by paddle.save? Official PyTorch .pth files need `python -m paddle_sr.convert`") from None
    if not isinstance(state, dict):
        raise SRError(f"{path} holds a {type(state).__name__}, not a state dict of weights")
    if is_training_state(state):
        folder = os.path.dirname(os.path.abspath(path))
        have = [f for f in ("Best.pdparams", "Model.pdparams") if os.path.isfile(os.path.join(folder, f))]
        beside = (f"; beside it: {', '.join(os.path.join(folder, f) for f in have)}" if have
                  else "; the run writes them at its first checkpoint")
        raise SRError(f"{path} is a training state file ({STATE}: optimizer, iteration, RNG, used to resume "
                      f"training), not weights; pass the run's Best.pdparams (best validation PSNR) or "
                      f"Model.pdparams (latest){beside}")
    return state


def is_training_state(state):
    """True for the dict ``write_checkpoint`` saves as ``state.pdstate`` (not a weights file)."""
    return isinstance(state, dict) and {"iteration", "rng", "model", "optimizer"} <= set(state)


def check_state_dict(model, state, source="checkpoint"):
    """Raise SRError listing missing/unexpected keys and shape mismatches between model and state."""
    own = model.state_dict()
    # value_range (also a nested encoder's) is optional in a file: the notebooks' .pdparams
    # predate it and mean [-1, 1].
    missing = [k for k in own if k not in state and k.rsplit(".", 1)[-1] != "value_range"]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: file {list(state[k].shape)} vs model {list(own[k].shape)}"
              for k in own if k in state and list(state[k].shape) != list(own[k].shape)]
    if not (missing or unexpected or shapes):
        return
    name = getattr(model, "sr_name", type(model).__name__)
    scale = getattr(model, "sr_scale", None)
    parts = []
    for label, items in (("shape mismatches", shapes), ("missing keys", missing), ("unexpected keys", unexpected)):
        if items:
            more = f" (+{len(items) - 5} more)" if len(items) > 5 else ""
            parts.append(f"{len(items)} {label}: {'; '.join(items[:5])}{more}")
    hint = ("; it was probably saved for another scale or model configuration" if shapes and not (missing or unexpected)
            else "; it was probably saved for another model")
    target = f"model {name!r}" + (f" x{scale}" if scale is not None else "")
    raise SRError(f"{source} does not fit {target}: {' | '.join(parts)}{hint}. "
                  f"Pass the --model/--scale the weights were trained for.")


def load_weights(model, path):
    """Load a ``.pdparams`` into ``model`` after checking every key and shape; returns the model."""
    state = read_state_dict(path)
    check_state_dict(model, state, source=f"weights file {path}")
    model.set_state_dict(state)
    return model


def run_config(weights):
    """The resolved recipe (``config.json``) of the training run a weights file lies in, or None."""
    import json

    if str(weights) == "official" or str(weights).startswith("official:"):
        return None  # the authors' released weights (paddle_sr.pretrained), not a file in a run folder
    path = os.path.join(os.path.dirname(os.path.abspath(os.fspath(weights))), "config.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def model_for_weights(name, scale, weights, config=None, model_kwargs=None):
    """Registered model ``name`` x``scale`` rebuilt for ``weights`` and loaded, in eval mode.

    Weights from a training run folder (``output/<run>/Best.pdparams``) rebuild the configuration
    the run trained (its ``config.json`` ``model_kwargs``, e.g. the demo's small RDN), so a
    checkpoint never has to be described twice; other files get the registry defaults. ``config``
    (a run's resolved recipe) overrides the look-up beside the file; ``model_kwargs`` (``--arg
    KEY=VALUE``) are constructor arguments given explicitly, on top of the run's. An
    arbitrary-scale model (LIIF) does not depend on the scale, so any ``scale`` fits its run.
    ``weights='official'`` (or ``'official:ID'``) takes the authors' released checkpoint
    (``paddle_sr.pretrained``: downloaded once, verified, converted and cached).
    """
    from .models import create, scales

    if isinstance(weights, str) and (weights == "official" or weights.startswith("official:")):
        if model_kwargs:
            raise SRError(f"--weights {weights} are the authors' released weights of the default {name}; "
                          f"drop --arg {model_kwargs}")
        model = create(name, scale=scale, pretrained=True if weights == "official" else weights.split(":", 1)[1])
        model.eval()
        return model
    cfg = config if config is not None else (run_config(weights) or {})
    kwargs = {}
    if cfg.get("model"):
        fixed = scales(cfg["model"]) is not None if cfg["model"] == name else True
        if cfg["model"] != name or (fixed and cfg.get("scale") != scale):
            raise SRError(f"{weights} was trained as --model {cfg['model']} --scale {cfg.get('scale')} (its run's "
                          f"config.json), not --model {name} --scale {scale}; pass the model and scale it was trained for")
        kwargs = dict(cfg.get("model_kwargs") or {})
    kwargs.update(model_kwargs or {})
    try:
        model = create(name, scale=scale, **kwargs)
    except TypeError as e:
        raise SRError(f"model {name!r} does not accept the arguments {kwargs}: {e}; fix --arg KEY=VALUE") from None
    model = load_weights(model, weights)
    model.eval()
    return model


# ------------------------------------------------------------------------------------------------
# A training run's folder: its identity, its state file (optimizer, RNG), and repairs on resume
# ------------------------------------------------------------------------------------------------

STATE = "state.pdstate"
# A run folder with other values of these keys holds a different model: never resume into it.
IDENTITY_KEYS = ("model", "model_kwargs", "scale")
# Options that may change between invocations without a note (they steer this invocation only).
_PER_INVOCATION = ("stop_after", "max_minutes", "progress")


def open_run(cfg):
    """Run folder path and the saved state to resume from (None for a fresh run); refuses a foreign run."""
    import dataclasses
    import json

    run_dir = os.path.join(cfg.output, cfg.run)
    state_path = os.path.join(run_dir, STATE)
    if os.path.isfile(state_path):
        try:
            state = paddle.load(state_path)
        except Exception as e:  # a torn state cannot happen with atomic_save, but a foreign file can
            raise SRError(f"cannot read {state_path} ({e}); move it away or pick another --run") from None
        saved = state["config"]
        diff = [k for k in IDENTITY_KEYS if saved.get(k) != getattr(cfg, k)]
        if diff:
            what = ", ".join(f"{k}={saved.get(k)!r}" for k in diff)
            raise SRError(f"{run_dir} holds another run ({what}); it is left untouched. Pick a new folder with "
                          f"--run=NAME, or rerun with the settings of that run to resume it")
        now = dataclasses.asdict(cfg)
        changed = [k for k in now if k in saved and k not in _PER_INVOCATION
                   and json.dumps(saved[k], sort_keys=True) != json.dumps(now[k], sort_keys=True)]
        if changed:
            print(f"resuming {run_dir} with changed options: {', '.join(changed)}")
        added = [f"{k}={now[k]}" for k in now if k not in saved and k not in _PER_INVOCATION]
        if added:  # a run saved by an older version: say which newer settings now apply to it
            print(f"resuming {run_dir}, saved before these options existed; they now apply: {', '.join(added)}")
        return run_dir, state
    for f in ("Model.pdparams", "Best.pdparams"):
        if os.path.exists(os.path.join(run_dir, f)):
            raise SRError(f"{run_dir} holds {f} but no {STATE}; it is not a run this tool can resume and it is "
                          f"left untouched. Pick another folder with --run=NAME")
    return run_dir, None


LOCK = "train.lock"


def _process_start(pid):
    """A process's start time (clock ticks since boot, /proc), or None where /proc cannot tell: with the pid
    it names one process, so a pid reused by an unrelated process is not taken for the lock's owner."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid, start):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    now = _process_start(pid)
    return start is None or now is None or now == start


class RunLock:
    """``train.lock`` in a run folder while a training writes it: JSON with the owner's pid, host, process start
    time and the time it started. ``acquire`` (``with RunLock(run_dir):``) refuses a folder that another live
    training holds (SRError, exit 2), takes over a stale lock (a pid on this host that no longer runs: a killed
    training) with a note, and refuses a lock from another host with how to remove it (its process cannot be
    checked from here). The lock is created with O_EXCL and a stale one is first renamed away, so of two
    trainings racing for one folder exactly one gets it. ``release`` removes it when it is still this process's.
    """

    def __init__(self, run_dir):
        import socket

        self.run_dir, self.path = run_dir, os.path.join(run_dir, LOCK)
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.held = self.made_dir = False

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

    def _describe(self, owner):
        return (f"pid {owner.get('pid')} on {owner.get('host')}, since {owner.get('started', '?')}"
                if isinstance(owner, dict) else "an unreadable lock")

    def acquire(self):
        import json
        import time

        if not os.path.isdir(self.run_dir):
            os.makedirs(self.run_dir)
            self.made_dir = True
        me = {"pid": self.pid, "host": self.host, "start": _process_start(self.pid),
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                self._handle_existing()
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return
        raise SRError(f"{self.run_dir} is being claimed by another training at this moment ({self.path}); "
                      f"wait for it, or pick another --run=NAME")

    def _handle_existing(self):
        import json

        try:
            with open(self.path) as f:
                owner = json.load(f)
            pid = int(owner["pid"])
        except FileNotFoundError:
            return  # released meanwhile: try again
        except (OSError, ValueError, KeyError, TypeError):
            owner, pid = None, None
        if owner is not None and owner.get("host") != self.host:
            raise SRError(f"{self.run_dir} is locked by a training on another machine ({self._describe(owner)}; "
                          f"{self.path}), which cannot be checked from here. If no training writes this folder "
                          f"any more (that machine crashed or was shut down), delete {self.path} and rerun")
        if owner is not None and pid != self.pid and _alive(pid, owner.get("start")):
            raise SRError(f"{self.run_dir} is being written by another training ({self._describe(owner)}); two "
                          f"trainings in one run folder would overwrite each other's checkpoints. Wait for it to "
                          f"finish or stop it, or pick another folder with --run=NAME")
        # Stale: its process is gone (killed, a crashed kernel) or the file is unreadable. Rename it away first:
        # only one of two trainings doing this at once succeeds, the other finds the new owner's lock.
        aside = f"{self.path}.stale.{self.pid}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        os.remove(aside)
        why = "no longer runs" if owner is not None else "unreadable"
        print(f"note: took over the stale lock of {self.run_dir} ({self._describe(owner)}, {why}: a training "
              f"that was killed)", flush=True)

    def release(self):
        import json

        if not self.held:
            return
        self.held = False
        try:
            with open(self.path) as f:
                mine = json.load(f).get("pid") == self.pid
            if mine:
                os.remove(self.path)
        except (OSError, ValueError, AttributeError):
            pass
        if self.made_dir:
            try:
                os.rmdir(self.run_dir)  # only when still empty: a run that failed before writing anything
            except OSError:
                pass


def repair_weights(run_dir, eval_model, at_best):
    """Rewrite Model.pdparams (and Best.pdparams when the resumed state's iteration is its best) from the
    resumed state: the state file is written first, so a crash between files may have left these behind."""
    weights = eval_model.state_dict()
    atomic_save(weights, os.path.join(run_dir, "Model.pdparams"))
    if at_best:
        atomic_save(weights, os.path.join(run_dir, "Best.pdparams"))


# Optimizer keys are Paddle's global parameter names (``conv2d_7.w_0``), which depend on how many layers
# the process built before; the state file stores them under the structured names (``@conv.weight_``).
def _rename(keys_from, state):
    table = sorted(keys_from, key=lambda t: -len(t[0]))
    out = {}
    for key, value in state.items():
        for old, new in table:
            if key.startswith(old):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


def opt_to_file(opt, layer):
    return _rename([(p.name + "_", "@" + n + "_") for n, p in layer.named_parameters()], opt.state_dict())


def opt_from_file(opt, layer, state):
    opt.set_state_dict(_rename([("@" + n + "_", p.name + "_") for n, p in layer.named_parameters()], state))


def rng_state():
    """Paddle's, numpy's and Python's random states, as text (the state file stores it whole)."""
    import base64
    import pickle
    import random

    import numpy as np

    state = {"paddle": paddle.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    return base64.b64encode(pickle.dumps(state)).decode("ascii")


def set_rng_state(text):
    import base64
    import pickle
    import random

    import numpy as np

    s = pickle.loads(base64.b64decode(text))  # our own state file's field, written by rng_state
    paddle.set_rng_state(s["paddle"])
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])


def warm_start(model, path, partial=False, stage=0):
    """Load ``path`` into ``model`` before training (``--init_from``: a previous stage, x2 -> x4);
    ``partial`` skips the keys whose shape differs (the upsampler of another scale) and says which."""
    if not os.path.isfile(path):
        hint = (" — train the previous stage first (same command with --stage=%d)" % (stage - 1) if stage > 1
                else " — train that model first, or pass --init_from='' to start from scratch")
        raise SRError(f"--init_from={path} does not exist{hint}")
    state = read_state_dict(path)
    if partial:
        own = model.state_dict()
        state = {k: v for k, v in state.items() if k in own and list(v.shape) == list(own[k].shape)}
        skipped = sorted(set(own) - set(state) - {"value_range"})
        print(f"init from {path}: {len(state)} tensors loaded, {len(skipped)} kept random"
              + (f" ({', '.join(skipped[:4])}{' ...' if len(skipped) > 4 else ''})" if skipped else ""))
    else:
        check_state_dict(model, state, source=f"--init_from={path}")
        print(f"init from {path}")
    model.set_state_dict(state)


def resume(state, nets, ema, scaler, run_dir, main_rank):
    """Load a run's state into its networks (``train.Net``: key, layer, opt), EMA copy, AMP loss scale and the
    RNG; repair weights a crash left behind (rank 0). Returns (start iteration, best PSNR, its iteration)."""
    for net in nets:
        net.layer.set_state_dict(state[net.key])
        opt_from_file(net.opt, net.layer, state[net.opt_key])
    if ema is not None:
        ema.set_state_dict(state["ema"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"])
    start, best, best_it = int(state["iteration"]), float(state["best_psnr"]), int(state["best_iteration"])
    print(f"resuming {run_dir} at iteration {start} (best PSNR {best:.3f} dB at {best_it})")
    if main_rank:
        repair_weights(run_dir, ema or nets[0].layer, start == best_it)
    return start, best, best_it


def write_checkpoint(run_dir, progress, nets, ema, scaler, improved, last_saved):
    """The state file (``progress`` + every network, optimizer, RNG, EMA, loss scale), then Best.pdparams (when
    the validation improved), Model.pdparams (EMA weights with --ema) and the joint SRResNet's weights."""
    state = dict(progress, rng=rng_state())
    for net in nets:
        state[net.key], state[net.opt_key] = net.layer.state_dict(), opt_to_file(net.opt, net.layer)
    state.update({"ema": ema.state_dict()} if ema is not None else {})
    state.update({"scaler": scaler.state_dict()} if scaler is not None else {})
    weights = (ema or nets[0].layer).state_dict()
    files = [(STATE, state)] + [("Best.pdparams", weights)] * improved + [("Model.pdparams", weights)] \
        + [("SRResNet.pdparams", net.layer.state_dict()) for net in nets if net.key == "srresnet"]
    try:
        for name, obj in files:
            atomic_save(obj, os.path.join(run_dir, name))
    except OSError as e:
        kept = f"iteration {last_saved}" if last_saved else "none yet"
        raise SRError(f"cannot write the checkpoint of iteration {progress['iteration']} in {run_dir} "
                      f"({e.strerror or e}); the previous checkpoint ({kept}) is intact. Free disk space or fix "
                      f"the folder's permissions, then rerun the same command") from None
