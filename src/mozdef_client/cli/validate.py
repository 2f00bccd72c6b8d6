"""``mozdef-client validate``: check events in files against MozDef's format.

A file holds one JSON object, a JSON array of them, or newline-delimited
JSON. Every broken rule of an event is printed, each on its own line, as
``FILE:LINE: error: <message>`` (the message naming the field path, e.g.
``details.check.test.value is missing``), then one ``warning:`` line naming
the recommended fields it lacks. ``--strict`` makes those warnings errors.
Array elements are located as ``FILE[INDEX]``. ``--format json`` prints one
JSON document instead, for programs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from ..encoding import encode_document
from ..errors import ValidationError
from ..event import Kind
from ..ndjson import load_whole, read_lines
from ..validation import document_errors, missing_recommended_fields
from .common import KINDS, Commands, Exit

__all__ = ["Finding", "add_arguments", "check_document", "check_text", "run"]

TOO_DEEP = "nested too deeply to check (over Python's recursion limit)"
_SECOND_DOCUMENT = "a second JSON document starts here"


@dataclass(frozen=True)
class Finding:
    """One problem with one event (or with the file's JSON)."""

    location: str  # FILE:LINE or FILE[INDEX]
    level: str  # "error" or "warning"
    message: str
    field: str = ""  # the dotted field path at fault, when there is one

    def __str__(self) -> str:
        return f"{self.location}: {self.level}: {self.message}"


def add_arguments(commands: Commands) -> argparse.ArgumentParser:
    """The ``validate`` subcommand and its options."""
    validate = commands.add_parser(
        "validate",
        help="check events in files against MozDef's format",
        description="Check events (a JSON object, a JSON array, or newline-delimited JSON) "
        "against their kind's rules and MozDef's field conventions. Without --kind, the kind "
        "is inferred from each event (its category, or a vulnerability document's shape).",
        epilog="exit codes: 0 every event is valid; 1 some are invalid (or have warnings, "
        "with --strict); 2 a file cannot be read or a bad option",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="files to check ('-': stdin)")
    validate.add_argument("--kind", choices=KINDS, help="check every event as this kind")
    validate.add_argument(
        "--strict",
        action="store_true",
        help="missing recommended fields are errors too (and are labelled so)",
    )
    validate.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default): one finding a line; json: one JSON document with the counts "
        "and every finding (location, level, message, field)",
    )
    return validate


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Check every file; returns the exit status (see :class:`~mozdef_client.cli.Exit`)."""
    kind = Kind(args.kind) if args.kind else None
    as_json = args.format == "json"
    events = invalid = warned = 0
    unreadable = False
    reported: list[dict[str, str]] = []
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
            if args.strict:
                findings = [_as_error(finding) for finding in findings]
            levels = {finding.level for finding in findings}
            invalid += "error" in levels
            warned += "warning" in levels and "error" not in levels
            for finding in findings:
                if as_json:
                    reported.append(asdict(finding))
                else:
                    out.write(f"{finding}\n")
        if count == 0:
            empty = Finding(name, "warning", "no events in this file")
            if as_json:
                reported.append(asdict(empty))
            else:
                out.write(f"{empty}\n")
        events += count
    if as_json:
        summary = {"events": events, "invalid": invalid, "with_warnings": warned}
        out.write(json.dumps({**summary, "findings": reported}, ensure_ascii=False) + "\n")
    else:
        out.write(f"checked {events} events: {invalid} invalid, {warned} with warnings\n")
    if unreadable:
        return Exit.USAGE
    if invalid or (args.strict and warned):
        return Exit.FAILED
    return Exit.OK


def _as_error(finding: Finding) -> Finding:
    return Finding(finding.location, "error", finding.message, finding.field)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read()


def check_text(text: str, name: str, kind: Kind | None) -> Iterator[tuple[int, list[Finding]]]:
    """For each event in ``text`` (or unreadable JSON): (1, its findings)."""
    for location, document, error in _documents(text, name):
        if error is None:
            yield 1, check_document(document, location, kind)
        else:  # a JSON error stands for the event it spoils, the file's layout for none
            yield int(not error.startswith(_SECOND_DOCUMENT)), [Finding(location, "error", error)]


def check_document(document: Any, location: str, kind: Kind | None) -> list[Finding]:
    """Every rule the document breaks (one finding each), then one warning
    naming the recommended fields it lacks."""
    if not isinstance(document, dict):
        return [Finding(location, "error", f"not a JSON object but {type(document).__name__}")]
    kind = kind or Kind.of_document(document)
    try:
        errors = document_errors(document, kind)
        if not errors:
            encode_document(document)  # NaN and the like: valid Python JSON, not valid JSON
    except ValidationError as exc:  # an EncodingError names its field
        errors = [exc]
    except RecursionError:
        return [Finding(location, "error", TOO_DEEP)]
    findings = [
        Finding(location, "error", f"{exc} ({kind} event)", getattr(exc, "path", ""))
        for exc in errors
    ]
    missing = missing_recommended_fields(document, kind)
    if missing:
        message = "recommended fields missing: " + ", ".join(missing)
        findings.append(Finding(location, "warning", message))
    return findings


def _documents(text: str, name: str) -> Iterator[tuple[str, Any, str | None]]:
    """(location, document, JSON error) for each document in ``text``."""
    stripped = text.strip()
    if not stripped:
        return
    whole, whole_error = load_whole(stripped)
    if isinstance(whole_error, RecursionError):
        whole_error = RecursionError(TOO_DEEP)
    if whole_error is None:
        if isinstance(whole, list):
            for index, document in enumerate(whole):
                yield f"{name}[{index}]", document, None
            return
        yield f"{name}:{_first_line(text)}", whole, None
        return
    lines = text.splitlines()
    first = next(number for number, line in enumerate(lines, 1) if line.strip())
    if not _parses(lines[first - 1]):
        concatenated = _concatenated(text)
        if concatenated is not None:
            yield from _report_concatenated(concatenated, name)
            return
        # Neither one JSON document nor NDJSON from its first line: most likely
        # one pretty-printed document with a syntax error; say where, once.
        line = getattr(whole_error, "lineno", 1) + first - 1
        yield f"{name}:{line}", None, f"not valid JSON: {whole_error}"
        return
    for number, document, error in read_lines(lines):
        if isinstance(error, RecursionError):
            yield f"{name}:{number}", None, f"not checked: {TOO_DEEP}"
        elif error is not None:
            yield f"{name}:{number}", None, f"not valid JSON: {error}"
        else:
            yield f"{name}:{number}", document, None


def _concatenated(text: str) -> list[tuple[int, Any]] | None:
    """(line, document) for each of several JSON documents written one after
    another (``jq .`` output, pretty-printed); ``None`` if ``text`` is not that."""
    decoder = json.JSONDecoder()
    found: list[tuple[int, Any]] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return found if len(found) > 1 else None
        try:
            document, end = decoder.raw_decode(text, position)
        except (ValueError, RecursionError):
            return None
        found.append((text.count("\n", 0, position) + 1, document))
        position = end


def _report_concatenated(
    documents: list[tuple[int, Any]], name: str
) -> Iterator[tuple[str, Any, str | None]]:
    second = documents[1][0]
    yield (
        f"{name}:{second}",
        None,
        f"{_SECOND_DOCUMENT}: this file holds {len(documents)} "
        "pretty-printed documents one after another, which is neither one JSON document "
        "nor newline-delimited JSON (one document per line). Put them in a JSON array, or "
        "one per line (jq -c . FILE); each is checked below",
    )
    for line, document in documents:
        yield f"{name}:{line}", document, None


def _first_line(text: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if line.strip())


def _parses(line: str) -> bool:
    # JSON that is only too deep counts: a line of NDJSON, reported line by line.
    return not isinstance(load_whole(line)[1], ValueError)
