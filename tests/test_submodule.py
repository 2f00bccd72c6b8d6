"""Using mozdef_client as a git submodule, the way docs/packaging.md says.

A throwaway project adds a copy of this repository as a real git submodule,
is cloned again with --recurse-submodules, and runs a program that begins with
the documented sys.path recipe, on a Python that has nothing but urllib3.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from servers import Receiver

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "packaging.md"
SUBMODULE = "vendor/mozdef_client"
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)

# What the vendoring program does after the documented recipe's import.
PROGRAM = """
from mozdef_client import Client, Event, MozDefEvent

print(mozdef_client.__file__)
url = sys.argv[1]
with Client(url) as client:
    client.send(Event(summary="sent by a project that vendors mozdef_client"))
legacy = MozDefEvent(url)
legacy.summary = "sent through the 1.1 API from the submodule"
legacy.send()
"""


def documented_recipe() -> str:
    """The Python code block of the submodule section in docs/packaging.md."""
    section = DOC.read_text(encoding="utf-8").split("## As a git submodule", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```python\n(.*?)```", section, re.DOTALL) if "sys.path" in b]
    assert len(blocks) == 1, "expected one python block with the sys.path recipe"
    return blocks[0]


def git(*args: str | Path, cwd: Path) -> None:
    """git with a fixed identity, ignoring the user's and the system's config."""
    if shutil.which("git") is None:
        message = "git is not installed (Debian: apt-get install git)"
        if os.environ.get("CI") or os.environ.get("MOZDEF_TEST_REQUIRE_SERVICES"):
            pytest.fail(message)
        pytest.skip(message)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    options = [
        "-c", "user.name=submodule test",
        "-c", "user.email=submodule-test@example.invalid",
        "-c", "init.defaultBranch=main",
        # git refuses local paths as submodule URLs unless told otherwise.
        "-c", "protocol.file.allow=always",
    ]  # fmt: skip
    subprocess.run(
        ["git", *options, *map(str, args)], cwd=cwd, env=env, check=True, capture_output=True
    )


def python_with_only_urllib3(venv: Path) -> Path:
    """A virtualenv holding urllib3 alone, copied from this environment (offline)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = Path(subprocess.check_output([python, "-c", where], text=True).strip())
    dist = importlib.metadata.distribution("urllib3")
    for file in dist.files or ():
        if "__pycache__" not in file.parts:
            (purelib / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(str(dist.locate_file(file))), purelib / file)
    return python


def test_documented_recipe_puts_the_repositorys_src_directory_on_sys_path() -> None:
    """The package sits in src/, so the repository root alone would not do."""
    recipe = documented_recipe()
    assert '/ "vendor" / "mozdef_client" / "src"' in recipe
    assert f"git submodule add <mozdef_client repository URL> {SUBMODULE}" in DOC.read_text()


def test_project_with_the_submodule_sends_events_on_a_python_with_only_urllib3(
    tmp_path: Path, receiver: Receiver
) -> None:
    upstream = tmp_path / "mozdef_client"
    shutil.copytree(REPO, upstream, ignore=NOT_SOURCES, symlinks=True)
    git("init", "-q", cwd=upstream)
    git("add", "-A", cwd=upstream)
    git("commit", "-q", "-m", "mozdef_client", cwd=upstream)

    project = tmp_path / "project"
    project.mkdir()
    git("init", "-q", cwd=project)
    git("submodule", "add", "-q", upstream, SUBMODULE, cwd=project)
    (project / "app.py").write_text(documented_recipe() + PROGRAM, encoding="utf-8")
    git("add", "app.py", cwd=project)
    git("commit", "-q", "-m", "Use mozdef_client from a submodule", cwd=project)
    # A teammate's checkout: the submodule comes from the clone, not the copy above.
    clone = tmp_path / "clone"
    git("clone", "-q", "--recurse-submodules", project, clone, cwd=tmp_path)

    python = python_with_only_urllib3(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    names = "import importlib.metadata as m; print([d.name for d in m.distributions()])"
    installed = subprocess.check_output([python, "-c", names], env=env, text=True)
    assert installed.strip() == "['urllib3']"
    bare = subprocess.run([python, "-c", "import mozdef_client"], env=env, capture_output=True)
    assert b"No module named 'mozdef_client'" in bare.stderr

    # Run from elsewhere: the recipe finds src/ from the program's own location.
    result = subprocess.run(
        [python, clone / "app.py", receiver.url],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    package = clone / SUBMODULE / "src" / "mozdef_client" / "__init__.py"
    assert Path(result.stdout.strip()) == package
    summaries = [event["summary"] for event in receiver.wait_for_events(2)]
    assert summaries == [
        "sent by a project that vendors mozdef_client",
        "sent through the 1.1 API from the submodule",
    ]
