"""A minimal keep-alive HTTP receiver for the benchmarks, in its own process.

It only counts: one event per POST to /events; for a POST to /_bulk, one
per element of a JSON array body (objects separated by ``},{``: the
benchmark's events hold no lists of objects) or per non-empty line of an
NDJSON body; one per line received on its TCP port (for the
python-logstash-async peer). No JSON parsing, so it is not the bottleneck
being measured. ``GET /count`` answers the count so far; ``--status 503``
answers every POST with that status (a receiver that is "down" but reachable).

Run: python benchmarks/fast_receiver.py  (prints "PORT <http> TCP <tcp>" when ready)
"""

from __future__ import annotations

import argparse
import asyncio

count = 0


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int) -> None:
    global count
    reply_ok = f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode()
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, _, rest = head.partition(b"\r\n")
            length = 0
            for line in rest.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            method, path = request_line.split(b" ")[:2]
            if method == b"GET" and path == b"/count":
                text = str(count).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text))
            else:
                if status == 200:
                    if not path.endswith(b"/_bulk"):
                        count += 1
                    elif body.startswith(b"["):
                        count += body.count(b"},{") + (1 if len(body) > 2 else 0)
                    else:
                        count += body.count(b"\n") + (0 if body.endswith(b"\n") or not body else 1)
                writer.write(reply_ok)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def lines(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    global count
    try:
        while data := await reader.read(65536):
            count += data.count(b"\n")
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--status", type=int, default=200)
    args = parser.parse_args()
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, args.status), "127.0.0.1", 0, limit=64 * 1024 * 1024
    )
    tcp = await asyncio.start_server(lines, "127.0.0.1", 0)
    print(
        "PORT", server.sockets[0].getsockname()[1], "TCP", tcp.sockets[0].getsockname()[1],
        flush=True,
    )  # fmt: skip
    async with server, tcp:
        await asyncio.gather(server.serve_forever(), tcp.serve_forever())


if __name__ == "__main__":
    asyncio.run(main())
