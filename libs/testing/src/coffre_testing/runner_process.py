"""Starting and stopping ``coffre-dev run`` from tests the way a user's shell script would.

Rules: the runner is started with SIGINT *ignored*, as a background job of a non-interactive
shell inherits it (the harshest case: the runner must install its own handler to stop on
Ctrl-C); stopping sends SIGINT and waits, and a runner that does not stop in time is killed and
fails the test with the tail of its output, never left running.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable

IGNORE_SIGINT_THEN_EXEC = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)


def with_sigint_ignored(argv: list[str]) -> list[str]:
    """``argv`` run with SIGINT ignored (the disposition survives ``exec``)."""
    return [sys.executable, "-c", IGNORE_SIGINT_THEN_EXEC, *argv]


def stop_with_ctrl_c(
    process: subprocess.Popen[str], output: Callable[[], str], timeout: float = 180
) -> None:
    """SIGINT, then wait up to ``timeout`` s; a runner still running is killed and the test fails
    with the end of what it printed."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)
        raise AssertionError(
            f"the runner did not stop within {timeout:.0f} s of Ctrl-C:\n{output()[-3000:]}"
        ) from None
