"""MozDefHandler: log records reach a real receiver as MozDef events; logging
never blocks or raises, whatever MozDef does; the library never logs into itself."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from mozdef_client import (
    Client,
    ConfigurationError,
    EncodedEvent,
    MozDefHandler,
    PermanentError,
    Severity,
)
from mozdef_client.delivery import DeliveryOptions, RetryPolicy
from mozdef_client.testing import RecordingTransport
from servers import Fault, Receiver, free_port

FAST = DeliveryOptions(flush_interval=0.05, overflow="drop_newest")


class Collector(logging.Handler):
    """Keeps every record it is given (to see what else was logged)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def attach() -> Iterator[Any]:
    """attach(handler, name) -> a logger (DEBUG, not propagating) using the handler.

    Everything attached is detached and closed after the test.
    """
    attached: list[tuple[logging.Logger, logging.Handler, int, bool]] = []

    def attach(handler: logging.Handler, name: str = "app.auth") -> logging.Logger:
        logger = logging.getLogger(name)
        attached.append((logger, handler, logger.level, logger.propagate))
        logger.setLevel(logging.DEBUG)
        logger.propagate = name == ""  # the root logger has nowhere to propagate to
        logger.addHandler(handler)
        return logger

    yield attach
    for logger, handler, level, propagate in reversed(attached):
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
        handler.close()


@pytest.fixture
def handler(receiver: Receiver) -> Iterator[MozDefHandler]:
    h = MozDefHandler(receiver.url, delivery=FAST)
    yield h
    h.close()


