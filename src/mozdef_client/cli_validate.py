"""``mozdef-client validate``: check events in files against MozDef's format.

A file holds one JSON object, a JSON array of them, or newline-delimited
JSON. Each finding is printed as ``FILE:LINE: error: <message>`` (or
``warning:``), the message naming the field path, e.g.
``details.check.test.value is missing``. Array elements are located as
``FILE[INDEX]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from .cli import Exit
from .encoding import encode_document
from .errors import ValidationError
from .event import Kind
from .receiver import infer_kind
from .validation import recommended_field_warnings, validate_document

__all__ = ["Finding", "check_text", "run_validate"]


@dataclass(frozen=True)
class Finding:
    """One problem with one event (or with the file's JSON)."""

    location: str  # FILE:LINE or FILE[INDEX]
    level: str  # "error" or "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.level}: {self.message}"


def run_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Check every file; returns the exit status (see :class:`~mozdef_client.cli.Exit`)."""
    kind = Kind(args.kind) if args.kind else None
    events = invalid = warned = 0
    unreadable = False
    for path in args.files:
        name = "<stdin>" if path == "-" else path
        try:
            text = sys.stdin.read() if path == "-" else _read(path)
        except (OSError, UnicodeDecodeError) as exc:
            err.write(f"{name}: cannot read: {getattr(exc, 'strerror', None) or exc}\n")
            unreadable = True
            continue
        count = 0
        for found, findings in check_text(text, name, kind):
            count += found
            levels = {finding.level for finding in findings}
            invalid += "error" in levels
            warned += "warning" in levels and "error" not in levels
            for finding in findings:
                out.write(f"{finding}\n")
        if count == 0:
            out.write(f"{name}: warning: no events in this file\n")
        events += count
    out.write(f"checked {events} events: {invalid} invalid, {warned} with warnings\n")
    if unreadable:
        return Exit.USAGE
    if invalid or (args.strict and warned):
        return Exit.FAILED
    return Exit.OK


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read()


def check_text(text: str, name: str, kind: Kind | None) -> Iterator[tuple[int, list[Finding]]]:
    """For each event in ``text`` (or unreadable JSON): (1, its findings)."""
    for location, document, error in _documents(text, name):
        if error is not None:
            yield 1, [Finding(location, "error", error)]
        else:
            yield 1, check_document(document, location, kind)


def check_document(document: Any, location: str, kind: Kind | None) -> list[Finding]:
    """The findings for one document: its first rule broken, and missing recommended fields."""
    if not isinstance(document, dict):
        return [Finding(location, "error", f"not a JSON object but {type(document).__name__}")]
    kind = kind or infer_kind(document)
    findings = []
    try:
        validate_document(document, kind)
        encode_document(document)  # NaN and the like: valid Python JSON, not valid JSON
    except ValidationError as exc:
        findings.append(Finding(location, "error", f"{exc} ({kind} event)"))
    warnings = [] if kind is Kind.VULNERABILITY else recommended_field_warnings(document)
    if warnings:
        findings.append(Finding(location, "warning", "; ".join(warnings)))
    return findings


def _documents(text: str, name: str) -> Iterator[tuple[str, Any, str | None]]:
    """(location, document, JSON error) for each document in ``text``."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        whole = json.loads(stripped)
    except ValueError as exc:
        whole_error: json.JSONDecodeError | ValueError | None = exc
    else:
        whole_error = None
        if isinstance(whole, list):
            for index, document in enumerate(whole):
                yield f"{name}[{index}]", document, None
            return
        yield f"{name}:{_first_line(text)}", whole, None
        return
    lines = text.splitlines()
    first = next(number for number, line in enumerate(lines, 1) if line.strip())
    if whole_error is not None and not _parses(lines[first - 1]):
        # Neither one JSON document nor NDJSON from its first line: most likely
        # one pretty-printed document with a syntax error; say where, once.
        line = getattr(whole_error, "lineno", 1) + first - 1
        yield f"{name}:{line}", None, f"not valid JSON: {whole_error}"
        return
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError as exc:
            yield f"{name}:{number}", None, f"not valid JSON: {exc}"
            continue
        yield f"{name}:{number}", document, None


def _first_line(text: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if line.strip())


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True
