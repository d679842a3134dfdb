"""The HTML report of a real run, used in headless Chromium the way a person uses it.

The page is served by a loopback HTTP server that records every request, so a request the
page makes, or that markup smuggled in by a result would make, shows up in its log.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from pathlib import Path

import pytest
from browser import chromium, full_page_png
from conftest import load_report, run_playbook
from fixtures.sdists import make_sdist, standard_corpus
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

# Markup in test ids and assertion messages: the report must show it as text.
HOSTILE = (
    "<script>window.pytiPwned = 1</script>",
    '<img src="/pyti-pwned.png" onerror="window.pytiPwned = 2">',
)

HOSTILE_TESTS = f"""\
import pytest

HOSTILE = {HOSTILE!r}

@pytest.mark.parametrize("markup", HOSTILE, ids=HOSTILE)
def test_markup(markup):
    assert markup == "", markup
"""


def hostile_sdist(folder: Path) -> Path:
    files = {"pyti_fx_hostile/__init__.py": "VALUE = 1\n", "tests/test_markup.py": HOSTILE_TESTS}
    return make_sdist(folder, "pyti-fx-hostile", files)


@pytest.fixture(scope="module")
def run(tmp_path_factory, cache_dir):
    tmp = tmp_path_factory.mktemp("browser-run")
    sdists = [*standard_corpus(tmp / "sdists").values(), hostile_sdist(tmp / "sdists")]
    proc = run_playbook(
        {
            "pyti_distributions": [str(path) for path in sdists],
            "pyti_report_dir": str(tmp / "reports"),
            "pyti_cache_dir": str(cache_dir),
            "pyti_work_dir": str(tmp / "slave"),
        },
        tmp,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = load_report(tmp / "reports")
    return {"report": report, "dir": (tmp / "reports" / report["run"]["id"]).resolve()}


class RecordingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the run directory and records each requested path instead of logging it."""

    def log_message(self, format, *args):  # noqa: A002 - the name http.server uses
        self.server.requests.append(self.path)

    def end_headers(self):
        # Without it Chromium may take the page from its cache, by the heuristic freshness
        # that Last-Modified allows, and a test that counts requests would see none.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@pytest.fixture(scope="module")
def server(run):
    handler = functools.partial(RecordingHandler, directory=str(run["dir"]))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    thread.join(timeout=10)
    httpd.server_close()


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    browser = chromium(tmp_path_factory.mktemp("chromium") / "profile")
    yield browser
    browser.quit()


@pytest.fixture
def page(driver, server):
    """The report freshly loaded, with the server's and the browser's logs emptied."""
    driver.get("about:blank")
    driver.get_log("performance")
    driver.get_log("browser")
    server.requests.clear()
    driver.get(f"http://127.0.0.1:{server.server_port}/report.html")
    return driver


def rows(page) -> list:
    return page.find_elements(By.CSS_SELECTOR, "table#results tbody tr.result")


def names(elements) -> list[str]:
    return [row.find_element(By.TAG_NAME, "td").text for row in elements]


def row_of(page, distribution: str):
    (row,) = [row for row in rows(page) if names([row]) == [distribution]]
    return row


def test_one_row_per_result_with_its_status(run, page):
    shown = [(names([row])[0], row.get_attribute("data-status")) for row in rows(page)]
    expected = [(r["distribution"], r["status"]) for r in run["report"]["results"]]
    assert shown == expected
    assert dict(shown) == {
        "pyti-fx-fail": "failed",
        "pyti-fx-hostile": "failed",
        "pyti-fx-nobuild": "failed",
        "pyti-fx-notests": "passed",
        "pyti-fx-pass": "passed",
    }


def test_filter_hides_rows_that_do_not_match(page):
    box = page.find_element(By.ID, "filter")
    box.send_keys("FX-NO")
    visible = [row for row in rows(page) if row.is_displayed()]
    assert names(visible) == ["pyti-fx-nobuild", "pyti-fx-notests"]

    box.send_keys(Keys.BACKSPACE * 5)
    assert all(row.is_displayed() for row in rows(page))

    # The wheelhouse lists pytest in every row that got one; the filter does not search it.
    box.send_keys("pytest==")
    assert not [row for row in rows(page) if row.is_displayed()]
    box.send_keys(Keys.BACKSPACE * 8)


