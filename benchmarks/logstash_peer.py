"""The peer row: python-logstash-async with its SQLite cache, in its own throwaway venv.

Self-contained (that venv has none of this project). Its handler queues each
record in SQLite and a worker thread ships them over TCP as JSON lines to the
benchmark receiver's TCP port; throughput counts until the receiver has them
all. Run by run.py as: python logstash_peer.py HTTP_URL TCP_PORT COUNT
"""

from __future__ import annotations

import json
import logging
import resource
import statistics
import sys
import tempfile
import time
import urllib.request

from logstash_async.handler import AsynchronousLogstashHandler

DETAILS = {"username": "joe", "sourceipaddress": "10.1.2.3", "success": False}


def receiver_count(url: str) -> int:
    with urllib.request.urlopen(url.rsplit("/", 1)[0] + "/count", timeout=5) as response:
        return int(response.read())


def main(url: str, tcp_port: int, count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        handler = AsynchronousLogstashHandler(
            "127.0.0.1", tcp_port, database_path=f"{directory}/cache.db"
        )
        logger = logging.getLogger("peer")
        logger.propagate = False
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        before = receiver_count(url)
        samples = []
        clock = time.perf_counter_ns
        started = time.perf_counter()
        for index in range(count):
            t0 = clock()
            logger.warning("event %d", index, extra={"details": DETAILS})
            samples.append(clock() - t0)
        deadline = time.monotonic() + 300
        while receiver_count(url) - before < count and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        arrived = receiver_count(url) - before
        handler.close()
    samples.sort()
    print(
        json.dumps(
            {
                "events": count,
                "events_per_s": count / elapsed,
                "caller_median_us": statistics.median(samples) / 1000,
                "caller_p99_us": samples[int(len(samples) * 0.99) - 1] / 1000,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "arrived": arrived,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
