"""A block of the dev stack's service ports for one test, never shared with a concurrent test.

Rules: the dev runner puts every service (and the sandbox bank, the TSA and the SMTP intake) at
its default port plus ``--port-offset``. Tests that run the whole stack take an offset here: a
random one whose ports are all free, held through an exclusive lock file in the temporary folder
for as long as the test runs, so two tests at the same time (pytest-xdist workers, or two
checkouts on one machine) never pick the same block. Offsets are 113 apart — more than the
block's span — so two held blocks never overlap, and every port stays below the kernel's
ephemeral range, where ``free_port()`` answers come from.
"""

from __future__ import annotations

import contextlib
import fcntl
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

from devstack.layout import DEFAULT_PORTS, SANDBOX_BANK_PORT, SMTP_PORT
from devstack.ports import port_in_use
from devstack.tsa import DEFAULT_TSA_PORT

BLOCK = (*DEFAULT_PORTS.values(), SANDBOX_BANK_PORT, DEFAULT_TSA_PORT, SMTP_PORT)
STEP = 113
OFFSETS = range(10_000, 24_000, STEP)
LOCKS = Path(tempfile.gettempdir()) / "coffre-test-port-blocks"


@contextlib.contextmanager
def service_port_offset() -> Iterator[int]:
    """Hold a free block of service ports for the caller; yield its offset."""
    assert max(BLOCK) - min(BLOCK) < STEP, "blocks would overlap"
    LOCKS.mkdir(exist_ok=True)
    candidates = list(OFFSETS)
    random.shuffle(candidates)
    for offset in candidates:
        with (LOCKS / f"{offset}.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            if any(port_in_use(port + offset) for port in BLOCK):
                continue
            yield offset
            return
    raise RuntimeError("no free block of service ports")
