#!/usr/bin/env python3
"""Print the package version, read from src/mozdef_client/_version.py.

That file is the only place the version is written down; the Makefile, the
Debian changelog and the RPM spec all ask this script at build time.

    packaging/version.py          e.g. 2.1.0rc1   (PEP 440, as Python sees it)
    packaging/version.py deb           2.1.0~rc1  (sorts right for dpkg and rpm)
    packaging/version.py rpm           the same as deb

It parses the file instead of importing the package, so it needs neither
urllib3 nor an installed copy.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

VERSION_FILE = Path(__file__).resolve().parent.parent / "src" / "mozdef_client" / "_version.py"

# Public PEP 440 versions only: release, optional pre, post and dev parts.
_PEP440 = re.compile(
    r"(?P<release>\d+(?:\.\d+)*)"
    r"(?:(?P<pre>a|b|rc)(?P<pre_n>\d+))?"
    r"(?:\.post(?P<post>\d+))?"
    r"(?:\.dev(?P<dev>\d+))?"
)


def read_version(path: Path = VERSION_FILE) -> str:
    """The string assigned to ``__version__`` in ``_version.py``."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise SystemExit(f"no __version__ = '...' in {path}")


def distro_version(version: str) -> str:
    """The PEP 440 version spelled so dpkg and rpm order it the same way.

    "~" sorts before anything, so pre-releases become ``2.1.0~rc1``. A dev
    release before any pre-release gets "~~" so that 2.1.0.dev0 < 2.1.0a1
    holds for dpkg and rpm too ("~dev0" would sort after "~a1").
    """
    match = _PEP440.fullmatch(version)
    if match is None:
        raise SystemExit(f"{version!r} is not a public PEP 440 version this script understands")
    parts = [match["release"]]
    if match["pre"]:
        parts.append(f"~{match['pre']}{match['pre_n']}")
    if match["post"]:
        parts.append(f"+post{match['post']}")
    if match["dev"]:
        bare = not match["pre"] and not match["post"]
        parts.append(f"{'~~' if bare else '~'}dev{match['dev']}")
    return "".join(parts)


def main(argv: list[str]) -> int:
    form = argv[1] if len(argv) > 1 else "pep440"
    version = read_version()
    if form == "pep440":
        print(version)
    elif form in ("deb", "rpm"):
        print(distro_version(version))
    else:
        print("usage: version.py [pep440|deb|rpm]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
