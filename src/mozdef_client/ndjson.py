"""Reading JSON documents from NDJSON or a JSON array: the one reader for the
receiver's ``/_bulk``, ``mozdef-client validate``, ``send --jsonl`` and the tests.

Each caller keeps its own rules on top (the receiver skips ``index`` lines
and refuses a single object, ``validate`` locates array elements, ``send``
streams a file): this module only parses and numbers the lines, either
reporting each line's error and going on (:func:`read_lines`) or stopping
at the first (:func:`load_lines`).

Python's json is the reference, as MozDef parses with it. With ``fast=True``
orjson (when installed) parses first; a line it refuses is parsed again
with Python's json, which also takes NaN, lone surrogates and integers over
64 bits. A line neither takes keeps the first parser's error, unless Python's
json hit its recursion limit: that ``RecursionError`` (nested too deeply)
is what callers report separately.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

__all__ = ["NOT_JSON", "Line", "load_lines", "load_whole", "read_documents", "read_lines"]


class _NotJSON:
    def __repr__(self) -> str:
        return "NOT_JSON"


#: What :func:`load_whole` gives for a text that is not one JSON document.
NOT_JSON: Any = _NotJSON()

Error = ValueError | RecursionError


class Line(NamedTuple):
    """One non-blank line: its number (from 1), and its document or its error."""

    number: int
    document: Any  # None when error is set
    error: Error | None = None


def _orjson_loads() -> Callable[[bytes | str], Any] | None:
    try:
        import orjson
    except ImportError:
        return None
    return orjson.loads


_FAST_LOADS = _orjson_loads()


def _loads(data: bytes | str, fast: bool) -> Any:
    """``json.loads``, tried after orjson when ``fast``; raises the first error
    (or Python's RecursionError)."""
    fast_loads = _FAST_LOADS if fast else None
    if fast_loads is None:
        return json.loads(data)
    try:
        return fast_loads(data)
    except ValueError as exc:  # NDJSON, or JSON orjson refuses (NaN): Python's json decides
        try:
            return json.loads(data)
        except ValueError:
            raise exc from None


def _bare(exc: Error) -> Error:
    """``exc`` without its traceback and context: the frames they keep alive
    (with the parsed text) made the receiver's loop after a failed whole-body
    parse twice as slow."""
    exc.__context__ = None
    return exc.with_traceback(None)


def load_whole(data: bytes | str, *, fast: bool = False) -> tuple[Any, Error | None]:
    """``data`` as one JSON document: ``(value, None)``, or ``(NOT_JSON, error)``."""
    try:
        return _loads(data, fast), None
    except (ValueError, RecursionError) as exc:
        return NOT_JSON, _bare(exc)


def read_lines(lines: Iterable[bytes | str], *, fast: bool = False) -> Iterator[Line]:
    """Each non-blank line of ``lines`` parsed as one JSON document.

    A line that does not parse comes with its error and the reading goes on;
    the caller decides whether to stop. ``lines`` may be a file, read lazily.
    """
    # The receiver's hot path (thousands of lines a request): the usual line
    # costs one parse and one tuple; blank and bad lines are sorted out after.
    loads = (_FAST_LOADS if fast else None) or json.loads
    new = tuple.__new__
    for number, line in enumerate(lines, 1):
        try:
            yield new(Line, (number, loads(line), None))
        except (ValueError, RecursionError):
            if not line.strip():
                continue
            try:
                yield new(Line, (number, _loads(line, fast), None))
            except (ValueError, RecursionError) as exc:
                yield new(Line, (number, None, _bare(exc)))


def load_lines(lines: Iterable[bytes | str], *, fast: bool = False) -> list[Any]:
    """Every non-blank line of ``lines`` parsed as one JSON document, or an
    error at the first that does not parse (the receiver's ``/_bulk``).

    Raises:
        ValueError: a line is not JSON; the message starts ``line N:``.
        RecursionError: a line is nested too deeply.
    """
    # The receiver's hot path: one parse and one append for the usual line.
    loads = (_FAST_LOADS if fast else None) or json.loads
    documents: list[Any] = []
    append = documents.append
    for number, line in enumerate(lines, 1):
        try:
            append(loads(line))
        except (ValueError, RecursionError):
            if not line.strip():
                continue
            try:
                append(_loads(line, fast))
            except ValueError as exc:
                raise ValueError(f"line {number}: {exc}") from None
    return documents


def read_documents(data: bytes | str) -> list[Any]:
    """The documents of a JSON array (its elements) or of NDJSON (one a line).

    Raises:
        ValueError: a line is not JSON (the message names the line).
        RecursionError: a line is nested too deeply.
    """
    whole, _ = load_whole(data)
    if isinstance(whole, list):
        return whole
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return load_lines(text.splitlines())
