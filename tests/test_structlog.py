"""MozDefProcessor: structlog event dicts reach a real receiver by the handler's
mapping rules, and pass on down the chain unchanged; it never raises."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import structlog

from mozdef_client import Client, ConfigurationError, Event, MozDefProcessor
from mozdef_client.delivery import DeliveryOptions, RetryPolicy
from servers import Receiver, free_port

FAST = DeliveryOptions(flush_interval=0.05, overflow="drop_newest")


class NamedLogger(structlog.ReturnLogger):
    """A wrapped logger with a name, as a stdlib logger has."""

    name = "svc.auth"


class Capture:
    """The processor after MozDef's: records the event dicts it is handed."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def __call__(self, logger: Any, method_name: str, event_dict: Any) -> Any:
        self.seen.append(event_dict)
        return event_dict


@pytest.fixture
def processor(receiver: Receiver) -> Iterator[MozDefProcessor]:
    p = MozDefProcessor(receiver.url, delivery=FAST)
    yield p
    p.close()


def chain(*processors: Any, logger: Any = None) -> Any:
    """A structlog logger with these processors, ending in a JSON renderer.

    Local to the test: structlog's global configuration is never touched.
    """
    return structlog.wrap_logger(
        logger if logger is not None else NamedLogger(),
        processors=[*processors, structlog.processors.JSONRenderer()],
    )


def delivered(processor: MozDefProcessor, receiver: Receiver, count: int) -> list[Any]:
    processor.flush(10)
    return receiver.wait_for_events(count, timeout=10)


def fail_here() -> None:
    raise ValueError("bad value")


FAIL_LINE = fail_here.__code__.co_firstlineno + 1


# -- mapping ----------------------------------------------------------------------


def test_an_event_arrives_with_summary_severity_source_time_and_details(
    processor: MozDefProcessor, receiver: Receiver
) -> None:
    log = chain(
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        processor,
    )
    rendered = log.warning("login failed", username="alice", sourceipaddress="192.0.2.7")
    [event] = delivered(processor, receiver, 1)
    assert event["summary"] == "login failed"
    assert event["severity"] == "WARNING"
    assert event["source"] == "svc.auth"  # the wrapped logger's name
    assert event["category"] == "event"
    assert event["details"] == {"username": "alice", "sourceipaddress": "192.0.2.7"}
    stamped = json.loads(rendered)["timestamp"]
    assert datetime.fromisoformat(event["timestamp"]) == datetime.fromisoformat(
        stamped.replace("Z", "+00:00")
    )


def test_the_event_dict_passes_on_unchanged(processor: MozDefProcessor) -> None:
    after = Capture()
    before = Capture()
    log = chain(structlog.processors.add_log_level, before, processor, after)
    log.error("x", tags=["a"], details={"k": 1}, category="c", nested={"deep": [1, 2]})
    assert after.seen == [before.seen[0]]
    assert after.seen[0] is before.seen[0]
    assert after.seen[0] == {
        "event": "x",
        "level": "error",
        "tags": ["a"],
        "details": {"k": 1},
        "category": "c",
        "nested": {"deep": [1, 2]},
    }


def test_logger_key_category_source_tags_and_details_follow_the_handler_rules(
    receiver: Receiver,
) -> None:
    processor = MozDefProcessor(
        receiver.url,
        delivery=FAST,
        category="authentication",
        tags=["sso"],
        extra_mapping={"user": "username", "password": None},
    )
    log = chain(structlog.processors.add_log_level, processor)
    log.info("default", logger="app.sso", user="alice", password="hunter2")
    log.info("own", category="authorization", source="okta", tags=["mfa"], details={"name": "x"})
    events = {e["summary"]: e for e in delivered(processor, receiver, 2)}
    assert events["default"]["source"] == "app.sso"
    assert events["default"]["category"] == "authentication"
    assert events["default"]["tags"] == ["sso"]
    assert events["default"]["details"] == {"username": "alice"}
    assert (events["own"]["category"], events["own"]["source"]) == ("authorization", "okta")
    assert events["own"]["tags"] == ["sso", "mfa"]
    assert events["own"]["details"] == {"name": "x"}
    processor.close()


@pytest.mark.parametrize(
    ("method", "level", "severity"),
    [
        ("debug", "debug", "DEBUG"),
        ("info", "info", "INFO"),
        ("warning", "warning", "WARNING"),
        ("error", "error", "ERROR"),
        ("critical", "critical", "CRITICAL"),
        ("info", "notice", "NOTICE"),
        ("info", "alert", "ALERT"),
        ("info", "emergency", "EMERGENCY"),
        ("info", 25, "INFO"),
        ("info", 70, "CRITICAL"),
        ("exception", None, "ERROR"),
        ("warning", None, "WARNING"),
        ("msg", None, "INFO"),
    ],
)
def test_level_key_or_method_name_gives_the_severity(
    processor: MozDefProcessor, receiver: Receiver, method: str, level: Any, severity: str
) -> None:
    fields = {"level": level} if level is not None else {}
    processor(NamedLogger(), method, {"event": "x", **fields})
    [event] = delivered(processor, receiver, 1)
    assert event["severity"] == severity
    assert event["details"] == {}


