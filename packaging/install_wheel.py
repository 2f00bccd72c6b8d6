#!/usr/bin/env python3
"""Install a wheel into an RPM build root: the spec's %install step.

Fedora's pyproject-rpm-macros do this with %pyproject_install, but Debian's
rpm package has no Python macros. This uses the ``installer`` library
(Debian: python3-installer, Fedora: python3-installer) with explicit paths,
so the result does not depend on the build host's sysconfig scheme (Debian's
would put the files under /usr/local/lib/python3/dist-packages).

    install_wheel.py --root BUILDROOT --sitelib DIR --bindir DIR \\
        --python /usr/bin/python3 dist/pkg.whl
"""

from __future__ import annotations

import argparse
import sys

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="the RPM build root")
    parser.add_argument("--sitelib", required=True, help="where pure-Python modules go")
    parser.add_argument("--bindir", required=True, help="where console scripts go")
    parser.add_argument("--datadir", default="/usr", help="where wheel .data/data goes")
    parser.add_argument("--python", required=True, help="interpreter for script shebangs")
    parser.add_argument("wheel")
    args = parser.parse_args(argv[1:])
    destination = SchemeDictionaryDestination(
        {
            "purelib": args.sitelib,
            "platlib": args.sitelib,
            "scripts": args.bindir,
            "data": args.datadir,
            "headers": f"{args.datadir}/include",
        },
        interpreter=args.python,
        script_kind="posix",
        destdir=args.root,
    )
    with WheelFile.open(args.wheel) as source:
        install(source, destination, additional_metadata={"INSTALLER": b"rpm\n"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
