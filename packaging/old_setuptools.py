"""Rewrite a source tree's pyproject.toml for a setuptools older than 77.

pyproject.toml gives the licence as an SPDX expression (``license =
"MPL-2.0"``, PEP 639), which setuptools 77 and later want (the older table
form makes them warn on every install). Debian 12's setuptools (66) refuses
that form, so ``make deb`` and ``make rpm``, which build with the system's
setuptools, run this on their copy of the sdist first. With a recent enough
setuptools it changes nothing.

Usage: python3 packaging/old_setuptools.py DIR
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import version
from pathlib import Path

_SPDX_LICENSE = re.compile(r'^license = "([^"]+)"$', re.MULTILINE)


def needs_rewrite(setuptools_version: str) -> bool:
    major = re.match(r"\d+", setuptools_version)
    return major is not None and int(major.group()) < 77


def rewrite(text: str) -> str:
    """The licence as a table, and no minimum setuptools the system cannot meet."""
    text = _SPDX_LICENSE.sub(r'license = { text = "\1" }', text)
    return re.sub(r'"setuptools>=\d+"', '"setuptools"', text)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    if not needs_rewrite(version("setuptools")):
        return 0
    path = Path(argv[1]) / "pyproject.toml"
    path.write_text(rewrite(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
