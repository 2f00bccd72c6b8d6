"""The spool under a shared directory, hostile files, damage and locks (issue 11, items 10-13, 15).

Other processes are real processes working on the same directory: a
``Peer`` runs Python statements sent to it one line at a time, so a test can
interleave its steps with this process's.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from delivery_helpers import fast, numbers_of, python_env, send_numbered
from mozdef_client import Client
from mozdef_client.delivery.spool import (
    DEAD_LETTERS_FILENAME,
    LOCK_FILENAME,
    Spool,
    purge_spool,
    spool_status,
)
from mozdef_client.errors import SpoolError, SpoolFullError
from mozdef_client.severity import Severity
from mozdef_client.transports.base import EncodedEvent
from servers import Receiver, free_port

DEST = "http://127.0.0.1:9/events"


def events(*numbers: int, pad: int = 0) -> list[EncodedEvent]:
    return [EncodedEvent(b'{"n":%d,"pad":"%s"}' % (n, b"x" * pad), Severity.INFO)
            for n in numbers]  # fmt: skip


def numbers(leased) -> list[int]:
    return [json.loads(item.event.payload)["n"] for item in leased]


class Peer:
    """Another process on the same spool directory, driven one statement at a time."""

    def __init__(self, directory: Path, setup: str) -> None:
        loop = textwrap.dedent(
            """
            import sys, traceback
            for line in sys.stdin:
                try:
                    exec(line.replace("\\\\n", "\\n"))
                    print("ok", flush=True)
                except Exception as exc:
                    print("error " + type(exc).__name__ + ": " + str(exc), flush=True)
            """
        )
        code = textwrap.dedent(setup).format(dir=str(directory)) + loop
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=python_env(),
        )  # fmt: skip

    def do(self, statement: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(statement.replace("\n", "\\n") + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self) -> None:
        with self.process:  # closes the pipes
            assert self.process.stdin is not None
            self.process.stdin.close()
            assert self.process.wait(30) == 0


SPOOL_PEER = """
from mozdef_client.delivery.spool import Spool
from mozdef_client.transports.base import EncodedEvent
spool = Spool({dir!r}, max_bytes=50_000)
def events(*ns, pad=0):
    return [EncodedEvent(b'{{"n":%d,"pad":"%s"}}' % (n, b"x" * pad)) for n in ns]
def deliver_all():
    while items := spool.lease("d", 1000, 10**6):
        spool.ack(items, "d")
