"""The same legacy scenario for mozdef-client 1.1, run in its own throwaway venv.

Self-contained (1.1's venv has none of this project). 1.1 posts through
requests-futures in background threads, so throughput counts until the
receiver has every event.
"""

from __future__ import annotations

import contextlib
import json
import resource
import statistics
import sys
import time
import urllib.request

import mozdef_client

DETAILS = {"username": "joe", "sourceipaddress": "10.1.2.3", "success": False}


def receiver_count(url: str) -> int:
    with urllib.request.urlopen(url.rsplit("/", 1)[0] + "/count", timeout=5) as response:
        return int(response.read())


def main(url: str, count: int) -> None:
    before = receiver_count(url)
    samples = []
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for index in range(count):
        t0 = clock()
        message = mozdef_client.MozDefEvent(url)
        message.summary = f"legacy event {index}"
        message.tags = ["bench"]
        message.details = DETAILS
        # 1.1 raises TypeError after a successful POST without requests-futures.
        with contextlib.suppress(TypeError):
            message.send()
        samples.append(clock() - t0)
    deadline = time.monotonic() + 120
    while receiver_count(url) - before < count and time.monotonic() < deadline:
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    samples.sort()
    print(
        json.dumps(
            {
                "events": count,
                "events_per_s": count / elapsed,
                "caller_median_us": statistics.median(samples) / 1000,
                "caller_p99_us": samples[int(len(samples) * 0.99) - 1] / 1000,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "arrived": receiver_count(url) - before,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