@pytest.fixture
def levels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Level names registered in a test are forgotten after it."""
    monkeypatch.setattr(logging, "_levelToName", dict(logging._levelToName))
    monkeypatch.setattr(logging, "_nameToLevel", dict(logging._nameToLevel))


def delivered(handler: MozDefHandler, receiver: Receiver, count: int) -> list[dict[str, Any]]:
    handler.flush()
    return receiver.wait_for_events(count, timeout=10)


def record(
    name: str = "app", level: int = logging.INFO, msg: str = "hello", **attributes: Any
) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, msg, None, None)
    made.__dict__.update(attributes)
    return made


def fail_here() -> None:
    raise ValueError("bad value")


FAIL_LINE = fail_here.__code__.co_firstlineno + 1


class Refused(Exception):
    pass


# -- a record becomes an event ---------------------------------------------------


def test_a_warning_arrives_with_summary_severity_source_and_category(
    attach: Any, handler: MozDefHandler, receiver: Receiver
) -> None:
    before = datetime.now(timezone.utc)
    attach(handler, "app.auth").warning("login failed for %s", "alice")
    [event] = delivered(handler, receiver, 1)
    assert event["summary"] == "login failed for alice"
    assert event["severity"] == "WARNING"
    assert event["source"] == "app.auth"
    assert event["category"] == "event"
    assert event["tags"] == []
    assert event["details"] == {}
    assert event["processid"] == os.getpid()
    sent = datetime.fromisoformat(event["timestamp"])
    assert before <= sent <= datetime.now(timezone.utc)


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        (logging.NOTSET, "DEBUG"),
        (5, "DEBUG"),
        (logging.DEBUG, "DEBUG"),
        (logging.INFO, "INFO"),
        (25, "INFO"),
        (logging.WARNING, "WARNING"),
        (logging.ERROR, "ERROR"),
        (logging.CRITICAL, "CRITICAL"),
        (55, "CRITICAL"),
        (99, "CRITICAL"),
    ],
)
def test_unnamed_levels_round_down_to_a_standard_level(
    handler: MozDefHandler, level: int, severity: str
) -> None:
    assert handler.make_event(record(level=level)).severity == Severity(severity)


@pytest.mark.parametrize(
    ("level", "name", "severity"),
    [
        (25, "NOTICE", "NOTICE"),
        (60, "ALERT", "ALERT"),
        (70, "EMERGENCY", "EMERGENCY"),
        (70, "EMERG", "EMERGENCY"),
        (45, "ALERT", "ALERT"),  # the name decides, wherever the number is
        (35, "notice", "NOTICE"),
        (52, "CRIT", "CRITICAL"),
        (25, "SUCCESS", "INFO"),  # not a severity name: the number decides
        (35, "AUDIT", "WARNING"),
        (5, "TRACE", "DEBUG"),
    ],
)
def test_registered_level_names_decide_before_numbers(
    levels: None, handler: MozDefHandler, level: int, name: str, severity: str
) -> None:
    logging.addLevelName(level, name)
    assert handler.make_event(record(level=level)).severity == Severity(severity)


def test_custom_levels_arrive_with_their_severity(
    levels: None, attach: Any, handler: MozDefHandler, receiver: Receiver
) -> None:
    for level, name in ((25, "NOTICE"), (60, "ALERT"), (70, "EMERGENCY")):
        logging.addLevelName(level, name)
    logger = attach(handler)
    for level in (25, 60, 70):
        logger.log(level, "at %d", level)
    events = delivered(handler, receiver, 3)
    assert sorted((e["summary"], e["severity"]) for e in events) == [
        ("at 25", "NOTICE"),
        ("at 60", "ALERT"),
        ("at 70", "EMERGENCY"),
    ]


def test_extra_fields_become_details_and_record_attributes_do_not(
    attach: Any, handler: MozDefHandler, receiver: Receiver
) -> None:
    logger = attach(handler)
    logger.info(
        "login",
        extra={"username": "alice", "sourceipaddress": "192.0.2.7", "success": False, "_x": 1},
        stack_info=True,
    )
    [event] = delivered(handler, receiver, 1)
    # No lineno, funcName, threadName, stack_info...; underscored names are private.
    assert event["details"] == {
        "username": "alice",
        "sourceipaddress": "192.0.2.7",
        "success": False,
    }


def test_a_details_dict_reaches_names_logrecord_reserves(
    attach: Any, handler: MozDefHandler, receiver: Receiver
) -> None:
    attach(handler).warning(
        "read", extra={"details": {"filename": "/etc/shadow", "name": "cat"}, "uid": 0}
    )
    [event] = delivered(handler, receiver, 1)
    assert event["details"] == {"filename": "/etc/shadow", "name": "cat", "uid": 0}


def test_a_rename_dict_renames_and_drops_fields(attach: Any, receiver: Receiver) -> None:
    handler = MozDefHandler(
        receiver.url, delivery=FAST, extra_mapping={"user": "username", "password": None}
    )
    attach(handler).info("login", extra={"user": "alice", "password": "hunter2", "ip": "x"})
    [event] = delivered(handler, receiver, 1)
    assert event["details"] == {"username": "alice", "ip": "x"}


def test_a_callable_mapping_makes_the_details(attach: Any, receiver: Receiver) -> None:
    def mapping(fields: dict[str, Any]) -> dict[str, Any]:
        return {"request": fields, "count": len(fields)}

    handler = MozDefHandler(receiver.url, delivery=FAST, extra_mapping=mapping)
    attach(handler).info("hit", extra={"path": "/login", "status": 401})
    [event] = delivered(handler, receiver, 1)
    assert event["details"] == {"request": {"path": "/login", "status": 401}, "count": 2}


def test_category_source_and_tags_per_handler_and_per_record(
    attach: Any, receiver: Receiver
) -> None:
    handler = MozDefHandler(
        receiver.url, delivery=FAST, category="authentication", tags=["sso", "prod"]
    )
    logger = attach(handler, "app.sso")
    logger.info("default")
    logger.info(
        "own",
        extra={"category": "authorization", "source": "okta", "tags": ["mfa", "sso"]},
    )
    logger.info("one tag", extra={"tags": "single"})
    events = {e["summary"]: e for e in delivered(handler, receiver, 3)}
    assert (events["default"]["category"], events["default"]["source"]) == (
        "authentication",
        "app.sso",
    )
    assert events["default"]["tags"] == ["sso", "prod"]
    assert (events["own"]["category"], events["own"]["source"]) == ("authorization", "okta")
    assert events["own"]["tags"] == ["sso", "prod", "mfa"]  # merged, no duplicate
    assert events["one tag"]["tags"] == ["sso", "prod", "single"]
    assert all(e["details"] == {} for e in events.values())


# -- exceptions -------------------------------------------------------------------


def test_an_exception_sends_its_type_message_and_place_but_no_traceback(
    attach: Any, handler: MozDefHandler, receiver: Receiver
) -> None:
    logger = attach(handler)
    try:
        fail_here()
    except ValueError:
        logger.exception("could not parse")
    [event] = delivered(handler, receiver, 1)
    assert event["severity"] == "ERROR"
    assert event["summary"] == "could not parse"
    assert event["details"] == {
        "exception": {
            "type": "ValueError",
            "message": "bad value",
            "file": __file__,
            "line": FAIL_LINE,
            "function": "fail_here",
        }
    }
    assert "Traceback" not in json.dumps(event)


def test_include_traceback_adds_the_traceback_and_stack(attach: Any, receiver: Receiver) -> None:
    handler = MozDefHandler(receiver.url, delivery=FAST, include_traceback=True)
    logger = attach(handler)
    try:
        raise Refused("no")
    except Refused:
        logger.error("refused", exc_info=True, stack_info=True)
    [event] = delivered(handler, receiver, 1)
    exception = event["details"]["exception"]
    assert exception["type"] == f"{Refused.__module__}.Refused"
    assert exception["traceback"].startswith("Traceback (most recent call last):")
    assert exception["traceback"].endswith("Refused: no")
    assert 'raise Refused("no")' in exception["traceback"]
    assert event["details"]["stack"].startswith("Stack (most recent call last):")


def test_an_empty_message_takes_the_exception_or_a_placeholder(handler: MozDefHandler) -> None:
    try:
        fail_here()
    except ValueError:
        with_exception = record(msg="", exc_info=sys.exc_info())
    assert handler.make_event(with_exception).summary == "ValueError: bad value"
    assert handler.make_event(record(msg="")).summary == "(no message)"


# -- values that are not JSON, and invalid records ---------------------------------


def test_values_json_cannot_carry_are_sent_as_text(
    attach: Any, handler: MozDefHandler, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    attach(handler).warning(
        "odd file \udcff", extra={"obj": Opaque(), "ratio": float("nan"), "count": 3}
    )
    [event] = delivered(handler, receiver, 1)
    assert event["summary"] == "odd file \\udcff"
    assert event["details"] == {"obj": "<Opaque>", "ratio": "nan", "count": 3}
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("msg", "args", "extra"),
    [
        ("bad category", (), {"category": 5}),
        ("bad tags", (), {"tags": [1, 2]}),
        ("%d apples", ("many",), {}),  # the message cannot be formatted
    ],
)
def test_an_invalid_record_goes_to_handle_error_and_never_raises(
    attach: Any,
    handler: MozDefHandler,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
    msg: str,
    args: tuple[Any, ...],
    extra: dict[str, Any],
) -> None:
    logger = attach(handler)
    logger.warning(msg, *args, extra=extra)  # must not raise
    logger.warning("next one")
    assert [e["summary"] for e in delivered(handler, receiver, 1)] == ["next one"]
    assert capsys.readouterr().err.count("--- Logging error ---") == 1


def test_a_failing_mapping_goes_to_handle_error(
    attach: Any, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    def mapping(fields: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("user")

    handler = MozDefHandler(receiver.url, delivery=FAST, extra_mapping=mapping)
    attach(handler).info("login")
    assert "KeyError: 'user'" in capsys.readouterr().err
    assert handler.client.stats().submitted == 0


def test_handle_error_is_silent_when_raise_exceptions_is_off(
    attach: Any,
    handler: MozDefHandler,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(logging, "raiseExceptions", False)
    attach(handler).warning("bad", extra={"category": 5})
    assert capsys.readouterr().err == ""


# -- a dead or failing MozDef -----------------------------------------------------------


def dead_handler(**options: Any) -> MozDefHandler:
    """A handler whose destination refuses connections, with a queue of 10."""
    delivery = DeliveryOptions(
        max_queue_events=10,
        max_batch_events=5,
        overflow="drop_newest",
        retry=RetryPolicy(backoff_initial=0.05, backoff_max=0.2),
    )
    return MozDefHandler(f"http://127.0.0.1:{free_port()}/events", delivery=delivery, **options)


def test_a_dead_mozdef_never_blocks_or_raises_and_drops_are_counted(
    attach: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = dead_handler()
    logger = attach(handler)
    started = time.monotonic()
    for i in range(200):
        logger.error("event %d", i)
    elapsed = time.monotonic() - started
    stats = handler.client.stats()
    assert stats.submitted == 200
    # At most a queue (10) and a batch in flight (5) were taken; the rest dropped.
    assert stats.dropped["queue_full"] >= 200 - 15
    assert stats.delivered == 0
    assert elapsed < 5, "logging waited for the dead destination"
    # The first drop is reported through handleError; later ones are only counted.
    err = capsys.readouterr().err
    assert err.count("--- Logging error ---") == 1
    assert "MozDef log event dropped" in err
    assert "'queue_full'" in err


def test_every_drop_is_reported_when_the_interval_is_zero(
    attach: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = dead_handler(drop_report_interval=0)
    logger = attach(handler)
    for i in range(50):
        logger.error("event %d", i)
    dropped = handler.client.stats().dropped["queue_full"]
    assert capsys.readouterr().err.count("--- Logging error ---") == dropped


def test_drops_are_counted_silently_when_raise_exceptions_is_off(
    attach: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(logging, "raiseExceptions", False)
    handler = dead_handler(drop_report_interval=0)
    logger = attach(handler)
    for i in range(50):
        logger.error("event %d", i)
    assert handler.client.stats().dropped["queue_full"] >= 50 - 15
    assert capsys.readouterr().err == ""


def test_a_hanging_mozdef_does_not_slow_logging_and_gets_everything_later(
    attach: Any, handler: MozDefHandler, receiver: Receiver
) -> None:
    receiver.script(Fault(hang=3.0))
    logger = attach(handler)
    logger.info("first")  # its batch meets the hang
    time.sleep(0.3)
    started = time.monotonic()
    for i in range(100):
        logger.info("event %d", i)
    assert time.monotonic() - started < 2.5, "logging waited for the hanging destination"
    events = receiver.wait_for_events(101, timeout=30)
    assert len(events) == 101
    assert handler.client.stats().dropped == {}


def test_flush_and_close_are_bounded_when_mozdef_is_dead(attach: Any) -> None:
    handler = dead_handler(flush_timeout=0.5, close_timeout=0.5)
    logger = attach(handler)
    for i in range(5):
        logger.error("event %d", i)
    started = time.monotonic()
    handler.flush()
    handler.close()
    assert time.monotonic() - started < 4
    assert handler.client.stats().pending_memory == 0  # closed: the rest counted as dropped


def test_a_record_after_close_is_counted_not_reported(
    attach: Any, handler: MozDefHandler, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = attach(handler)
    handler.close()
    logger.error("too late")
    assert handler.client.stats().dropped == {"closed": 1}
    assert capsys.readouterr().err == ""


# -- the library never logs into its own handler ---------------------------------------


@pytest.fixture
def root_handlers(attach: Any) -> Iterator[Any]:
    """attach_root(handler): put a handler on the root logger, at DEBUG, for one test."""
    root = logging.getLogger()
    level = root.level
    yield lambda handler: attach(handler, "")
    root.setLevel(level)


def test_library_warnings_about_a_failing_destination_are_not_sent(
    root_handlers: Any, receiver: Receiver
) -> None:
    """MozDef refuses every batch (400): the pipeline dead-letters it and logs a
    warning on the root logger's path; the handler on the root logger sends none."""
    receiver.script(*[400] * 100)
    seen = Collector()
    handler = MozDefHandler(receiver.url, delivery=FAST)
    root_handlers(seen)
    root_handlers(handler)
    app = logging.getLogger("app.recursion")
    for i in range(3):
        app.warning("app event %d", i)
        handler.flush()  # one batch each: one dead-letter warning each
    time.sleep(0.5)  # room for any feedback loop to show
    warnings = [r for r in seen.records if r.name.startswith("mozdef_client")]
    assert any("dead-lettered" in r.getMessage() for r in warnings)
    posted = [doc["summary"] for request in receiver.requests for doc in request.documents]
    assert sorted(posted) == ["app event 0", "app event 1", "app event 2"]
    assert handler.client.stats().dead_lettered == 3


