"""Encoding: compact UTF-8 JSON, conversions, and errors naming the field path.

Every test runs twice: with the module as imported (orjson is installed for
the tests, so it is used) and with a copy loaded as if orjson were missing
(the stdlib fallback). Both must behave the same.
"""

from __future__ import annotations

import copy
import dataclasses
import decimal
import enum
import importlib.util
import ipaddress
import json
import sys
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from pathlib import PurePosixPath
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mozdef_client import (
    EncodingError,
    Event,
    MozDefError,
    Severity,
    ValidationError,
    encoding,
    prepare,
)
from mozdef_client.encoding import MAX_DEPTH, encode_document


def _load_without_orjson() -> ModuleType:
    """A second copy of the encoding module, loaded as if orjson were not installed."""
    spec = importlib.util.spec_from_file_location(
        "mozdef_client._encoding_without_orjson", encoding.__file__
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with mock.patch.dict(sys.modules, {"orjson": None}):  # "import orjson" fails
        spec.loader.exec_module(module)
    return module


WITHOUT_ORJSON = _load_without_orjson()
ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "orjson": encoding.encode_document,
    "stdlib": WITHOUT_ORJSON.encode_document,
}


@pytest.fixture(params=list(ENCODERS), autouse=True)
def backend(request, monkeypatch) -> str:
    """Run each test with the module as loaded with orjson, then without it.

    The tests call ``encode_document``; this fixture points that name at one
    of the two copies, so every test body checks both.
    """
    monkeypatch.setitem(globals(), "encode_document", ENCODERS[request.param])
    return request.param


def details_json(value: Any) -> Any:
    return json.loads(encode_document({"details": value}))["details"]


def encoding_error(document: Any) -> EncodingError:
    with pytest.raises(EncodingError) as info:
        encode_document(document)
    return info.value


def test_orjson_is_used_when_importable_and_the_stdlib_otherwise():
    # Float spelling is where the two differ; JSON readers see the same number.
    assert ENCODERS["orjson"]({"f": 1e-7}) == b'{"f":1e-7}'
    assert ENCODERS["stdlib"]({"f": 1e-7}) == b'{"f":1e-07}'
    assert WITHOUT_ORJSON.EncodingError is EncodingError


def test_output_is_compact_json():
    document = {"summary": "x", "tags": ["a", "b"], "details": {"n": 1, "ok": True, "v": None}}
    assert encode_document(document) == (
        b'{"summary":"x","tags":["a","b"],"details":{"n":1,"ok":true,"v":null}}'
    )


def test_non_ascii_text_is_kept_as_utf8_not_escaped():
    body = encode_document({"summary": "café ☕ 𝄞 日本"})
    assert body == '{"summary":"café ☕ 𝄞 日本"}'.encode()
    assert b"\\u" not in body


def test_control_characters_are_escaped():
    assert json.loads(encode_document({"s": 'a\n"b\\\x00'}))["s"] == 'a\n"b\\\x00'
    assert b"\n" not in encode_document({"s": "a\nb"})


def test_floats_round_trip():
    assert details_json({"f": 0.1, "g": -2.5e-300, "h": 1e16}) == {
        "f": 0.1,
        "g": -2.5e-300,
        "h": 1e16,
    }


def test_aware_datetime_becomes_iso_8601_with_its_offset():
    stamp = datetime(2026, 11, 26, 14, 5, 48, 226939, tzinfo=timezone.utc)
    assert details_json(stamp) == "2026-11-26T14:05:48.226939+00:00"
    local = datetime(2026, 11, 26, 15, 5, tzinfo=timezone(timedelta(hours=1)))
    assert details_json(local) == "2026-11-26T15:05:00+01:00"


def test_naive_datetime_date_and_time_become_iso_8601():
    assert details_json(datetime(2026, 11, 26, 14, 5)) == "2026-11-26T14:05:00"
    assert details_json(date(2026, 11, 26)) == "2026-11-26"
    assert details_json(time(14, 5, 48)) == "14:05:48"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (ipaddress.ip_address("10.1.2.3"), "10.1.2.3"),
        (ipaddress.ip_address("2001:db8::1"), "2001:db8::1"),
        (ipaddress.ip_network("10.0.0.0/8"), "10.0.0.0/8"),
        (ipaddress.ip_interface("2001:db8::1/64"), "2001:db8::1/64"),
        (uuid.UUID("12345678-1234-5678-1234-567812345678"), "12345678-1234-5678-1234-567812345678"),
        (decimal.Decimal("1.10"), "1.10"),
        (decimal.Decimal("-1E+3"), "-1E+3"),
        (PurePosixPath("/var/log/auth.log"), "/var/log/auth.log"),
    ],
)
def test_values_json_has_no_type_for_become_strings(value, text):
    assert details_json({"v": value}) == {"v": text}


