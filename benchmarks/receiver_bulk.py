"""How many events/s the development receiver takes in 1,000-event NDJSON bulk posts.

The receiver runs in this process (quiet, nothing kept or stored, as a
benchmark would run it); a separate process posts the same pre-built body
over one keep-alive connection, so the sender's cost does not share a GIL
with the receiver. Prints the receiver's events/s.

    python benchmarks/receiver_bulk.py [--seconds 5] [--batch 1000] [--connections 1]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import time

from mozdef_client.receiver import Receiver


def _body(batch: int) -> bytes:
    lines = []
    for number in range(batch):
        document = {
            "timestamp": "2026-11-26T14:05:48.226939+00:00",
            "hostname": "web1.example.com",
            "processname": "bench",
            "processid": 4242,
            "severity": "INFO",
            "category": "authentication",
            "source": "sso",
            "summary": f"login succeeded for user{number}",
            "tags": ["sso", "bench"],
            "details": {
                "username": f"user{number}",
                "sourceipaddress": "10.1.2.3",
                "success": True,
            },
        }
        lines.append(json.dumps(document, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode()


def _post_until(port: int, body: bytes, deadline: float) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/x-ndjson"}
    while time.time() < deadline:
        connection.request("POST", "/_bulk", body, headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"receiver answered {response.status}")
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=1)
    args = parser.parse_args()
    body = _body(args.batch)
    with Receiver(keep=False) as receiver:
        warmup = time.time() + 0.5
        _post_until(receiver.port, body, warmup)
        start_events = receiver.stats().events
        start = time.perf_counter()
        start_cpu = time.process_time()
        deadline = time.time() + args.seconds
        senders = [
            multiprocessing.Process(target=_post_until, args=(receiver.port, body, deadline))
            for _ in range(args.connections)
        ]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - start_cpu
        received = receiver.stats().events - start_events
    # Per CPU-second of the receiver too: on a shared machine the wall-clock
    # rate also measures whoever else is using the cores.
    print(
        f"receiver bulk: {received / elapsed:,.0f} events/s, "
        f"{received / cpu:,.0f} events per receiver CPU-second "
        f"({received:,} events in {elapsed:.1f} s, {args.batch}-event NDJSON bodies, "
        f"{args.connections} keep-alive connection(s), {len(body) / args.batch:.0f} bytes/event)"
    )


if __name__ == "__main__":
    main()
