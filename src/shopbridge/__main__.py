"""The `shopbridge` command's entry point, also `python -m shopbridge` (how a rehearsal starts
its processes)."""

import sys

INTERRUPTED = 130  # the shell's status for a command ended by Ctrl-C (128 + SIGINT)


def run() -> None:
    """Run the command line. A Ctrl-C while its modules are still loading ends it as one later
    does (the command group handles it from then on): one line and status 130, no traceback."""
    try:
        from shopbridge.cli import main
    except KeyboardInterrupt:
        sys.stderr.write("shopbridge: interrupted\n")
        _leave(INTERRUPTED)
    try:
        main(prog_name="shopbridge")
    except SystemExit as leaving:
        if leaving.code == INTERRUPTED:
            _leave(INTERRUPTED)
        raise


def _leave(status: int) -> None:
    """Exit now with `status`, once what was written is flushed.

    Not sys.exit: when the Ctrl-C arrived while extension modules were loading, CPython
    sometimes ends the process killed by SIGINT at the very end of a normal exit, although the
    KeyboardInterrupt was caught (seen in about one start-up Ctrl-C in thirty); the status
    would no longer be the one chosen here.
    """
    import contextlib
    import logging
    import os

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or a broken pipe
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
