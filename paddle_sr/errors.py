"""The one exception type for mistakes a user can make (bad path, wrong scale, mismatched checkpoint).

Command-line entry points catch it, print ``error: <message>`` on one line and exit with status 2,
so a user never sees a bare traceback for their own input.
"""
import sys


class SRError(Exception):
    """A user-facing error: the message names the problem and the fix."""


def cli_main(main):
    """Run ``main()`` and turn SRError into one line on stderr and exit status 2."""
    try:
        return main()
    except SRError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
