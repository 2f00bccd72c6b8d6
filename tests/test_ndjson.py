"""The one NDJSON / JSON-array reader (mozdef_client.ndjson) that the receiver,
validate, send --jsonl and the tests share."""

from __future__ import annotations

import pytest

from mozdef_client import ndjson
from mozdef_client.ndjson import (
    NOT_JSON,
    Line,
    load_lines,
    load_whole,
    read_documents,
    read_lines,
)

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture(params=[False, True], ids=["json", "orjson-first"])
def fast(request):
    return request.param


def test_lines_are_numbered_from_one_and_blank_lines_skipped(fast):
    lines = [b'{"a": 1}\n', b"\n", b"   \r\n", b'{"b": 2}\r\n']
    assert list(read_lines(lines, fast=fast)) == [Line(1, {"a": 1}), Line(4, {"b": 2})]


def test_a_bad_line_carries_its_error_and_the_reading_goes_on(fast):
    [good, bad, after] = read_lines(['{"a": 1}', '{"b": ', "[2]"], fast=fast)
    assert good == Line(1, {"a": 1})
    assert bad.number == 2 and bad.document is None and isinstance(bad.error, ValueError)
    assert after == Line(3, [2])


def test_a_line_nested_too_deeply_is_a_recursion_error_for_that_line_only(fast):
    [deep, after] = read_lines([DEEP, "{}"], fast=fast)
    assert deep.number == 1 and isinstance(deep.error, RecursionError)
    assert after == Line(2, {})


def test_python_json_takes_what_orjson_refuses(fast):
    """MozDef parses with Python's json: NaN and integers over 64 bits are JSON to it."""
    [line] = read_lines(['{"a": NaN, "b": 123456789012345678901234567890}'], fast=fast)
    assert line.error is None and line.document["a"] != line.document["a"]
    assert line.document["b"] == 123456789012345678901234567890


def test_without_orjson_fast_reading_is_python_json(monkeypatch):
    monkeypatch.setattr(ndjson, "_FAST_LOADS", None)
    assert list(read_lines(['{"a": 1}'], fast=True)) == [Line(1, {"a": 1})]


def test_load_whole_gives_the_value_or_the_reason(fast):
    assert load_whole('[{"a": 1}]', fast=fast) == ([{"a": 1}], None)
    value, error = load_whole('{"a": 1}\n{"b": 2}', fast=fast)
    assert value is NOT_JSON and isinstance(error, ValueError)
    value, error = load_whole(DEEP, fast=fast)
    assert value is NOT_JSON and isinstance(error, RecursionError)


def test_read_documents_takes_a_json_array_or_ndjson():
    assert read_documents(b'[{"a": 1}, {"b": 2}]') == [{"a": 1}, {"b": 2}]
    assert read_documents('{"a": 1}\n\n{"b": 2}\n') == [{"a": 1}, {"b": 2}]
    assert read_documents('{"a": 1}') == [{"a": 1}]


def test_read_documents_names_the_bad_line():
    with pytest.raises(ValueError, match=r"^line 3: "):
        read_documents('{"a": 1}\n\n{"b": \n')
    with pytest.raises(RecursionError):
        read_documents("{}\n" + DEEP)


def test_load_lines_stops_at_the_first_bad_line_naming_it(fast):
    assert load_lines([b'{"a": 1}', b"", b"  ", b'{"b": NaN}'], fast=fast)[0] == {"a": 1}
    with pytest.raises(ValueError, match=r"^line 3: "):
        load_lines(['{"a": 1}', "", '{"b": ', "{}"], fast=fast)
    with pytest.raises(RecursionError):
        load_lines(["{}", DEEP], fast=fast)
