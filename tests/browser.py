"""A real headless Chromium for the web view's tests, driven by selenium.

Debian's ``chromium`` and ``chromium-driver`` (``apt-get install chromium
chromium-driver``, as .ci/run does) and selenium (the dev extra). Without
them the tests skip on a developer's machine and fail in CI
(``MOZDEF_TEST_REQUIRE_SERVICES=1``), which must run them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent
# Screenshots kept for people to look at; build/ is git-ignored.
ARTIFACTS = Path(os.environ.get("MOZDEF_TEST_ARTIFACTS", REPO / "build" / "test-artifacts"))
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
)


def unavailable(reason: str) -> NoReturn:
    """Skip on a developer's machine; fail where CI promised the browser."""
    message = f"{reason}; install it: apt-get install chromium chromium-driver"
    if os.environ.get("MOZDEF_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (and MOZDEF_TEST_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@contextmanager
def chromium() -> Iterator[Any]:
    """A selenium WebDriver on a fresh headless Chromium profile."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (the dev extra has it)")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if browser is None or driver_path is None:
        unavailable("Debian's chromium or chromium-driver is not installed")
    profile = tempfile.mkdtemp(prefix="mozdef-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path
