"""Release packaging: make dist/deb/rpm/install, each artifact checked by using it.

The slow tests run ``make packages`` once, in a copy of the project (the work
tree and its dist/ stay untouched), then use every artifact without installing
anything system-wide: the wheel goes into a fresh virtualenv, the .deb is
unpacked with ``dpkg-deb -x`` and the .rpm with ``rpm2cpio | cpio``, and the
unpacked trees run on Debian's own /usr/bin/python3.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import importlib.util
import itertools
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

import mozdef_client

REPO = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's: what the .deb and the .rpm run on
APT_LINE = (
    "apt-get install dpkg-dev debhelper dh-python pybuild-plugin-pyproject python3-all "
    "python3-setuptools python3-wheel python3-build python3-installer python3-urllib3 rpm cpio"
)
OPTIONAL = ("boto3", "pika", "orjson", "rich")
# Left out when the project is copied for a build: local state, not sources.
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)


def _load_version_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_pkg_version", REPO / "packaging/version.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


version_script = _load_version_script()
VERSION = mozdef_client.__version__
DISTRO_VERSION: str = version_script.distro_version(VERSION)


def missing(what: str) -> NoReturn:
    """Skip on a developer's machine, but fail in CI, which must run these tests."""
    message = f"{what}; install the build tools: {APT_LINE}"
    if os.environ.get("CI") or os.environ.get("MOZDEF_TEST_REQUIRE_SERVICES"):
        pytest.fail(message)
    pytest.skip(message)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child process, without this venv's Python settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1", LC_ALL="C.UTF-8", **extra)
    return env


def run(
    args: Sequence[str | Path], *, cwd: Path | None = None, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run a command; its output is in the assertion message if it fails."""
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}\n"
        f"--- stdout (end)\n{result.stdout[-4000:]}\n--- stderr (end)\n{result.stderr[-4000:]}"
    )
    return result


def fresh_venv(path: Path, *distributions: str) -> Path:
    """A virtualenv holding only ``distributions``, copied from this environment.

    Copying keeps the tests offline: nothing is fetched from a package index.
    Returns the venv's python.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", path], check=True)
    python = path / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = Path(run([python, "-c", where]).stdout.strip())
    for name in distributions:
        dist = importlib.metadata.distribution(name)
        for file in dist.files or ():
            if file.parts[0] == ".." or "__pycache__" in file.parts:
                continue  # console scripts outside site-packages, bytecode
            target = purelib / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(str(dist.locate_file(file))), target)
    return python


def pip_into(python: Path, *args: str | Path) -> None:
    """This environment's pip, installing into another Python, offline."""
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-index", *args])


def assert_demo_ran(result: subprocess.CompletedProcess[str]) -> None:
    match = re.search(r"^(\d+) of (\d+) events arrived", result.stdout, re.MULTILINE)
    assert match is not None, result.stdout
    assert match[1] == match[2] != "0", match[0]


# --- fast checks: the version, the changelog, the messages about missing tools ----


def test_version_script_prints_the_version_from_version_py() -> None:
    """packaging/version.py, which the Makefile asks, agrees with the package."""
    out = run([sys.executable, REPO / "packaging/version.py"]).stdout.strip()
    assert out == VERSION
    out = run([sys.executable, REPO / "packaging/version.py", "deb"]).stdout.strip()
    assert out == DISTRO_VERSION


def test_no_packaging_file_repeats_the_version() -> None:
    """The version is written only in _version.py: debian/, the spec and the
    Makefile take it at build time, and debian/changelog is not kept in git."""
    files = [REPO / "Makefile", REPO / "pyproject.toml", REPO / "CHANGELOG.md"]
    files += [p for p in (REPO / "packaging").rglob("*") if p.is_file() and p.suffix != ".pyc"]
    files += [p for p in (REPO / "debian").rglob("*") if p.is_file()]
    assert not (REPO / "debian" / "changelog").exists()
    for path in files:
        text = path.read_text(encoding="utf-8")
        for spelling in {VERSION, DISTRO_VERSION}:
            assert spelling not in text, f"{path.relative_to(REPO)} repeats the version {spelling}"


def test_changelog_starts_with_unreleased_or_the_current_version() -> None:
    """CHANGELOG.md's newest entry is either work in progress or this release."""
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings, "CHANGELOG.md has no '## ' entries"
    newest = headings[0].strip()
    assert newest == "Unreleased" or newest.lstrip("[").startswith(VERSION), newest


# Ascending in PEP 440; the distro spellings must sort the same way.
PEP440_ORDER = [
    "1.9",
    "2.0.0.dev0",
    "2.0.0.dev1",
    "2.0.0a1.dev0",
    "2.0.0a1",
    "2.0.0b2",
    "2.0.0rc1",
    "2.0.0",
    "2.0.0.post1.dev0",
    "2.0.0.post1",
    "2.0.1",
    "2.10.0",
]


