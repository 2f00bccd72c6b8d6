"""Hostile and odd values at send(): a MozDefError naming the field, quickly, or valid JSON.

Never a crash (orjson used to be handed datetimes whose tzinfo raises, which
killed the process), never a raw RuntimeError/ValueError/RecursionError from
the caller's own objects, never a hang on a key whose repr sleeps.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mozdef_client import DocumentEvent, EncodingError, Event, MozDefError, Severity, prepare
from mozdef_client.encoding import encode_document


class RaisingTz(dt.tzinfo):
    def utcoffset(self, when: object) -> dt.timedelta:
        raise RuntimeError("tz says no")

    def dst(self, when: object) -> dt.timedelta:
        raise RuntimeError("tz says no")

    def tzname(self, when: object) -> str:
        raise RuntimeError("tz says no")


class OddTz(dt.tzinfo):
    """An offset of 5 h 30 min 15.5 s: valid to Python, not to RFC 3339."""

    def utcoffset(self, when: object) -> dt.timedelta:
        return dt.timedelta(hours=5, minutes=30, seconds=15, microseconds=500000)

    def dst(self, when: object) -> dt.timedelta:
        return dt.timedelta(0)


class WrongTypeTz(dt.tzinfo):
    def utcoffset(self, when: object) -> Any:
        return "+01:00"


class HostileRepr:
    """Raises from repr, str and equality (hashes by identity, so dicts rarely compare)."""

    def __repr__(self) -> str:
        raise RuntimeError("repr says no")

    __str__ = __repr__
    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq says no")


class SleepyRepr:
    def __repr__(self) -> str:
        time.sleep(30)
        return "sleepy"

    __str__ = __repr__


class HostileStr(str):
    """A str subclass whose every text method raises."""

    def __repr__(self) -> str:
        raise RuntimeError("repr says no")

    def __str__(self) -> str:
        raise RuntimeError("str says no")

    def __format__(self, spec: str) -> str:
        raise RuntimeError("format says no")

    def strip(self, chars: object = None) -> str:
        raise RuntimeError("strip says no")


class RaisingMapping(dict[str, Any]):
    def items(self) -> Any:
        raise RuntimeError("items says no")


def deep(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"n": value}
    return value


def encode_error(document: Any) -> EncodingError:
    started = time.monotonic()
    with pytest.raises(EncodingError) as info:
        encode_document(document)
    assert time.monotonic() - started < 2, "an encoding error must come quickly"
    return info.value


# -- item 7: datetimes whose tzinfo misbehaves ----------------------------------

SEGFAULT_PROBE = textwrap.dedent(
    """
    import datetime as dt, logging, sys
    import orjson  # the crash needed orjson; the test is meaningless without it
    from mozdef_client import Client, DocumentEvent, Event, MozDefError, MozDefHandler

    class RaisingTz(dt.tzinfo):
        def utcoffset(self, when):
            raise RuntimeError("tz says no")
        def dst(self, when):
            raise RuntimeError("tz says no")

    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=RaisingTz())
    client = Client(sys.argv[1], mode="sync")
    for label, event in [
        ("details", Event(summary="x", details={"when": stamp})),
        ("list", Event(summary="x", details={"when": [stamp]})),
        ("document", DocumentEvent({"summary": "x", "when": stamp})),
        ("time", Event(summary="x", details={"at": dt.time(1, 2, tzinfo=RaisingTz())})),
        ("timestamp", Event(summary="x", timestamp=stamp)),
    ]:
        try:
            client.send(event)
        except MozDefError as exc:
            print(label, type(exc).__name__, getattr(exc, "path", ""), flush=True)
    handler = MozDefHandler(client=client)
    logger = logging.getLogger("probe")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning("hello", extra={"when": stamp})
    print("handler survived", flush=True)
    """
)


def test_a_datetime_whose_tzinfo_raises_is_an_error_naming_it_not_a_crash(tmp_path):
    """Subprocess: before the fix orjson segfaulted (rc -11/139) on the first send."""
    pytest.importorskip("orjson")
    probe = tmp_path / "probe.py"
    probe.write_text(SEGFAULT_PROBE)
    out = tmp_path / "events.jsonl"
    result = subprocess.run(
        [sys.executable, str(probe), f"file://{out}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[:5] == [
        "details EncodingError details.when",
        "list EncodingError details.when[0]",
        "document EncodingError when",
        "time EncodingError details.at",
        "timestamp EncodingError timestamp",
    ]
    assert lines[-1] == "handler survived"


@pytest.mark.parametrize("tz", [RaisingTz(), WrongTypeTz()])
def test_a_tzinfo_that_raises_or_answers_nonsense_is_named(tz):
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=tz)
    error = encode_error({"details": {"when": stamp}})
    assert error.path == "details.when"
    error = encode_error({"details": {"at": dt.time(3, 4, tzinfo=tz)}})
    assert error.path == "details.at"


def test_an_offset_that_is_not_whole_minutes_is_written_in_utc():
    """Python allows 05:30:15.5; RFC 3339 has no spelling for it."""
    stamp = dt.datetime(2026, 1, 2, 12, 0, 0, tzinfo=OddTz())
    text = json.loads(encode_document({"when": stamp}))["when"]
    assert text == "2026-01-02T06:29:44.500000+00:00"
    assert dt.datetime.fromisoformat(text) == stamp


def test_event_timestamp_with_a_raising_tzinfo_is_an_error_naming_timestamp():
    event = Event(summary="x", timestamp=dt.datetime(2026, 1, 2, tzinfo=RaisingTz()))
    with pytest.raises(EncodingError) as info:
        prepare(event)
    assert info.value.path == "timestamp"


# -- item 8: hostile keys, severities, huge integers, deep nesting -------------


@pytest.mark.parametrize("key", [HostileRepr(), SleepyRepr()], ids=["raises", "sleeps"])
def test_a_key_with_a_hostile_repr_is_named_by_type_quickly(key):
    error = encode_error({"details": {key: 1}})
    assert str(error) == (
        f"details has a key of type {type(key).__name__}; JSON keys must be strings"
    )


def test_a_str_subclass_key_with_hostile_methods_is_encoded_as_its_text():
    key = HostileStr("user")
    assert json.loads(encode_document({"details": {key: HostileStr("joe")}})) == {
        "details": {"user": "joe"}
    }


def test_a_5000_digit_integer_key_is_named_without_printing_it():
    error = encode_error({"details": {10**5000: "x"}})
    assert str(error) == ("details has a key of type int (16610 bits); JSON keys must be strings")


def test_a_5000_digit_integer_value_is_named():
    error = encode_error({"details": {"n": 10**5000}})
    assert error.path == "details.n"


def test_100000_deep_nesting_is_an_error_naming_the_depth_quickly():
    error = encode_error({"details": deep(100_000)})
    assert "nested more than" in str(error)


def test_a_mapping_whose_items_raise_is_named():
    error = encode_error({"details": {"bad": RaisingMapping(a=1)}})
    assert error.path == "details.bad"
    assert "could not be read" in str(error)


@pytest.mark.parametrize(
    "severity",
    [HostileRepr(), SleepyRepr(), HostileStr("bogus"), 10**5000],
    ids=["raises", "sleeps", "str-subclass", "5000-digits"],
)
def test_a_hostile_severity_is_a_library_error_quickly(severity):
    started = time.monotonic()
    with pytest.raises(MozDefError) as info:
        Event(summary="x", severity=severity)
    assert time.monotonic() - started < 2
    assert "severity" in str(info.value)


def test_a_str_subclass_severity_is_read_by_its_text():
    assert Event(summary="x", severity=HostileStr(" warn ")).severity is Severity.WARNING


def test_a_hostile_severity_in_a_document_is_a_validation_error_naming_it():
    with pytest.raises(MozDefError) as info:
        prepare(DocumentEvent({"summary": "x", "severity": HostileStr("bogus")}))
    assert getattr(info.value, "path", "") == "severity"


# -- the property: valid JSON or a MozDefError naming the path ------------------

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary(max_size=8)
    | st.datetimes(timezones=st.none() | st.timezones())
    | st.dates()
    | st.times()
)
# Factories, not the objects: hypothesis shows a strategy's elements by repr.
HOSTILE: list[Callable[[], Any]] = [
    HostileRepr,
    lambda: RaisingMapping(a=1),
    lambda: HostileStr("text"),
    lambda: dt.datetime(2026, 1, 2, tzinfo=RaisingTz()),
    lambda: dt.datetime(2026, 1, 2, tzinfo=OddTz()),
    lambda: dt.time(1, 2, tzinfo=WrongTypeTz()),
    lambda: 10**5000,
    lambda: float("nan"),
    lambda: "\ud800",
    object,
]
hostile_leaves = st.sampled_from(HOSTILE).map(lambda make: make())
HOSTILE_KEYS: list[Callable[[], Any]] = [HostileRepr, lambda: HostileStr("k"), lambda: 10**5000]
keys = st.text(max_size=8) | st.integers() | st.sampled_from(HOSTILE_KEYS).map(lambda make: make())
values = st.recursive(
    json_leaves | hostile_leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children)
        | st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=20,
)


def _paths(value: Any, path: str) -> set[str]:
    """Every path the encoder may name inside ``value``."""
    found = {path}
    if isinstance(value, dict):
        for key, item in dict.items(value):  # not the (maybe hostile) override
            if isinstance(key, str):
                found |= _paths(item, f"{path}.{str.__str__(key)}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found |= _paths(item, f"{path}[{index}]")
    return found


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(value=values)
def test_any_value_encodes_to_valid_json_or_is_an_error_naming_its_path(value):
    document = {"summary": "x", "details": value}
    try:
        encoded = encode_document(document)
    except MozDefError as exc:
        assert isinstance(exc, EncodingError)
        assert exc.path in _paths(value, "details") | {"event"}, (exc.path, str(exc))
        return
    decoded = json.loads(encoded)  # valid JSON, strictly
    assert decoded["summary"] == "x"
    # No NaN sneaking in as a bare token, no lone surrogates: the text is UTF-8.
    encoded.decode("utf-8")