"""


# -- 10. the byte cap counts what is really pending, across processes ---------------------------


def test_events_another_process_delivered_no_longer_count_against_the_cap(tmp_path):
    peer = Peer(tmp_path, SPOOL_PEER)
    try:
        assert peer.do("spool.append(['d'], events(*range(40), pad=1000))") == "ok"  # ~41 kB
        spool = Spool(str(tmp_path), max_bytes=50_000)
        try:
            with pytest.raises(SpoolFullError):  # the other process's events count
                spool.append(["d"], events(*range(100, 120), pad=1000))
            assert peer.do("deliver_all()") == "ok"
            time.sleep(0.2)
            # Before: this process went on counting them and refused (a false
            # SpoolFullError with the spool nearly empty).
            spool.append(["d"], events(*range(100, 140), pad=1000))
            assert spool.pending() == 40
        finally:
            spool.close()
    finally:
        peer.close()


def test_a_sender_sees_the_cap_filled_by_another_process_while_it_runs(tmp_path):
    spool = Spool(str(tmp_path), max_bytes=50_000)
    peer = Peer(tmp_path, SPOOL_PEER)
    try:
        spool.append(["d"], events(0, pad=1000))
        assert peer.do("spool.append(['d'], events(*range(1, 45), pad=1000))") == "ok"
        time.sleep(0.2)  # what other processes hold is read at most 50 ms late
        with pytest.raises(SpoolFullError, match="at its cap of 50000 bytes"):
            spool.append(["d"], events(99, pad=10_000))
        assert "SpoolFullError" in peer.do("spool.append(['d'], events(100, pad=10_000))")
    finally:
        peer.close()
        spool.close()


def test_a_durable_client_at_its_cap_accepts_again_once_a_forked_child_delivered(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/events"
    client = Client(url, mode="durable", spool_dir=str(tmp_path),
                    delivery=fast(spool_max_bytes=20_000))  # fmt: skip
    try:
        pid = os.fork()
        if pid == 0:  # the child fills the shared cap while the receiver is down
            try:
                sent = 0
                try:
                    while True:
                        send_numbered(client, [1000 + sent])
                        sent += 1
                except SpoolFullError:
                    pass
                receiver = Receiver(port)
                left = client.flush(timeout=20)
                receiver.close()
                os._exit(0 if left == 0 and sent > 10 else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # The child delivered what it spooled: the parent's sends fit again.
        assert all(send_numbered(client, range(60)))
    finally:
        client.close(timeout=0)


# -- 11. the spool does not trust its directory ---------------------------------------------------


@pytest.mark.parametrize("name", [LOCK_FILENAME, DEAD_LETTERS_FILENAME])
def test_a_symlink_at_a_spool_file_is_refused_not_followed(tmp_path, name):
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    (spool_dir / name).symlink_to(target)  # dangling: following it would create the file
    with pytest.raises(SpoolError, match="symlink"):
        Spool(str(spool_dir), max_bytes=1000)
    assert not target.exists()


def test_a_symlink_at_a_segment_is_never_followed(tmp_path):
    spool = Spool(str(tmp_path), max_bytes=10_000)
    spool.append(["d"], events(1))
    spool.close()
    [segment] = tmp_path.glob("seg-*.log")
    secret = tmp_path.parent / f"{tmp_path.name}-secret"
    secret.write_bytes(segment.read_bytes())
    segment.unlink()
    segment.symlink_to(secret)
    reopened = Spool(str(tmp_path), max_bytes=10_000)
    try:
        assert reopened.lease("d", 10, 1000) == []  # not read through the link
    finally:
        reopened.close()


def test_a_directory_others_may_write_to_is_refused_with_the_fix(tmp_path):
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    spool_dir.chmod(0o777)
    with pytest.raises(SpoolError, match=rf"mode 0777.*run chmod 700 {spool_dir}"):
        Spool(str(spool_dir), max_bytes=1000)
    spool_dir.chmod(0o770)
    with pytest.raises(SpoolError, match="may be written by other users"):
        Client(DEST, mode="durable", spool_dir=str(spool_dir))


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory away needs root")
def test_a_directory_another_user_owns_is_refused(tmp_path):
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir(mode=0o700)
    os.chown(spool_dir, 4321, -1)
    with pytest.raises(SpoolError, match=r"belongs to uid 4321.*chown"):
        Spool(str(spool_dir), max_bytes=1000)


def test_every_file_is_0600_even_one_an_older_version_left_0666(tmp_path):
    (tmp_path / DEAD_LETTERS_FILENAME).write_bytes(b"")
    (tmp_path / DEAD_LETTERS_FILENAME).chmod(0o666)
    old = os.umask(0)
    try:
        spool = Spool(str(tmp_path), max_bytes=10_000)
        spool.append(["d"], events(1))
        spool.add_dead_letters("d", events(2), "HTTP 400")
    finally:
        os.umask(old)
    try:
        files = list(tmp_path.iterdir())
        assert len(files) == 4  # lock, dead letters, a segment and its progress
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    finally:
        spool.close()


# -- 12. a damaged record never blocks its destination ------------------------------------------


def flip_byte(path: Path, marker: bytes) -> None:
    data = bytearray(path.read_bytes())
    data[data.index(marker)] ^= 0x20
    path.write_bytes(bytes(data))


def test_a_damaged_record_is_dead_lettered_with_the_reason_and_delivery_goes_on(tmp_path):
    spool = Spool(str(tmp_path), max_bytes=10_000)
    spool.append(["d"], events(1, 2, 3))
    spool.close()
    [segment] = tmp_path.glob("seg-*.log")
    flip_byte(segment, b'"n":2')
    reopened = Spool(str(tmp_path), max_bytes=10_000)
    try:
        assert numbers(reopened.lease("d", 10, 10_000)) == [1, 3]
        [letter] = reopened.dead_letters()
        assert letter.destination == "d"
        assert "corrupt record in the spool (checksum mismatch)" in letter.error
        assert b'n":2' in letter.payload  # the raw bytes, for inspection
    finally:
        reopened.close()


def test_an_undecodable_record_is_dead_lettered_too(tmp_path):
    import zlib

    spool = Spool(str(tmp_path), max_bytes=10_000)
    spool.append(["d"], events(1))
    [segment] = tmp_path.glob("seg-*.log")
    # A record whose checksum is right but whose severity is no severity.
    body = b"\0" * 8 + bytes([200]) + (1).to_bytes(2, "little") + b"d" + b'{"n":2}'
    with open(segment, "ab") as out:
        out.write(len(body).to_bytes(4, "little") + zlib.crc32(body).to_bytes(4, "little") + body)
    spool.close()
    reopened = Spool(str(tmp_path), max_bytes=10_000)
    try:
        assert numbers(reopened.lease("d", 10, 10_000)) == [1]
        [letter] = reopened.dead_letters()
        assert "undecodable record" in letter.error
    finally:
        reopened.close()


def test_a_durable_client_delivers_around_a_damaged_record(tmp_path, receiver):
    spool = Spool(str(tmp_path), max_bytes=10**6)
    spool.append([receiver.url], [EncodedEvent(json.dumps({"details": {"n": n}}).encode())
                                  for n in range(3)])  # fmt: skip
    spool.close()
    [segment] = tmp_path.glob("seg-*.log")
    flip_byte(segment, b'"n": 1')
    client = Client(receiver.url, mode="durable", spool_dir=str(tmp_path), delivery=fast())
    try:
        assert client.flush(timeout=10) == 0
        assert sorted(numbers_of(receiver.events)) == [0, 2]
        [letter] = client.dead_letters()
        assert "checksum mismatch" in letter.error
        assert client.replay_dead_letters() == 0  # garbage is never sent
    finally:
        client.close(timeout=1)


def test_dead_letters_never_raise_on_a_damaged_dead_letter_record(tmp_path):
    spool = Spool(str(tmp_path), max_bytes=10_000)
    spool.add_dead_letters("d", events(1, 2), "HTTP 400")
    flip_byte(tmp_path / DEAD_LETTERS_FILENAME, b'"n":1')
    letters = spool.dead_letters()
    assert [letter.error for letter in letters][-1] == "HTTP 400"
    assert "damaged dead letter record" in letters[0].error
    assert [json.loads(d.payload)["n"] for d in spool.take_dead_letters()] == [2]
    assert len(spool.dead_letters()) == 1  # the damaged one stays, for inspection
    spool.close()


# -- 13. bounded lock waits; acknowledgements on a full disk -------------------------------------

LOCK_HOLDER = """
import fcntl, os, sys, time
fds = [os.open(os.path.join({dir!r}, name), os.O_RDWR) for name in sys.argv[1:]]
for fd in fds:
    fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""