def chatty_transport(rename_thread: bool = False) -> RecordingTransport:
    """A destination whose client library logs an error (as pika or botocore do) and
    refuses; with ``rename_thread``, on a delivery thread that something renamed."""

    def log(batch: list[EncodedEvent]) -> None:
        if rename_thread:
            threading.current_thread().name = "renamed by a library"
        logging.getLogger("thirdparty.net").error("connection to chatty lost")

    refused = PermanentError("chatty refused", destination="chatty")
    return RecordingTransport(log, error=refused, name="chatty")


def summaries(transport: RecordingTransport) -> list[str]:
    return [document["summary"] for document in transport.documents]


def test_what_a_transport_logs_on_a_delivery_thread_is_not_sent(root_handlers: Any) -> None:
    transport = chatty_transport()
    client = Client(transport, mode="background", delivery=FAST)
    seen = Collector()
    handler = MozDefHandler(client=client)
    root_handlers(seen)
    root_handlers(handler)
    logging.getLogger("app.recursion").warning("app event")
    client.flush(5)
    time.sleep(0.5)
    assert summaries(transport) == ["app event"]
    assert any(r.name == "thirdparty.net" for r in seen.records)
    client.close()


def test_a_delivery_thread_is_recognised_whatever_its_name(root_handlers: Any) -> None:
    transport = chatty_transport(rename_thread=True)
    client = Client(transport, mode="background", delivery=FAST)
    handler = MozDefHandler(client=client)
    root_handlers(handler)
    logging.getLogger("app.recursion").warning("app event")
    client.flush(5)
    time.sleep(0.5)
    assert summaries(transport) == ["app event"]
    client.close()


