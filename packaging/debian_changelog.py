#!/usr/bin/env python3
"""Write debian/changelog for the version in src/mozdef_client/_version.py.

dpkg takes the package version from debian/changelog, so "make deb" writes
that file at build time instead of keeping a second copy of the version in
the repository. The release notes themselves live in CHANGELOG.md.

    packaging/debian_changelog.py debian/control > debian/changelog
"""

from __future__ import annotations

import email.utils
import os
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from version import distro_version, read_version


def _field(control: str, name: str) -> str:
    match = re.search(rf"^{name}:\s*(.+)$", control, re.MULTILINE)
    if match is None:
        raise SystemExit(f"debian/control has no {name} field")
    return match.group(1).strip()


def changelog(control: str, version: str, when: datetime) -> str:
    """One changelog entry, signed by the Maintainer named in debian/control."""
    return (
        f"{_field(control, 'Source')} ({distro_version(version)}) unstable; urgency=medium\n"
        "\n"
        f"  * mozdef_client {version}; see CHANGELOG.md for the changes.\n"
        "\n"
        f" -- {_field(control, 'Maintainer')}  {email.utils.format_datetime(when)}\n"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: debian_changelog.py debian/control", file=sys.stderr)
        return 2
    # Honour SOURCE_DATE_EPOCH so rebuilds of one commit give the same package.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    control = Path(argv[1]).read_text(encoding="utf-8")
    sys.stdout.write(changelog(control, read_version(), when))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