def test_tuples_sets_and_frozensets_become_lists():
    assert details_json({"t": (1, "a"), "s": {"only"}, "f": frozenset([2])}) == {
        "t": [1, "a"],
        "s": ["only"],
        "f": [2],
    }
    assert sorted(details_json({3, 1, 2})) == [1, 2, 3]


@pytest.mark.parametrize(
    "raw", [b"caf\xc3\xa9", bytearray(b"caf\xc3\xa9"), memoryview(b"caf\xc3\xa9")]
)
def test_valid_utf8_bytes_become_text(raw):
    assert details_json({"b": raw}) == {"b": "café"}


def test_values_inside_lists_are_converted_too():
    assert details_json([{"ip": ipaddress.ip_address("10.0.0.1")}, (date(2026, 1, 2),)]) == [
        {"ip": "10.0.0.1"},
        ["2026-01-02"],
    ]


def test_booleans_stay_booleans():
    assert encode_document({"b": [True, False, 1, 0]}) == b'{"b":[true,false,1,0]}'


def test_64_bit_integers_are_kept_exactly():
    values = [-(2**63), 2**63 - 1, 2**64 - 1, 0]
    assert details_json(values) == values


@pytest.mark.parametrize("big", [2**64, -(2**63) - 1, 10**30])
def test_integers_beyond_64_bits_are_an_error_naming_the_path(big):
    error = encoding_error({"details": {"count": big}})
    assert error.path == "details.count"
    assert str(error).startswith("details.count is an integer outside the 64-bit range")


# -- errors name the path ------------------------------------------------------


def test_invalid_utf8_bytes_are_an_error_naming_the_path():
    error = encoding_error({"details": {"raw": [b"ok", b"\xff\xfe"]}})
    assert str(error) == "details.raw[1] is bytes that are not valid UTF-8"
    assert error.path == "details.raw[1]"


def test_lone_surrogate_in_a_string_is_an_error_naming_the_path():
    error = encoding_error({"details": {"user": "jo\udce9"}})
    assert str(error) == "details.user is not valid UTF-8 (it holds a lone surrogate)"
    assert error.path == "details.user"


def test_lone_surrogate_in_a_list_item_is_named_by_index():
    error = encoding_error({"tags": ["ok", "\ud800"]})
    assert error.path == "tags[1]"


def test_lone_surrogate_in_a_key_is_named_and_the_message_stays_printable():
    error = encoding_error({"details": {"k\ud800": 1}})
    assert error.path == "details.k\ud800"
    assert str(error) == "details.k\\ud800 is not valid UTF-8 (it holds a lone surrogate)"
    str(error).encode("utf-8")  # a logger writing UTF-8 must not choke on it


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinities_are_an_error_naming_the_path(value):
    error = encoding_error({"details": {"score": value}})
    assert str(error) == f"details.score is {value!r}, which JSON cannot carry"
    assert error.path == "details.score"


@pytest.mark.parametrize("text", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_decimal_nan_and_infinities_are_an_error_naming_the_path(text):
    error = encoding_error({"details": {"amount": decimal.Decimal(text)}})
    assert str(error) == f"details.amount is Decimal('{text}'), which JSON cannot carry"
    assert error.path == "details.amount"


@pytest.mark.parametrize("key", [1, None, ("a", "b"), b"bytes", 1.5])
def test_non_string_keys_are_an_error_naming_the_key(key):
    error = encoding_error({"details": {"ok": 1, key: "v"}})
    assert str(error) == (
        f"details has a key {key!r} of type {type(key).__name__}; JSON keys must be strings"
    )
    assert error.path == "details"


class Opaque:
    pass


@dataclasses.dataclass
class Point:
    x: int


class Colour(enum.Enum):
    RED = 1


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (Opaque(), "Opaque"),
        (object(), "object"),
        (timedelta(1), "timedelta"),
        (1j, "complex"),
        # orjson would encode a dataclass itself; without orjson it is refused,
        # so it must be refused with it too.
        (Point(1), "Point"),
    ],
)
def test_unknown_types_are_an_error_naming_the_path_and_type(value, type_name):
    error = encoding_error({"details": {"x": [value]}})
    assert str(error) == f"details.x[0] has type {type_name}, which cannot be encoded as JSON"
    assert error.path == "details.x[0]"