def test_what_is_logged_while_sending_is_not_sent_again(
    root_handlers: Any, receiver: Receiver
) -> None:
    """A sync client: urllib3 logs at DEBUG inside send(), on the logging thread."""
    client = Client(receiver.url)  # sync
    seen = Collector()
    handler = MozDefHandler(client=client)
    root_handlers(seen)
    root_handlers(handler)
    logging.getLogger("app.recursion").warning("app event")
    assert [e["summary"] for e in receiver.events] == ["app event"]
    assert any(r.name.startswith("urllib3") for r in seen.records)
    client.close()


@pytest.mark.parametrize("name", ["mozdef_client", "mozdef_client.delivery"])
def test_records_of_the_library_loggers_are_ignored(handler: MozDefHandler, name: str) -> None:
    handler.handle(record(name=name))
    handler.emit(record(name=name))
    assert handler.client.stats().submitted == 0


def test_a_package_whose_name_merely_starts_like_ours_is_sent(handler: MozDefHandler) -> None:
    handler.handle(record(name="mozdef_clientele"))
    assert handler.client.stats().submitted == 1


# -- threads -------------------------------------------------------------------


def test_eight_threads_logging_at_once_deliver_every_event_exactly_once(
    attach: Any, receiver: Receiver
) -> None:
    handler = MozDefHandler(receiver.url, delivery=DeliveryOptions(flush_interval=0.05))
    logger = attach(handler, "app.threads")
    threads, per_thread = 8, 400
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            logger.info("event", extra={"worker": n, "i": i})

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    handler.flush_timeout = 20
    events = delivered(handler, receiver, threads * per_thread)
    pairs = [(e["details"]["worker"], e["details"]["i"]) for e in events]
    assert len(pairs) == threads * per_thread
    assert set(pairs) == {(n, i) for n in range(threads) for i in range(per_thread)}
    stats = handler.client.stats()
    assert (stats.submitted, stats.delivered, dict(stats.dropped)) == (3200, 3200, {})


