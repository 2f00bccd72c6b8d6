"""A program that sends numbered events in durable mode, for the crash tests.

    python tests/durable_sender.py SPOOL_DIR URL START COUNT [PAUSE [FSYNC]]

Prints each number once its durable ``send()`` has returned (the event is
committed to the spool), pausing PAUSE seconds every 10 events. FSYNC is the
``fsync`` option: ``off`` (the default), ``always`` or ``interval``. Then it
flushes and prints ``STATS {json}``. The tests SIGKILL it mid-stream and run
it again on the same spool.
"""

from __future__ import annotations

import json
import sys
import time

from delivery_helpers import fast
from mozdef_client import Client, Event


def main() -> None:
    spool_dir, url, start, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    fsync = sys.argv[6] if len(sys.argv) > 6 and sys.argv[6] != "off" else False
    client = Client(url, mode="durable", spool_dir=spool_dir,
                    delivery=fast(max_batch_events=100, fsync=fsync))  # fmt: skip
    for n in range(start, start + count):
        client.send(Event(summary=f"event {n}", details={"n": n}))
        print(n, flush=True)
        if pause and n % 10 == 9:
            time.sleep(pause)
    left = client.flush(timeout=30)
    stats = client.stats()
    print("STATS " + json.dumps({"left": left, "delivered": stats.delivered,
                                 "duplicates": stats.duplicates,
                                 "submitted": stats.submitted}), flush=True)  # fmt: skip
    client.close(timeout=5)


if __name__ == "__main__":
    main()
