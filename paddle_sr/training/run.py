"""A training run's folder while it trains: ``open_run`` (refuses a folder holding another run), the
``RunLock`` (``train.lock``: one training per folder), the state file (optimizer, schedules, RNG),
``write_checkpoint`` / ``resume`` / ``warm_start`` and the repairs on resume.
"""
import os

import paddle

from paddle_sr.core.errors import SRError
from paddle_sr.core.files import atomic_save
from paddle_sr.weights import run_folder
from paddle_sr.weights.run_folder import BEST, LAST, SRRESNET, STATE, WEIGHT_FILES
from paddle_sr.weights.state import check_state_dict, read_state_dict

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
    for f in WEIGHT_FILES:
        if os.path.exists(os.path.join(run_dir, f)):
            raise SRError(f"{run_dir} holds {f} but no {STATE}; it is not a run this tool can resume and it is "
                          f"left untouched. Pick another folder with --run=NAME")
    return run_dir, None


LOCK = run_folder.LOCK  # kept importable here: RunLock's file


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
    atomic_save(weights, os.path.join(run_dir, LAST))
    if at_best:
        atomic_save(weights, os.path.join(run_dir, BEST))


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
    files = [(STATE, state)] + [(BEST, weights)] * improved + [(LAST, weights)] \
        + [(SRRESNET, net.layer.state_dict()) for net in nets if net.key == "srresnet"]
    try:
        for name, obj in files:
            atomic_save(obj, os.path.join(run_dir, name))
    except OSError as e:
        kept = f"iteration {last_saved}" if last_saved else "none yet"
        raise SRError(f"cannot write the checkpoint of iteration {progress['iteration']} in {run_dir} "
                      f"({e.strerror or e}); the previous checkpoint ({kept}) is intact. Free disk space or fix "
                      f"the folder's permissions, then rerun the same command") from None
