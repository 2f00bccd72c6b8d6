"""Configuration refused early, and closing, flushing and logging that do not lose or wait.

5. header values HTTP cannot send are refused at ``Client()``;
6. ``sqs://`` without boto3 is refused at ``Client()``;
14. a flush or close with a deadline retries without backoff, so a short
    outage that ended before exit loses nothing;
16. the logging handler never takes its lock for the library's own records;
17. every client's exit close shares one deadline.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time

import pytest

from delivery_helpers import python_env
from mozdef_client import Client, ConfigurationError, Event
from mozdef_client.delivery import DeliveryOptions, RetryPolicy
from mozdef_client.handler import MozDefHandler
from servers import Receiver, free_port

# -- 5. header values ------------------------------------------------------------------


def test_a_header_value_that_is_not_latin1_is_refused_naming_the_header_only() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Client("https://mozdef.example.com/events",
               headers={"Authorization": "Bearer s3cret\u2026tail"})  # fmt: skip
    message = str(caught.value)
    assert "Authorization" in message
    assert "Latin-1" in message
    assert "s3cret" not in message and "tail" not in message


def test_a_latin1_header_value_is_accepted() -> None:
    Client("https://mozdef.example.com/events", headers={"X-Team": "S\u00e9curit\u00e9"})


# -- 6. sqs:// without boto3 -------------------------------------------------------------


def test_sqs_without_boto3_is_refused_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # "import boto3" now fails
    with pytest.raises(ConfigurationError) as caught:
        Client("sqs://events-queue?region=us-east-1")
    assert "mozdef-client[sqs]" in str(caught.value)


# -- 14. the last tries fit in the deadline ------------------------------------------------

# A backoff that alone outlasts the close: the lane must not sleep it out.
SLOW_BACKOFF = RetryPolicy(backoff_initial=5.0, backoff_max=5.0, jitter=False)


@pytest.mark.parametrize("how", ["close", "flush"])
def test_a_short_outage_that_ended_loses_nothing_at_close_or_flush(
    receiver: Receiver, how: str
) -> None:
    receiver.script(*[503] * 5)
    client = Client(receiver.url, mode="background",
                    delivery=DeliveryOptions(retry=SLOW_BACKOFF, exit_timeout=None))  # fmt: skip
    for n in range(5000):
        client.send(Event(summary=f"event {n}", details={"n": n}))
    start = time.monotonic()
    left = client.close(timeout=2.0) if how == "close" else client.flush(timeout=2.0)
    took = time.monotonic() - start
    client.close(timeout=0)
    assert left == 0
    assert len(receiver.events) == 5000
    assert took < 2.0
    assert not client.stats().dropped


def test_a_flush_without_a_deadline_keeps_backing_off(receiver: Receiver) -> None:
    """Only a deadline hurries the lane: an endless flush must not hammer a dead server."""
    receiver.script(*[503] * 50)
    policy = RetryPolicy(backoff_initial=0.3, backoff_max=0.3, jitter=False)
    client = Client(receiver.url, mode="background",
                    delivery=DeliveryOptions(retry=policy, exit_timeout=None))  # fmt: skip
    client.send(Event(summary="one"))
    time.sleep(1.0)
    client.close(timeout=0)
    assert len(receiver.requests) <= 5


LEGACY_EXIT = """
import sys
from mozdef_client.legacy import MozDefEvent
for n in range(5000):
    message = MozDefEvent(sys.argv[1])
    message.set_fire_and_forget(True)
    message.summary = f"event {n}"
    message.details = {"n": n}
    message.send()
# no flush, no close: the atexit close must deliver them
"""


def test_legacy_fire_and_forget_loses_nothing_at_exit_after_a_short_outage(
    receiver: Receiver,
) -> None:
    """1.1-style programs just exit; the close at exit retries within its deadline.

    Jittered backoff made this lose everything in about one run in three:
    repeated, so that a regression shows.
    """
    for run in range(3):
        before = len(receiver.events)
        receiver.script(*[503] * 5)
        command = [sys.executable, "-c", LEGACY_EXIT, receiver.url]
        done = subprocess.run(command, env=python_env(), capture_output=True, text=True,
                              timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "not delivered" not in done.stderr, f"run {run}: {done.stderr}"
        assert len(receiver.events) - before == 5000, f"run {run}"


# -- 16. the handler and the library's own records ------------------------------------------


def test_the_handler_never_waits_on_its_lock_for_the_librarys_own_records(
    mozdef_events, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a sync client and the in-process receiver, the receiver's own debug
    logging (on its thread, while the handler's lock is held) must not wait."""
    root = logging.getLogger()
    receiver_logger = logging.getLogger("mozdef_client.receiver")
    monkeypatch.setattr(receiver_logger, "level", logging.DEBUG)
    handler = MozDefHandler(client=Client(mozdef_events.url, read_timeout=3.0))
    root.addHandler(handler)
    try:
        start = time.monotonic()
        logging.getLogger("app").warning("login failed")
        took = time.monotonic() - start
    finally:
        root.removeHandler(handler)
    assert took < 1.5, f"one log call took {took:.1f} s"
    assert mozdef_events.one(summary="login failed")


# -- 17. one exit deadline for every client --------------------------------------------------

FIVE_HANDLERS = """
import logging, sys
from mozdef_client.handler import MozDefHandler
log = logging.getLogger("app")
for _ in range(5):
    log.addHandler(MozDefHandler(sys.argv[1]))
for n in range(20):
    log.warning("event %d", n)
"""


def test_five_handlers_to_a_dead_destination_exit_within_one_deadline() -> None:
    url = f"http://127.0.0.1:{free_port()}/events"  # nothing listens
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(FIVE_HANDLERS), url],
                          env=python_env(), capture_output=True, text=True, timeout=60)  # fmt: skip
    took = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    # The default exit_timeout is 2 s, for each client and for all of them.
    assert took < 4.5, f"exit took {took:.1f} s"
    assert done.stderr.count("not delivered at close") == 5