def test_the_wheelhouse_opens_to_its_versions(run, page):
    row = row_of(page, "pyti-fx-pass")
    wheelhouse = row.find_element(By.CSS_SELECTOR, "details.wheelhouse")
    assert not wheelhouse.find_element(By.TAG_NAME, "ul").is_displayed()
    wheelhouse.find_element(By.TAG_NAME, "summary").click()
    listed = wheelhouse.find_element(By.TAG_NAME, "ul").text.splitlines()
    (result,) = [r for r in run["report"]["results"] if r["distribution"] == "pyti-fx-pass"]
    assert listed == [f"{name}=={version}" for name, version in result["wheelhouse"].items()]
    assert any(line.startswith("pytest==") for line in listed)


def header(page, name: str):
    (cell,) = [
        th for th in page.find_elements(By.CSS_SELECTOR, "#results thead th") if th.text == name
    ]
    return cell


def test_clicking_a_header_sorts_by_that_column(run, page):
    distribution = header(page, "Distribution")
    distribution.click()
    ascending = names(rows(page))
    assert distribution.get_attribute("aria-sort") == "ascending"
    distribution.click()
    assert distribution.get_attribute("aria-sort") == "descending"
    assert names(rows(page)) == ascending[::-1]
    assert ascending == sorted(r["distribution"] for r in run["report"]["results"])

    header(page, "Duration").click()
    seconds = [
        float(row.find_element(By.CSS_SELECTOR, "td[data-num]").get_attribute("data-num"))
        for row in rows(page)
    ]
    assert seconds == sorted(seconds)
    assert distribution.get_attribute("aria-sort") is None


def test_header_sorts_from_the_keyboard(page):
    status = header(page, "Status")
    status.send_keys(Keys.ENTER)
    assert status.get_attribute("aria-sort") == "ascending"
    statuses = [row.get_attribute("data-status") for row in rows(page)]
    assert statuses == sorted(statuses)


def test_opening_a_failure_shows_its_reason_and_log(page):
    log = row_of(page, "pyti-fx-fail").find_element(By.CSS_SELECTOR, "details.log")
    reason = log.find_element(By.CSS_SELECTOR, "p.reason")
    assert log.get_attribute("open") is None
    assert not reason.is_displayed()

    log.find_element(By.TAG_NAME, "summary").click()
    assert log.get_attribute("open") is not None
    assert reason.text == "1 of 2 tests failed: tests/test_half.py::test_odd"
    tail = log.find_element(By.TAG_NAME, "pre")
    assert tail.is_displayed()
    assert "test_odd" in tail.text


def test_hostile_text_shows_as_text(page):
    log = row_of(page, "pyti-fx-hostile").find_element(By.CSS_SELECTOR, "details.log")
    log.find_element(By.TAG_NAME, "summary").click()
    text = log.text
    for markup in HOSTILE:
        assert markup in text
    assert page.execute_script("return window.pytiPwned") is None
    assert page.find_elements(By.TAG_NAME, "img") == []
    assert len(page.find_elements(By.TAG_NAME, "script")) == 1


def test_page_makes_no_request(page, server):
    page.find_element(By.ID, "filter").send_keys("pyti")
    for log in page.find_elements(By.CSS_SELECTOR, "details.log summary"):
        log.click()
    header(page, "Version").click()
    events = [json.loads(entry["message"])["message"] for entry in page.get_log("performance")]
    urls = [
        event["params"]["request"]["url"]
        for event in events
        if event["method"] == "Network.requestWillBeSent"
    ]
    assert [url for url in urls if not url.startswith("chrome:")] == [page.current_url]
    assert server.requests == ["/report.html"]
    assert [entry for entry in page.get_log("browser") if entry["level"] == "SEVERE"] == []


def test_policy_blocks_what_markup_could_load(page, server):
    """Were escaping ever to fail, the Content-Security-Policy still stops a fetch."""
    page.execute_script(
        "var probe = document.createElement('img');"
        "probe.src = '/csp-probe.png'; document.body.appendChild(probe);"
        "var inline = document.createElement('div');"
        "inline.innerHTML = '<img src=x onerror=\"window.pytiPwned = 3\">';"
        "document.body.appendChild(inline);"
    )
    page.execute_script("return document.readyState")
    assert "/csp-probe.png" not in server.requests
    assert page.execute_script("return window.pytiPwned") is None
    messages = [entry["message"] for entry in page.get_log("browser")]
    assert any("Content Security Policy" in message for message in messages), messages


def test_screenshot(page, tmp_path):
    png = full_page_png(page)
    (tmp_path / "report.png").write_bytes(png)
    if os.environ.get("PYTI_SCREENSHOT_DIR"):
        folder = Path(os.environ["PYTI_SCREENSHOT_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.png").write_bytes(png)
    assert png.startswith(b"\x89PNG")