def test_min_severity_passes_lesser_events_on_without_sending(receiver: Receiver) -> None:
    processor = MozDefProcessor(receiver.url, delivery=FAST, min_severity="warning")
    after = Capture()
    log = chain(structlog.processors.add_log_level, processor, after)
    log.debug("quiet")
    log.info("quiet too")
    log.warning("loud")
    assert [e["summary"] for e in delivered(processor, receiver, 1)] == ["loud"]
    assert [e["event"] for e in after.seen] == ["quiet", "quiet too", "loud"]
    assert processor.client.stats().submitted == 1
    processor.close()


@pytest.fixture
def west_of_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time five hours behind UTC: a local time read as UTC would be 5 h off."""
    monkeypatch.setenv("TZ", "TEST+05")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    "stamper",
    [
        structlog.processors.TimeStamper(fmt=None),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.TimeStamper(fmt="iso", utc=False),  # local time, no offset
    ],
    ids=["unix", "iso-utc", "iso-local"],
)
def test_timestamps_of_every_stamper_become_the_event_time(
    processor: MozDefProcessor, receiver: Receiver, west_of_utc: None, stamper: Any
) -> None:
    before = datetime.now(timezone.utc)
    chain(stamper, processor).info("stamped")
    [event] = delivered(processor, receiver, 1)
    sent = datetime.fromisoformat(event["timestamp"])
    assert before.timestamp() - 1 <= sent.timestamp() <= time.time() + 1
    assert "timestamp" not in event["details"]


def test_a_timestamp_that_is_not_a_time_stays_in_details(
    processor: MozDefProcessor, receiver: Receiver
) -> None:
    chain(processor).info("when?", timestamp="yesterday")
    [event] = delivered(processor, receiver, 1)
    assert event["details"] == {"timestamp": "yesterday"}


def test_an_empty_event_gets_a_placeholder_summary(
    processor: MozDefProcessor, receiver: Receiver
) -> None:
    processor(NamedLogger(), "info", {"user": "alice"})
    processor(NamedLogger(), "info", {"event": 42})
    events = sorted(e["summary"] for e in delivered(processor, receiver, 2))
    assert events == ["(no message)", "42"]


# -- exceptions ---------------------------------------------------------------------

RAISED = {
    "type": "ValueError",
    "message": "bad value",
    "file": __file__,
    "line": FAIL_LINE,
    "function": "fail_here",
}


def test_exc_info_sends_type_message_and_place_without_traceback(
    processor: MozDefProcessor, receiver: Receiver
) -> None:
    log = chain(structlog.processors.add_log_level, processor)
    try:
        fail_here()
    except ValueError:
        log.exception("could not parse")
    [event] = delivered(processor, receiver, 1)
    assert event["severity"] == "ERROR"
    assert event["details"] == {"exception": RAISED}
    assert "Traceback" not in json.dumps(event)


def test_an_exception_instance_as_exc_info_works_outside_the_except_block(
    processor: MozDefProcessor, receiver: Receiver
) -> None:
    try:
        fail_here()
    except ValueError as exc:
        error = exc
    chain(processor).error("later", exc_info=error)
    [event] = delivered(processor, receiver, 1)
    assert event["details"] == {"exception": RAISED}


def test_include_traceback_adds_the_traceback(receiver: Receiver) -> None:
    processor = MozDefProcessor(receiver.url, delivery=FAST, include_traceback=True)
    try:
        fail_here()
    except ValueError:
        chain(processor).exception("boom")
    [event] = delivered(processor, receiver, 1)
    traceback = event["details"]["exception"].pop("traceback")
    assert event["details"]["exception"] == RAISED
    assert traceback.startswith("Traceback (most recent call last):")
    assert traceback.endswith("ValueError: bad value")
    processor.close()


def test_a_traceback_format_exc_info_rendered_is_reduced_to_its_exception(
    processor: MozDefProcessor, receiver: Receiver
) -> None:
    log = chain(structlog.processors.format_exc_info, processor)
    try:
        fail_here()
    except ValueError:
        log.exception("boom")
    [event] = delivered(processor, receiver, 1)
    assert event["details"] == {"exception": {"type": "ValueError", "message": "bad value"}}


def test_dict_tracebacks_are_reduced_to_type_message_and_place(
    processor: MozDefProcessor, receiver: Receiver
) -> None:
    log = chain(structlog.processors.dict_tracebacks, processor)
    try:
        fail_here()
    except ValueError:
        log.exception("boom")
    [event] = delivered(processor, receiver, 1)
    assert event["details"] == {"exception": RAISED}


# -- never raises, never feeds back -------------------------------------------------------


def test_a_dead_mozdef_never_raises_and_drops_are_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    processor = MozDefProcessor(
        f"http://127.0.0.1:{free_port()}/events",
        delivery=DeliveryOptions(
            max_queue_events=10,
            max_batch_events=5,
            overflow="drop_newest",
            retry=RetryPolicy(backoff_initial=0.05, backoff_max=0.2),
        ),
    )
    after = Capture()
    log = chain(processor, after)
    started = time.monotonic()
    for i in range(200):
        log.error("event", i=i)
    assert time.monotonic() - started < 5
    assert len(after.seen) == 200  # every event still went down the chain
    stats = processor.client.stats()
    assert stats.dropped["queue_full"] >= 200 - 15
    err = capsys.readouterr().err
    assert err.count("--- MozDef structlog processor error ---") == 1
    assert "MozDef log event dropped" in err
    processor.close(0.5)


def test_failures_are_silent_when_logging_raise_exceptions_is_off(
    processor: MozDefProcessor,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(logging, "raiseExceptions", False)
    chain(processor).info("bad", category=5)
    assert capsys.readouterr().err == ""


def test_an_invalid_event_is_reported_and_the_chain_goes_on(
    processor: MozDefProcessor, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    after = Capture()
    log = chain(processor, after)
    log.info("bad", category=5)
    log.info("good")
    assert [e["summary"] for e in delivered(processor, receiver, 1)] == ["good"]
    assert [e["event"] for e in after.seen] == ["bad", "good"]
    err = capsys.readouterr().err
    assert "--- MozDef structlog processor error ---" in err
    assert "category must be a string" in err


def test_placed_after_the_renderer_it_reports_and_passes_the_string_on(
    processor: MozDefProcessor, capsys: pytest.CaptureFixture[str]
) -> None:
    rendered = processor(NamedLogger(), "info", '{"event": "x"}')  # type: ignore[arg-type]
    assert rendered == '{"event": "x"}'
    assert "place it before the renderer" in capsys.readouterr().err


def test_events_of_the_library_loggers_are_not_sent(processor: MozDefProcessor) -> None:
    processor(NamedLogger(), "warning", {"event": "x", "logger": "mozdef_client.delivery"})

    class LibraryLogger:
        name = "mozdef_client"

    processor(LibraryLogger(), "warning", {"event": "y"})
    assert processor.client.stats().submitted == 0


def test_stdlib_records_through_processor_formatter_follow_the_same_rules(
    processor: MozDefProcessor, receiver: Receiver
) -> None:
    """MozDefProcessor inside structlog's ProcessorFormatter sees stdlib records; the
    library's own records (a dead-letter warning, say) are not sent."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, structlog.stdlib.add_log_level],
            processors=[
                processor,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    loggers = [logging.getLogger("app.web"), logging.getLogger("mozdef_client.delivery")]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    try:
        loggers[0].warning("plain stdlib %s", "record")
        loggers[1].warning("1 events to somewhere dead-lettered")
    finally:
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
    [event] = delivered(processor, receiver, 1)
    time.sleep(0.2)
    assert (event["summary"], event["severity"], event["source"]) == (
        "plain stdlib record",
        "WARNING",
        "app.web",
    )
    assert len(receiver.events) == 1
    assert len(stream.getvalue().splitlines()) == 2  # both still rendered by the formatter


def test_eight_threads_deliver_every_event_exactly_once(receiver: Receiver) -> None:
    processor = MozDefProcessor(receiver.url, delivery=DeliveryOptions(flush_interval=0.05))
    log = chain(structlog.processors.add_log_level, processor)
    threads, per_thread = 8, 300
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            log.info("event", worker=n, i=i)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    processor.flush(20)
    events = receiver.wait_for_events(threads * per_thread, timeout=20)
    pairs = [(e["details"]["worker"], e["details"]["i"]) for e in events]
    assert len(pairs) == threads * per_thread
    assert set(pairs) == {(n, i) for n in range(threads) for i in range(per_thread)}
    processor.close()


# -- construction -------------------------------------------------------------------


def test_a_given_client_is_used_and_left_open(receiver: Receiver) -> None:
    client = Client(receiver.url, mode="background", delivery=FAST)
    processor = MozDefProcessor(client=client)
    assert processor.client is client
    chain(processor).info("through the given client")
    processor.close()
    client.flush(5)
    assert [e["summary"] for e in receiver.events] == ["through the given client"]
    assert client.send(Event(summary="still open")) is True
    client.close()


def test_mozdef_url_names_the_destination(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOZDEF_URL", receiver.url)
    processor = MozDefProcessor(delivery=FAST)
    assert processor.client.mode == "background"
    chain(processor).info("from the environment")
    assert [e["summary"] for e in delivered(processor, receiver, 1)] == ["from the environment"]
    processor.close()


@pytest.mark.parametrize(
    "options",
    [{"category": 5}, {"tags": "one"}, {"min_severity": "loud"}, {"extra_mapping": [1]}],
)
def test_invalid_options_are_refused(receiver: Receiver, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        MozDefProcessor(receiver.url, **options)
