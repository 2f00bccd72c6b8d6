"""A durable client in its own process, for the full-disk tests (driven through stdin).

    python tests/spool_filler.py SPOOL_DIR PORT [limit]

It spools 50 events for http://127.0.0.1:PORT/events and prints
``{"spooled": 50}``. On "fill" (after the test filled the disk, or, with
``limit``, after lowering RLIMIT_FSIZE to the spool's current file sizes) it
sends until ``send()`` fails and prints what it saw. On "free" (with
``limit``, after lifting the limit) it sends event 1000000, flushes and
prints what is left. Every event carries its number in ``details.n``.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys

from delivery_helpers import fast
from mozdef_client import Client, Event
from mozdef_client.errors import MozDefError


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def main() -> None:
    spool_dir, port = sys.argv[1], int(sys.argv[2])
    limit = sys.argv[3:] == ["limit"]
    # No reserve of free space: this is about a disk that really is full.
    options = fast(spool_min_free_bytes=0)
    client = Client(f"http://127.0.0.1:{port}/events", mode="durable",
                    spool_dir=spool_dir, delivery=options)  # fmt: skip
    for n in range(50):
        client.send(Event(summary="before", details={"n": n}))
    say(spooled=50)

    assert sys.stdin.readline().strip() == "fill"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if limit:
        # Past the limit a write fails with EFBIG instead of killing us with SIGXFSZ.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        sizes = [os.path.getsize(os.path.join(spool_dir, f)) for f in os.listdir(spool_dir)]
        resource.setrlimit(resource.RLIMIT_FSIZE, (max(sizes), hard))
    accepted = 0
    try:
        while accepted < 100_000:
            client.send(Event(summary="filling", details={"n": 50 + accepted, "pad": "x" * 500}))
            accepted += 1
        say(accepted=accepted, error=None, message="", dropped={})
    except MozDefError as exc:
        say(accepted=accepted, error=type(exc).__name__, message=str(exc),
            dropped=dict(client.stats().dropped))  # fmt: skip

    assert sys.stdin.readline().strip() == "free"
    if limit:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    client.send(Event(summary="after", details={"n": 1_000_000}))
    left = client.flush(timeout=30)
    say(left=left, duplicates=client.stats().duplicates)
    client.close(timeout=5)


if __name__ == "__main__":
    main()
