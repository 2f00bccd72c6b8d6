"""The development receiver's web page, in a real headless Chromium (issue 14, item 6).

Events sent by the library must show in the table within a second, the
filters and the detail view must work, and the counts are drawn as a chart.
A screenshot of each run is kept under build/test-artifacts/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
import urllib3

from browser import chromium, screenshot
from mozdef_client import Client, Event, Kind, Severity
from mozdef_client.receiver import Receiver
from mozdef_client.receiver.web import EventLog, WebView

HTTP = urllib3.PoolManager(retries=False, timeout=5)


@pytest.fixture
def served() -> Iterator[Receiver]:
    """A receiver with the web view, as ``mozdef-client serve`` runs it."""
    receiver = Receiver(keep=False)
    log = EventLog()
    receiver.add_sink(log)
    receiver.serve_pages(WebView(log))
    with receiver:
        yield receiver


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def wait_for(condition: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def visible_summaries(driver: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [
        row.find_element(By.CSS_SELECTOR, "td.summary").text
        for row in driver.find_elements(By.CSS_SELECTOR, "#events tbody tr")
        if row.is_displayed()
    ]


def open_page(driver: Any, receiver: Receiver) -> None:
    driver.get(receiver.base_url + "/")
    assert wait_for(lambda: "live:" in driver.find_element("id", "status").text, 5)


def send_sample(receiver: Receiver) -> None:
    with Client(receiver.url) as client:
        client.send(Event(summary="login failed for joe", category="authentication",
                          severity=Severity.WARNING, source="sso",
                          details={"username": "joe"}))  # fmt: skip
        client.send(Event(summary="disk full on db1", category="system",
                          severity=Severity.ERROR, source="monitor"))  # fmt: skip
        client.send(Event(summary="backup done", category="system", source="cron"))
        client.send(Event(kind=Kind.ASSET_HINT, summary="new host", details={"host": "web9"}))


def test_events_sent_by_the_library_appear_within_a_second(driver, served):
    open_page(driver, served)
    send_sample(served)
    sent = time.monotonic()
    expected = ["new host", "backup done", "disk full on db1", "login failed for joe"]
    assert wait_for(lambda: visible_summaries(driver) == expected, 1.0), visible_summaries(driver)
    assert time.monotonic() - sent < 1.0
    cells = [td.text for td in driver.find_elements("css selector", "#events tbody tr")[3]
             .find_elements("css selector", "td")]  # fmt: skip
    assert cells[1:] == ["generic", "authentication", "WARNING", "sso", "login failed for joe"]
    screenshot(driver, "web-view-table.png")


def test_the_filter_box_and_the_severity_and_category_filters(driver, served):
    from selenium.webdriver.support.ui import Select

    open_page(driver, served)
    send_sample(served)
    assert wait_for(lambda: len(visible_summaries(driver)) == 4, 2)
    box = driver.find_element("id", "filter")
    box.send_keys("disk")
    assert visible_summaries(driver) == ["disk full on db1"]
    box.clear()
    box.send_keys("SSO joe")  # every word, any column, any case
    assert visible_summaries(driver) == ["login failed for joe"]
    box.clear()
    box.send_keys(" ")  # an input event after clear()
    Select(driver.find_element("id", "category")).select_by_value("system")
    assert visible_summaries(driver) == ["backup done", "disk full on db1"]
    Select(driver.find_element("id", "severity")).select_by_value("ERROR")
    assert visible_summaries(driver) == ["disk full on db1"]
    assert driver.find_element("id", "shown").text == "1 of 4 events shown"
    Select(driver.find_element("id", "category")).select_by_value("")
    Select(driver.find_element("id", "severity")).select_by_value("")
    assert len(visible_summaries(driver)) == 4


def test_clicking_an_event_shows_its_whole_document_and_findings(driver, served):
    open_page(driver, served)
    bare = {"summary": "bare <b>event</b>", "category": "probe", "severity": "INFO",
            "details": {"nested": {"deep": [1, 2]}}}  # fmt: skip
    assert HTTP.request("POST", served.url, body=json.dumps(bare).encode()).status == 200
    send_sample(served)
    assert wait_for(lambda: len(visible_summaries(driver)) == 5, 2)
    rows = driver.find_elements("css selector", "#events tbody tr")
    rows[-1].click()  # the oldest: the bare document
    detail = driver.find_element("id", "detail")
    assert detail.is_displayed()
    assert json.loads(driver.find_element("id", "document").text) == bare
    findings = [li.text for li in driver.find_elements("css selector", "#findings li")]
    assert findings == ["warning: timestamp is missing (recommended)",
                        "warning: hostname is missing (recommended)",
                        "warning: processname is missing (recommended)"]  # fmt: skip
    # Content is text, never markup.
    assert driver.find_elements("css selector", "#events b") == []
    assert "bare <b>event</b>" in visible_summaries(driver)
    screenshot(driver, "web-view-detail.png")
    rows[0].click()
    assert [li.text for li in driver.find_elements("css selector", "#findings li")] == [
        "valid: no findings"
    ]
    driver.find_element("id", "close").click()
    assert not detail.is_displayed()


def test_counts_by_category_and_severity_are_drawn_as_bars(driver, served):
    open_page(driver, served)
    send_sample(served)

    def bars(chart: str) -> dict[str, str]:
        found = driver.find_elements("css selector", f"#{chart} rect")
        return {bar.get_attribute("data-name"): bar.get_attribute("data-count") for bar in found}

    expected = {"system": "2", "authentication": "1", "asset_hint": "1"}
    assert wait_for(lambda: bars("chart-category") == expected, 2), bars("chart-category")
    assert bars("chart-severity") == {"INFO": "2", "WARNING": "1", "ERROR": "1"}
    widths = {
        bar.get_attribute("data-name"): float(bar.get_attribute("width"))
        for bar in driver.find_elements("css selector", "#chart-category rect")
    }
    assert widths["system"] == pytest.approx(2 * widths["authentication"])
    screenshot(driver, "web-view.png")


def test_mozdef_client_serve_serves_the_page(tmp_path):
    from test_cli_subprocess import Server

    server = Server()
    try:
        assert f"web view (from this machine): {server.url}/" in server.banner
        page = HTTP.request("GET", server.url + "/")
        assert page.status == 200 and b"/ui/app.js" in page.data
        assert HTTP.request("POST", server.url + "/events", body=b'{"summary": "x"}').status == 200
        events = json.loads(HTTP.request("GET", server.url + "/api/events?after=0").data)
        assert [row["summary"] for row in events["events"]] == ["x"]
    finally:
        status, out, _ = server.stop()
    assert status == 0
    assert out.splitlines()[-2:] == ["  by category: - 1", "  by severity: - 1"]


def test_the_page_and_script_ship_in_the_package():
    web = resources.files("mozdef_client.receiver").joinpath("static")
    for name in ("index.html", "app.js", "app.css"):
        assert web.joinpath(name).is_file(), name
    page = web.joinpath("index.html").read_text()
    assert "http" not in page.replace("http://www.w3.org", "")  # nothing from a CDN


def test_the_page_carries_a_strict_content_security_policy(served):
    answer = HTTP.request("GET", served.base_url + "/")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert HTTP.request("GET", served.base_url + "/ui/app.js").status == 200
    assert HTTP.request("GET", served.base_url + "/api/events?after=x").status == 400


def test_the_web_view_answers_only_loopback_clients():
    log = EventLog()
    view = WebView(log)
    assert view("/", "192.0.2.7") is not None and view("/", "192.0.2.7")[0] == 403
    assert view("/api/events", "10.1.2.3")[0] == 403  # type: ignore[index]
    assert view("/", "127.0.0.1")[0] == 200  # type: ignore[index]
    assert view("/", "::1")[0] == 200  # type: ignore[index]
    assert view("/", "::ffff:127.0.0.1")[0] == 200  # type: ignore[index]
    assert view("/elsewhere", "127.0.0.1") is None  # the receiver answers 404


def test_the_event_log_keeps_the_newest_events_and_counts_them_all():
    from mozdef_client.receiver.intake import check_document

    log = EventLog(keep=3)
    log([check_document("/events", {"summary": f"{n}", "category": "c"}, 0.0) for n in range(5)])
    answer = log.since(0)
    assert [row["summary"] for row in answer["events"]] == ["2", "3", "4"]
    assert answer["last"] == 5 and answer["counts"]["category"] == {"c": 5}
    assert log.since(4)["events"][0]["id"] == 5
