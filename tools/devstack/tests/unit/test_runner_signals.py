"""The dev runner stops on Ctrl-C and on SIGTERM even when it inherited SIGINT ignored (a
background job of a script does), instead of running on until it is killed."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

PROGRAM = """
import sys, time
from devstack.runner import stop_on_ctrl_c_and_sigterm
stop_on_ctrl_c_and_sigterm()
try:
    print("waiting", flush=True)  # inside the try: the signal may come the moment it is read
    time.sleep(600)
except KeyboardInterrupt:
    print("stopping", flush=True)
    sys.exit(0)
sys.exit(3)
"""


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_runner_stops_on_the_signal_even_if_it_inherited_sigint_ignored(sent: int) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", PROGRAM],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint,
    )
    assert process.stdout is not None
    try:
        assert process.stdout.readline().strip() == "waiting"
        process.send_signal(sent)
        assert process.wait(timeout=60) == 0
        assert process.stdout.read().strip() == "stopping"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
