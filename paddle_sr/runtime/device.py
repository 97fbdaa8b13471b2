"""Device and math threads: ``use_device`` (cpu/gpu, with a clear error when the GPU is missing),
``thread_count`` / ``use_threads`` (``$PADDLE_SR_THREADS``, else ``OMP_NUM_THREADS``, else the cores) and
``inference_threads`` for one call.
"""
import os

import paddle

from paddle_sr.core.errors import SRError


def default_device():
    return "gpu" if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0 else "cpu"


_threads = None  # math threads set by ``use_threads`` in this process (None: not yet)


THREADS_ENV = "PADDLE_SR_THREADS"


def _user_omp_threads():
    """``OMP_NUM_THREADS`` as the user started the process, or None.

    ``import paddle`` writes OMP_NUM_THREADS=1 into ``os.environ`` when it is unset, so the value
    seen now cannot tell "unset" from "1": read the environment the process started with
    (``/proc/self/environ``); where there is none, a "1" counts as Paddle's, not the user's.
    """
    try:
        with open("/proc/self/environ", "rb") as f:
            for item in f.read().split(b"\0"):
                if item.startswith(b"OMP_NUM_THREADS="):
                    return item.split(b"=", 1)[1].decode(errors="replace").strip() or None
        return None
    except OSError:
        value = os.environ.get("OMP_NUM_THREADS", "").strip()
        return value if value and value != "1" else None


def thread_count(n=None):
    """CPU math threads to use: ``n``, else ``$PADDLE_SR_THREADS``, else the ``OMP_NUM_THREADS`` the
    process was started with, else the CPUs this process may run on (``os.sched_getaffinity``;
    ``os.cpu_count()`` where that is missing)."""
    if n is None:
        sources = ((THREADS_ENV, os.environ.get(THREADS_ENV, "").strip()), ("OMP_NUM_THREADS", _user_omp_threads()))
        for var, env in sources:
            if env:
                try:
                    n = int(env.split(",")[0])
                except ValueError:
                    raise SRError(f"{var} must be a whole number of threads, got {env!r}") from None
                break
        else:
            try:
                n = len(os.sched_getaffinity(0))
            except (AttributeError, OSError):
                n = os.cpu_count() or 1
    n = int(n)
    if n < 1:
        raise SRError(f"the number of CPU threads must be at least 1, got {n}")
    return n


def use_threads(n=None):
    """Let Paddle's CPU kernels (MKL/OpenMP/BLAS) use ``thread_count(n)`` threads from now on; returns it.

    Eager Paddle runs its CPU math on ONE thread unless told (``import paddle`` sets
    OMP_NUM_THREADS=1 when it is unset), so on a 2-core machine half of it sat idle. The inference
    tools (predict, evaluate, export) call it through ``use_device(..., threads=True)``; training
    does not (a training step was slower with 2 threads on the loaded 2-core machine,
    ``benchmarks/README.md``), and ``tiling.super_resolve`` sets it for the duration of each
    call (``inference_threads``) when nobody chose. ``$PADDLE_SR_THREADS`` or an explicit
    ``OMP_NUM_THREADS`` wins over the CPU count.
    """
    global _threads
    n = thread_count(n)
    _set_threads(n)
    _threads = n
    return n


def _set_threads(n):
    from paddle.base import core

    core.set_num_threads(int(n))


class inference_threads:
    """Context manager: ``thread_count()`` math threads inside, unless ``use_threads`` already chose for
    the process (then nothing changes); afterwards back to Paddle's start-up setting, so a training
    loop that validates through ``super_resolve`` keeps its own setting. Costs two cheap calls."""

    def __enter__(self):
        self._restore = None
        if _threads is None:
            n = thread_count()
            base = _startup_threads()
            if n != base:
                _set_threads(n)
                self._restore = base
        return self

    def __exit__(self, *exc):
        if self._restore is not None and _threads is None:
            _set_threads(self._restore)
        return False


def _startup_threads():
    """Math threads Paddle started with: the user's OMP_NUM_THREADS, else 1 (Paddle's own default)."""
    try:
        return max(1, int((_user_omp_threads() or "1").split(",")[0]))
    except ValueError:
        return 1


def use_device(name, threads=False):
    """``--device`` of the tools: check that this Paddle can use ``name``, ``paddle.set_device`` it, return it.

    ``threads=True`` (the inference tools) also gives Paddle's CPU math all usable cores (``use_threads``).

    ``None``/``'auto'``: a GPU when Paddle is built with CUDA and sees one, else the CPU. A GPU asked
    of a CPU build of Paddle, an index past the visible GPUs, or an unknown name is an SRError naming
    the fix (Paddle itself raises a long ValueError from deep inside).
    """
    if name is None or name == "auto":
        name = default_device()
    name = str(name).strip().lower()
    kind, _, index = name.partition(":")
    if kind == "gpu":
        if not paddle.device.is_compiled_with_cuda():
            raise SRError(f"--device {name}: this Paddle ({paddle.__version__}) is a CPU build; install "
                          f"paddlepaddle-gpu or use --device cpu")
        count = paddle.device.cuda.device_count()
        if count == 0:
            raise SRError(f"--device {name}: Paddle sees no GPU (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}); "
                          f"use --device cpu or make a GPU visible")
        if index and (not index.isdigit() or int(index) >= count):
            raise SRError(f"--device {name}: Paddle sees {count} GPU(s), gpu:0 to gpu:{count - 1}; pick one of them")
    try:
        paddle.set_device(name)
    except (ValueError, RuntimeError) as e:
        detail = " ".join(str(e).split())[:200]
        raise SRError(f"cannot use --device {name!r} ({detail}); use cpu, gpu or gpu:N") from None
    if threads and _threads is None:  # an earlier explicit use_threads(n) stays
        use_threads()
    return name


def current_device():
    """'gpu' or 'cpu': where Paddle runs now (follows --device / ``paddle.set_device``)."""
    return "gpu" if paddle.device.get_device().startswith("gpu") else "cpu"
