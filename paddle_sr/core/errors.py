"""The one exception type for mistakes a user can make (bad path, wrong scale, mismatched checkpoint).

Command-line entry points catch it, print ``error: <message>`` on one line and exit with status 2,
so a user never sees a bare traceback for their own input. ``cli_main`` also turns an ``OSError``
that escapes (disk full, read-only or unwritable folder, a folder where a file was expected) into
one line naming the file and the fix; tools still check their outputs before the work
(``paddle_sr.core.files.check_writable``) so that no time is wasted on results that cannot be saved.
"""
import errno
import signal
import sys
import threading


class SRError(Exception):
    """A user-facing error: the message names the problem and the fix."""


_OS_FIXES = {
    errno.ENOSPC: "free space on that disk or write to another folder",
    errno.EDQUOT: "free space in your disk quota or write to another folder",
    errno.EFBIG: "the file is larger than this system allows (ulimit -f); write to another disk or free space",
    errno.EACCES: "fix the folder's permissions or choose a folder you can write to",
    errno.EPERM: "fix the folder's permissions or choose a folder you can write to",
    errno.EROFS: "it is on a read-only file system; choose another folder",
    errno.EISDIR: "a folder is in the way where a file was expected; name a file, or move the folder",
    errno.ENOTDIR: "a part of that path is a file, not a folder; fix the path",
    errno.EEXIST: "a file is in the way where a folder is needed; choose another path or move the file",
    errno.ENOENT: "check the path",
    errno.ENAMETOOLONG: "use a shorter path",
}


def os_error_message(e):
    """One line for an ``OSError``: what failed, on which file, and the fix."""
    paths = " -> ".join(str(p) for p in (e.filename, e.filename2) if p is not None)
    what = e.strerror or str(e) or type(e).__name__
    fix = _OS_FIXES.get(e.errno, "check the path, its permissions and the free disk space")
    return f"{what}{f': {paths}' if paths else ''}; {fix}"


def cli_main(main):
    """Run ``main()``; SRError and OSError become one line on stderr and exit status 2."""
    try:
        return main()
    except SRError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:  # `python -m paddle_sr.models | head`: the reader left, nothing to report
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as e:  # the safety net: tools check their outputs early, the disk can still fill up
        print(f"error: {os_error_message(e)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


class StopSignals:
    """SIGINT / SIGTERM during the loop -> ``received``; the loop saves at the end of the iteration and stops.

    A second signal raises KeyboardInterrupt at once (the last checkpoint stays as it is). Only the main
    thread can own signal handlers: elsewhere (a worker thread) nothing is installed. ``signals`` and
    ``notice`` (printed at the first signal, ``{name}`` = the signal's name) let other work that must
    not be cut in half use the same mechanism (``engine.InferenceEngine.from_model``).
    """

    TRAINING = ("{name}: saving a checkpoint at the end of this iteration (send it again to stop at once, "
                "losing the work since the last checkpoint)")

    def __init__(self, signals=(signal.SIGINT, signal.SIGTERM), notice=TRAINING):
        self.received, self.previous = None, {}
        self.signals, self.notice = tuple(signals), notice

    def install(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._handle) for s in self.signals}

    def restore(self):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        self.previous = {}

    def _handle(self, signum, frame):
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signum
        print("\n" + self.notice.format(name=signal.Signals(signum).name), file=sys.stderr, flush=True)