def test_distro_versions_sort_like_pep440_for_dpkg_and_rpm() -> None:
    """A pre-release or dev build never sorts after its release for apt or dnf."""
    if not (shutil.which("dpkg") and shutil.which("rpm")):
        missing("dpkg and rpm are needed to compare versions")
    spelled = [version_script.distro_version(v) for v in PEP440_ORDER]
    for older, newer in itertools.pairwise(spelled):
        dpkg = subprocess.run(["dpkg", "--compare-versions", older, "lt", newer], check=False)
        assert dpkg.returncode == 0, f"dpkg: {older} is not older than {newer}"
        lua = f'%{{lua: print(rpm.vercmp("{older}", "{newer}"))}}'
        assert run(["rpm", "--eval", lua]).stdout.strip() == "-1", f"rpm: {older} vs {newer}"


def test_distro_version_refuses_what_it_cannot_spell() -> None:
    """A local or malformed version stops the build instead of a wrong package."""
    for bad in ("2.0.0+local", "2.0-beta", "v2"):
        with pytest.raises(SystemExit, match="PEP 440"):
            version_script.distro_version(bad)


def make_fails(*args: str, env_path: str | None = None) -> str:
    """Run make in the project expecting a failure; returns its stderr."""
    make = shutil.which("make")
    if make is None:
        missing("make is not installed")
    env = clean_env() if env_path is None else clean_env(PATH=env_path)
    result = subprocess.run(
        [make, "--no-print-directory", "-C", str(REPO), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0, result.stdout
    return result.stderr


def test_missing_debian_tools_name_the_package_to_install(tmp_path: Path) -> None:
    """Without dpkg-buildpackage or rpmbuild, make says which package provides it."""
    empty = tmp_path / "bin"
    empty.mkdir()
    assert "apt-get install dpkg-dev" in make_fails("deb", env_path=str(empty))
    assert "apt-get install rpm" in make_fails("rpm", env_path=str(empty))


def test_missing_build_module_names_the_packages_to_install(tmp_path: Path) -> None:
    """make dist with a Python lacking 'build' says how to get it, and builds nothing."""
    python = fresh_venv(tmp_path / "venv")
    stderr = make_fails("dist", f"PYTHON={python}")
    assert "cannot import build" in stderr
    assert "pip install build" in stderr and "python3-build" in stderr


# --- slow: build everything once, then use each artifact --------------------------


@dataclass(frozen=True)
class Built:
    project: Path  # the copy make ran in
    wheel: Path
    sdist: Path
    deb: Path
    rpm: Path


def _check_build_tools() -> None:
    for command in ("make", "dpkg-checkbuilddeps", "dpkg-deb", "rpmbuild", "rpm2cpio", "cpio"):
        if shutil.which(command) is None:
            missing(f"{command} is not installed")
    deps = subprocess.run(
        ["dpkg-checkbuilddeps", REPO / "debian/control"], capture_output=True, text=True
    )
    if deps.returncode != 0:
        missing(deps.stderr.strip())
    probe = "import build, installer, setuptools, wheel, urllib3"
    if subprocess.run([SYSTEM_PYTHON, "-I", "-c", probe], capture_output=True).returncode:
        missing(f"{SYSTEM_PYTHON} cannot {probe}")


def _tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """``make packages`` run once in a copy of the project, with this venv's Python."""
    _check_build_tools()
    project = tmp_path_factory.mktemp("packaging") / "mozdef_client"
    shutil.copytree(REPO, project, ignore=NOT_SOURCES, symlinks=True)
    debian_before = _tree(project / "debian")
    run(["make", "packages", f"PYTHON={sys.executable}"], cwd=project, timeout=600)
    # Building left debian/ as it was: changelog and build state live under build/.
    assert _tree(project / "debian") == debian_before
    dist = project / "dist"
    yield Built(
        project=project,
        wheel=dist / f"mozdef_client-{VERSION}-py3-none-any.whl",
        # setuptools < 69.3 spells it mozdef-client-...
        sdist=next(dist.glob(f"mozdef[-_]client-{VERSION}.tar.gz")),
        deb=dist / f"python3-mozdef-client_{DISTRO_VERSION}_all.deb",
        rpm=dist / f"python3-mozdef-client-{DISTRO_VERSION}-1.noarch.rpm",
    )


@pytest.mark.slow
def test_make_packages_builds_the_four_artifacts_named_for_the_version(built: Built) -> None:
    """dist/ holds exactly the wheel, the sdist, the .deb and the .rpm."""
    found = sorted(p.name for p in (built.project / "dist").iterdir())
    expected = sorted(p.name for p in (built.wheel, built.sdist, built.deb, built.rpm))
    assert found == expected


@pytest.mark.slow
def test_sdist_carries_sources_docs_and_typing_marker(built: Built) -> None:
    with tarfile.open(built.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for wanted in (
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "src/mozdef_client/__init__.py",
        "src/mozdef_client/_version.py",
        "src/mozdef_client/py.typed",
        "src/mozdef_client/receiver/static/index.html",
        "src/mozdef_client/receiver/static/app.js",
        "src/mozdef_client/receiver/static/app.css",
    ):
        assert wanted in names


@pytest.mark.slow
def test_wheel_requires_urllib3_only_and_offers_the_command(built: Built) -> None:
    """boto3, pika, orjson and rich are extras; the console script is mozdef_client.cli:main."""
    info = f"mozdef_client-{VERSION}.dist-info"
    with zipfile.ZipFile(built.wheel) as wheel:
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        assert "mozdef_client/py.typed" in wheel.namelist()
        for page in ("index.html", "app.js", "app.css"):  # the receiver's web view
            assert f"mozdef_client/receiver/static/{page}" in wheel.namelist()
    # The licence as an SPDX expression (PEP 639): no deprecated table form.
    assert re.search(r"^License-Expression: MPL-2\.0$", metadata, re.MULTILINE)
    requires = re.findall(r"^Requires-Dist: (.+)$", metadata, re.MULTILINE)
    unconditional = [r for r in requires if "extra ==" not in r]
    assert [re.split(r"[ <>=;\[]", r)[0] for r in unconditional] == ["urllib3"]
    for name in OPTIONAL:
        assert any(r.startswith(name) and "extra ==" in r for r in requires), name
    assert re.search(r"^mozdef-client = mozdef_client\.cli:main$", entry_points, re.MULTILINE)


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_the_command_runs(
    built: Built, tmp_path: Path
) -> None:
    """pip insists on urllib3; with it, --version and the demo work from the venv."""
    python = fresh_venv(tmp_path / "venv")
    refused = subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-index", built.wheel],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0 and "urllib3" in refused.stdout + refused.stderr

    python = fresh_venv(tmp_path / "venv2", "urllib3")
    pip_into(python, built.wheel)
    command = python.parent / "mozdef-client"
    assert run([command, "--version"]).stdout.strip() == f"mozdef-client {VERSION}"
    assert_demo_ran(run([command, "demo"], cwd=tmp_path, timeout=180))
    where = run([python, "-c", "import mozdef_client; print(mozdef_client.__file__)"], cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(tmp_path / "venv2")


@pytest.mark.slow
def test_make_install_installs_into_the_python_it_is_given(built: Built, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv", "urllib3", "setuptools", "wheel")
    run(
        [
            "make",
            "install",
            f"PYTHON={python}",
            f"PIP={sys.executable} -m pip --python {python}",
            "PIP_FLAGS=--no-index --no-build-isolation",
        ],
        cwd=built.project,
        timeout=300,
    )
    assert run([python.parent / "mozdef-client", "--version"]).stdout.strip().endswith(VERSION)
    where = run([python, "-c", "import mozdef_client; print(mozdef_client.__file__)"], cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(tmp_path / "venv")


def _fields(text: str) -> dict[str, str]:
    """Name: value pairs from dpkg-deb -I or rpm -qi output (first line of each)."""
    pairs = re.findall(r"^\s*([A-Z][\w-]*(?: [A-Z]\w*)?)\s*: (.*)$", text, re.MULTILINE)
    return {name.strip(): value.strip() for name, value in reversed(pairs)}


@pytest.mark.slow
def test_deb_control_declares_urllib3_and_only_suggests_the_extras(built: Built) -> None:
    fields = _fields(run(["dpkg-deb", "-I", built.deb]).stdout)
    assert fields["Package"] == "python3-mozdef-client"
    assert fields["Version"] == DISTRO_VERSION
    assert fields["Architecture"] == "all"
    depends = [d.strip() for d in fields["Depends"].split(",")]
    assert "python3-urllib3" in [d.split()[0] for d in depends]
    assert any(d.startswith("python3:any (>= 3.10") for d in depends), depends
    assert not any(name in fields["Depends"] for name in OPTIONAL)
    weak = fields.get("Recommends", "") + "," + fields.get("Suggests", "")
    for name in OPTIONAL:
        assert f"python3-{name}" in weak


@pytest.mark.slow
def test_deb_holds_the_library_the_command_and_the_docs(built: Built) -> None:
    listing = run(["dpkg-deb", "-c", built.deb]).stdout
    paths = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
    site = "/usr/lib/python3/dist-packages"
    for wanted in (
        "/usr/bin/mozdef-client",
        f"{site}/mozdef_client/__init__.py",
        f"{site}/mozdef_client/py.typed",
        f"{site}/mozdef_client/transports/http.py",
        f"{site}/mozdef_client/receiver/static/index.html",
        f"{site}/mozdef_client-{VERSION}.dist-info/entry_points.txt",
        "/usr/share/doc/python3-mozdef-client/copyright",
    ):
        assert wanted in paths
    # dh_compress gzips docs above 4 kB.
    readme = "/usr/share/doc/python3-mozdef-client/README.md"
    assert readme in paths or f"{readme}.gz" in paths


def _runs_unpacked(root: Path, site: Path) -> None:
    """The unpacked library imports, and its command runs, on Debian's Python."""
    env = {"PYTHONPATH": str(site)}
    probe = "import mozdef_client as m; print(m.__version__); print(m.__file__)"
    version, where = run([SYSTEM_PYTHON, "-c", probe], cwd=root, **env).stdout.split()
    assert version == VERSION
    assert Path(where).is_relative_to(site)
    command = root / "usr/bin/mozdef-client"
    assert command.read_text().startswith(f"#!{SYSTEM_PYTHON}\n")
    assert run([command, "--version"], cwd=root, **env).stdout.strip() == f"mozdef-client {VERSION}"
    assert_demo_ran(run([command, "demo"], cwd=root, timeout=180, **env))


@pytest.mark.slow
def test_deb_unpacked_runs_on_the_system_python(built: Built, tmp_path: Path) -> None:
    run(["dpkg-deb", "-x", built.deb, tmp_path])
    _runs_unpacked(tmp_path, tmp_path / "usr/lib/python3/dist-packages")
    # debhelper installs the project's CHANGELOG.md as the package changelog.
    changelog = tmp_path / "usr/share/doc/python3-mozdef-client/changelog.gz"
    assert gzip.decompress(changelog.read_bytes()).decode() == (REPO / "CHANGELOG.md").read_text()


@pytest.mark.slow
def test_rpm_header_declares_urllib3_and_only_suggests_the_extras(built: Built) -> None:
    fields = _fields(run(["rpm", "-qip", built.rpm]).stdout)
    assert fields["Name"] == "python3-mozdef-client"
    assert fields["Version"] == DISTRO_VERSION
    assert fields["Architecture"] == "noarch"
    assert fields["License"] == "MPL-2.0"
    requires = run(["rpm", "-qp", "--requires", built.rpm]).stdout
    assert "python3-urllib3" in requires.splitlines()
    assert not any(name in requires for name in OPTIONAL)
    assert run(["rpm", "-qp", "--recommends", built.rpm]).stdout.split() == ["python3-orjson"]
    assert sorted(run(["rpm", "-qp", "--suggests", built.rpm]).stdout.split()) == [
        "python3-boto3",
        "python3-pika",
        "python3-rich",
    ]


def _rpm_site(paths: set[str]) -> str:
    sites = {m[0] for p in paths if (m := re.match(r"/usr/lib/python3\.\d+/site-packages", p))}
    assert len(sites) == 1, sites
    return sites.pop()


@pytest.mark.slow
def test_rpm_holds_the_library_the_command_and_the_docs(built: Built) -> None:
    paths = set(run(["rpm", "-qlp", built.rpm]).stdout.split())
    site = _rpm_site(paths)
    for wanted in (
        "/usr/bin/mozdef-client",
        f"{site}/mozdef_client/__init__.py",
        f"{site}/mozdef_client/py.typed",
        f"{site}/mozdef_client/transports/http.py",
        f"{site}/mozdef_client-{VERSION}.dist-info/entry_points.txt",
    ):
        assert wanted in paths
    docs = {Path(p).name for p in paths if p.startswith("/usr/share/doc/")}
    assert {"README.md", "CHANGELOG.md"} <= docs


@pytest.mark.slow
def test_rpm_unpacked_runs_on_the_system_python(built: Built, tmp_path: Path) -> None:
    unpack = 'rpm2cpio "$0" | cpio -idm --quiet'
    run(["bash", "-o", "pipefail", "-c", unpack, built.rpm], cwd=tmp_path)
    paths = {"/" + str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    _runs_unpacked(tmp_path, tmp_path / _rpm_site(paths).lstrip("/"))


def test_the_licence_is_rewritten_only_for_a_setuptools_older_than_77() -> None:
    """Debian 12's setuptools (66) reads only the licence table; 77+ warn on it."""
    spec = importlib.util.spec_from_file_location("_old", REPO / "packaging/old_setuptools.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^license = "MPL-2\.0"$', pyproject, re.MULTILINE)
    rewritten = script.rewrite(pyproject)
    assert re.search(r'^license = \{ text = "MPL-2\.0" \}$', rewritten, re.MULTILINE)
    assert "setuptools>=" not in rewritten.split("[project]")[0]
    assert (script.needs_rewrite("66.1.1"), script.needs_rewrite("77.0.3")) == (True, False)