# -- construction -------------------------------------------------------------------


def test_mozdef_url_names_the_destination(
    attach: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOZDEF_URL", receiver.url)
    handler = MozDefHandler(delivery=FAST)
    assert handler.client.mode == "background"
    attach(handler).info("from the environment")
    assert [e["summary"] for e in delivered(handler, receiver, 1)] == ["from the environment"]


def test_without_url_or_mozdef_url_construction_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOZDEF_URL", raising=False)
    with pytest.raises(ConfigurationError, match="MOZDEF_URL"):
        MozDefHandler()


@pytest.mark.parametrize(
    "options",
    [
        {"category": ""},
        {"tags": "one"},
        {"tags": [1]},
        {"extra_mapping": {"user": 5}},
        {"extra_mapping": 42},
        {"include_traceback": "yes"},
        {"flush_timeout": -1},
        {"close_timeout": "2"},
        {"drop_report_interval": None},
    ],
)
def test_invalid_options_are_refused(receiver: Receiver, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        MozDefHandler(receiver.url, **options)


def test_url_and_client_together_are_refused(receiver: Receiver) -> None:
    client = Client(receiver.url)
    with pytest.raises(ConfigurationError, match="either client"):
        MozDefHandler(receiver.url, client=client)
    client.close()


def test_closing_the_handler_closes_its_own_client_but_not_a_given_one(
    receiver: Receiver,
) -> None:
    own = MozDefHandler(receiver.url, delivery=FAST)
    own.close()
    assert own.client.send(own.make_event(record())) is False  # closed: dropped

    client = Client(receiver.url, mode="background", delivery=FAST)
    given = MozDefHandler(client=client)
    given.close()
    assert client.send(given.make_event(record(msg="still open"))) is True
    client.flush(5)
    assert [e["summary"] for e in receiver.events] == ["still open"]
    client.close()


# -- real programs: dictConfig, and logging.shutdown() -------------------------------

PROGRAM = """
import logging, logging.config, os, sys, time
from mozdef_client.delivery import DeliveryOptions

# A long flush interval and no exit-time close of the pipeline: events leave
# only when someone flushes (or closes) the handler.
SLOW = DeliveryOptions(flush_interval=60, exit_timeout=None)
from mozdef_client import Client
AUTH = {{"Authorization": "Bearer t0ken"}}
CLIENT = Client(sys.argv[1], mode="background", delivery=SLOW, headers=AUTH)
handler = {handler}
logging.config.dictConfig({{
    "version": 1,
    "handlers": {{"mozdef": handler}},
    "loggers": {{"app": {{"handlers": ["mozdef"], "level": "INFO"}}}},
}})
log = logging.getLogger("app.login")
# The worker sends what it finds when it starts: get that over with, so the
# events below wait for a flush.
log.warning("warm-up")
logging.getLogger("app").handlers[0].flush()
time.sleep(0.2)
log.debug("not at this level")
log.info("ignored by the handler's level")
log.warning("login failed", extra={{"user": "alice", "sourceipaddress": "192.0.2.7"}})
log.error("locked out", extra={{"user": "alice", "tags": ["lockout"]}})
{ending}
"""

FACTORY = """{
    "()": "mozdef_client.MozDefHandler",
    "url": sys.argv[1],
    "level": "WARNING",
    "category": "authentication",
    "tags": ["dictconfig"],
    "extra_mapping": {"user": "username"},
    "delivery": SLOW,
}"""

CLASS = """{
    "class": "mozdef_client.MozDefHandler",
    "url": sys.argv[1],
    "level": "WARNING",
    "category": "authentication",
    "tags": ["dictconfig"],
    "extra_mapping": {"user": "username"},
    "delivery": SLOW,
}"""


# A client built by the program (here with an Authorization header), named by ext://.
GIVEN_CLIENT = """{
    "()": "mozdef_client.MozDefHandler",
    "client": "ext://__main__.CLIENT",
    "level": "WARNING",
    "category": "authentication",
    "tags": ["dictconfig"],
    "extra_mapping": {"user": "username"},
}"""


def run_program(url: str, handler: str, ending: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(PROGRAM).format(handler=handler, ending=ending)
    return subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "handler", [FACTORY, CLASS, GIVEN_CLIENT], ids=["factory", "class", "given-client"]
)
def test_dict_config_program_delivers_at_exit(receiver: Receiver, handler: str) -> None:
    result = run_program(receiver.url, handler, ending="")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    events = sorted(receiver.wait_for_events(3), key=lambda e: e["summary"])
    assert events.pop()["summary"] == "warm-up"
    assert [(e["summary"], e["severity"]) for e in events] == [
        ("locked out", "ERROR"),
        ("login failed", "WARNING"),
    ]
    assert {e["category"] for e in events} == {"authentication"}
    assert {e["source"] for e in events} == {"app.login"}
    assert events[0]["tags"] == ["dictconfig", "lockout"]
    assert events[1]["details"] == {"username": "alice", "sourceipaddress": "192.0.2.7"}
    authorization = {r.headers.get("Authorization") for r in receiver.requests}
    assert authorization == ({"Bearer t0ken"} if handler is GIVEN_CLIENT else {None})


def test_logging_shutdown_flushes_and_closes_the_handler(receiver: Receiver) -> None:
    """os._exit skips every exit hook but the explicit logging.shutdown()."""
    ending = """
handler = logging.getLogger("app").handlers[0]
logging.shutdown()
stats = handler.client.stats()
print(stats.delivered, stats.pending_memory, handler.client.send(handler.make_event(
    logging.makeLogRecord({"msg": "after shutdown", "levelno": 20}))))
os._exit(0)
"""
    result = run_program(receiver.url, FACTORY, ending)
    assert result.returncode == 0, result.stderr
    # Delivered, nothing left, and the client is closed (a send is refused).
    assert result.stdout.split() == ["3", "0", "False"]
    assert len(receiver.wait_for_events(3)) == 3


def test_without_logging_shutdown_nothing_would_have_left(receiver: Receiver) -> None:
    """The control for the test above: the same program, killed before any flush."""
    result = run_program(receiver.url, FACTORY, "os._exit(0)")
    assert result.returncode == 0, result.stderr
    time.sleep(0.5)
    assert [e["summary"] for e in receiver.events] == ["warm-up"]