def test_a_lock_held_by_another_process_never_blocks_send_and_bounds_other_waits(tmp_path):
    client = Client(DEST, mode="durable", spool_dir=str(tmp_path),
                    delivery=fast(spool_lock_timeout=0.3))  # fmt: skip
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER.format(dir=str(tmp_path)), LOCK_FILENAME,
         DEAD_LETTERS_FILENAME],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        started = time.monotonic()
        assert all(send_numbered(client, range(100)))
        assert time.monotonic() - started < 1.0  # before: 30 s for the first send
        started = time.monotonic()
        with pytest.raises(SpoolError, match=r"locked by another process for more than 0\.3 s"):
            client.dead_letters()
        assert time.monotonic() - started < 2.0
        with pytest.raises(SpoolError, match="spool_lock_timeout"):
            Spool(str(tmp_path), max_bytes=1000, lock_timeout=0.2)
    finally:
        with holder:
            holder.kill()
        client.close(timeout=0)


FULL_DISK = """
import os, resource, signal, json
from mozdef_client.delivery.spool import Spool
from mozdef_client.transports.base import EncodedEvent
from mozdef_client.errors import SpoolError
spool = Spool({dir!r}, max_bytes=10**8, min_free_bytes=0)
for n in range(200):
    spool.append(["d"], [EncodedEvent(b'{{"n":%d}}' % n)])
sizes = [os.path.getsize(os.path.join({dir!r}, f)) for f in os.listdir({dir!r})]
# No file may grow any more: the disk is full, and no reserve was kept.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (max(sizes), resource.RLIM_INFINITY))
try:
    spool.append(["d"], [EncodedEvent(b"x" * 10_000)])
    full = None
except SpoolError as exc:
    full = str(exc)
delivered = 0
while items := spool.lease("d", 50, 10**6):
    spool.ack(items, "d")
    delivered += len(items)
print(json.dumps({{"full": full, "delivered": delivered, "pending": spool.pending("d")}}))
"""


def test_acknowledgements_need_no_disk_space_so_a_full_spool_drains(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", FULL_DISK.format(dir=str(tmp_path))],
        capture_output=True, text=True, timeout=60, env=python_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert "cannot write the spool" in outcome["full"]
    assert (outcome["delivered"], outcome["pending"]) == (200, 0)
    reopened = Spool(str(tmp_path), max_bytes=10**6)  # and the next start knows it
    try:
        assert reopened.pending() == 0 and reopened.lease("d", 10, 1000) == []
    finally:
        reopened.close()


# -- 15. events held for destinations the client does not have ------------------------------------


def test_events_for_other_destinations_are_reported_at_start_and_can_be_purged(tmp_path, caplog):
    old = "http://127.0.0.1:9/old-events"
    first = Client(old, mode="durable", spool_dir=str(tmp_path), delivery=fast())
    send_numbered(first, range(5))
    first.close(timeout=0)
    second = Client(DEST, mode="durable", spool_dir=str(tmp_path), delivery=fast())
    try:
        assert "holds 5 events for destinations this client does not have" in caplog.text
        assert f"{old}: 5" in caplog.text
        stats = second.stats()
        assert (stats.spool_other_destinations, stats.pending_spool) == (5, 0)
    finally:
        second.close(timeout=0)
    # docs/delivery.md: move them (a client with that destination sends them) or purge.
    [backlog] = spool_status(str(tmp_path)).pending
    assert (backlog.destination, backlog.events) == (old, 5)
    assert purge_spool(str(tmp_path), pending=True, dead_letters=False, destination=old) == (5, 0)
    assert spool_status(str(tmp_path)).pending == []