def test_enum_members_are_encoded_as_their_value():
    """Both encoders write an Enum member as its value (orjson does it natively)."""
    assert details_json({"colour": Colour.RED, "sev": Severity.WARNING}) == {
        "colour": 1,
        "sev": "WARNING",
    }


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"n": value}
    return value


def test_nesting_up_to_max_depth_is_encoded():
    document = nested(MAX_DEPTH)  # the top-level object is level 0
    assert json.loads(encode_document(document)) == document


def test_nesting_deeper_than_max_depth_is_an_error():
    error = encoding_error(nested(MAX_DEPTH + 1))
    assert f"is nested more than {MAX_DEPTH} levels deep" in str(error)
    assert error.path == ".".join(["n"] * MAX_DEPTH)


def test_deeply_nested_lists_are_an_error_too():
    value: Any = 1
    for _ in range(MAX_DEPTH + 5):
        value = [value]
    error = encoding_error({"details": value})
    assert "nested more than" in str(error)


def test_self_referencing_dict_is_an_error_not_a_recursion_crash():
    loop: dict[str, Any] = {"name": "x"}
    loop["self"] = loop
    error = encoding_error({"details": loop})
    assert "(or refers to itself)" in str(error)
    assert error.path.startswith("details.self.self.")


def test_self_referencing_list_is_an_error():
    loop: list[Any] = []
    loop.append(loop)
    assert "refers to itself" in str(encoding_error({"details": loop}))


def test_encoding_errors_are_validation_errors_and_mozdef_errors():
    error = encoding_error({"x": float("nan")})
    assert isinstance(error, ValidationError)
    assert isinstance(error, MozDefError)
    assert isinstance(error, ValueError)


# -- the caller's data ---------------------------------------------------------


def test_callers_details_are_not_mutated():
    details = {
        "when": datetime(2026, 1, 2, tzinfo=timezone.utc),
        "ips": (ipaddress.ip_address("10.0.0.1"),),
        "seen": {"a"},
        "nested": {"raw": b"x", "list": [1, 2]},
    }
    before = copy.deepcopy(details)
    prepare(Event(summary="x", details=details))
    assert details == before
    assert isinstance(details["when"], datetime)
    assert isinstance(details["ips"], tuple)
    assert isinstance(details["seen"], set)
    assert details["nested"]["raw"] == b"x"


def test_later_changes_to_details_do_not_change_encoded_bytes():
    details: dict[str, Any] = {"user": "joe", "groups": ["a"], "meta": {"n": 1}}
    encoded = prepare(Event(summary="x", details=details))
    payload = bytes(encoded.payload)
    details["user"] = "eve"
    details["groups"].append("admin")
    details["meta"]["n"] = 2
    details["new"] = True
    assert encoded.payload == payload
    assert json.loads(encoded.payload)["details"] == {
        "user": "joe",
        "groups": ["a"],
        "meta": {"n": 1},
    }


# -- property: any JSON value round-trips ---------------------------------------

json_text = st.text(st.characters(blacklist_categories=("Cs",)))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text,
    lambda children: st.lists(children) | st.dictionaries(json_text, children),
    max_leaves=30,
)


# The patched encoder (function-scoped fixture) is meant to hold for every example.
shared_backend = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@shared_backend
@given(value=json_values)
def test_any_json_value_in_details_round_trips_unchanged(value):
    # ``backend`` is patched for the whole test; both encoders are checked.
    document = Event(summary="x", details={"value": value}).to_document()
    decoded = json.loads(encode_document(document))["details"]
    assert decoded == {"value": value}
    # == takes True for 1 and 1.0 for 1; the stdlib's spelling tells them apart.
    assert json.dumps(decoded) == json.dumps({"value": value})


def has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, list):
        return any(has_float(item) for item in value)
    if isinstance(value, dict):
        return any(has_float(item) for item in value.values())
    return False


@shared_backend
@given(value=json_values)
def test_orjson_and_stdlib_encoders_agree(value):
    document = {"details": {"value": value}}
    fast = ENCODERS["orjson"](document)
    slow = ENCODERS["stdlib"](document)
    assert json.loads(fast) == json.loads(slow)
    if not has_float(value):
        # Only float spelling may differ (1e-7 vs 1e-07); everything else is byte-identical.
        assert fast == slow
    # Compact, UTF-8: exactly what the stdlib gives with these settings.
    assert slow == json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
