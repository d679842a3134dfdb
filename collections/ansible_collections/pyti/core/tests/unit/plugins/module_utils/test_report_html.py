# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from ansible_collections.pyti.core.plugins.module_utils import _report_html
from ansible_collections.pyti.core.plugins.module_utils._report import RunCollector
from ansible_collections.pyti.core.plugins.module_utils._report_html import to_html

FINISHED = "2026-12-04T16:20:00Z"
VOID = {"meta", "input", "br", "link", "img", "hr"}


class Page(HTMLParser):
    """Element outline of a page: tags with attributes, and a check that tags nest."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements = []
        self.stack = []
        self.text = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag=None, **attrs):
        return [
            found
            for name, found in self.elements
            if (tag is None or name == tag)
            and all(attrs[key] in (found.get(key) or "").split() for key in attrs)
        ]


def render(run, **results_by_slave):
    collector = RunCollector()
    collector.add_run(run)
    for slave, results in results_by_slave.items():
        collector.add_results(slave, results)
    return to_html(collector.build(FINISHED, "controller"))


@pytest.fixture
def page_text(run_payload, localhost_results, slave2_results):
    return render(run_payload, localhost=localhost_results, slave2=slave2_results)


def test_page_is_balanced_and_has_the_test_hooks(page_text):
    page = Page(page_text)
    assert page.stack == []
    assert len(page.find("table", id="results")) == 1
    assert len(page.find("table", id="summary")) == 1
    assert len(page.find("table", id="by-slave")) == 1
    assert len(page.find("input", id="filter")) == 1
    assert len(page.find("script")) == 1


def test_rows_and_status(page_text):
    rows = Page(page_text).find("tr", **{"class": "result"})
    assert [row["data-status"] for row in rows] == ["failed", "error", "timeout", "passed"]


def test_one_log_details_per_task_that_did_not_pass(page_text):
    page = Page(page_text)
    # attrs test failed; six 3.9 import timed out and its test was skipped.
    assert len(page.find("details", **{"class": "log"})) == 3


def test_links_to_raw_files(page_text):
    links = [a["href"] for a in Page(page_text).find("a") if "href" in a]
    assert "raw/localhost/j0002/test.log" in links
    assert "raw/slave2/j0004/import.log" in links
    assert "raw/localhost/j0001/" in links


def test_page_is_self_contained(page_text):
    page = Page(page_text)
    assert not page.find("link")
    assert not [s for s in page.find("script") if "src" in s]
    assert "http://" not in page_text and "https://" not in page_text
    (csp,) = page.find("meta", **{"http-equiv": "Content-Security-Policy"})
    assert "default-src 'none'" in csp["content"]


def test_header_and_summary_text(page_text):
    text = " ".join(Page(page_text).text)
    assert "PYTI report 20261204T161000Z-ab12cd" in text
    assert "localhost, slave2" in text
    assert "Tests: 15 passed / 2 failed / 0 errors / 1 skipped." in text
    assert "Not the package's fault (setup, sandbox, infra or results): 1." in text


HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&\x00\udcff"


def test_hostile_strings_are_escaped(run_payload, result_payload):
    tasks = [
        {
            "name": HOSTILE,
            "status": "failed",
            "reason": HOSTILE,
            "log_tail": HOSTILE,
            "log": HOSTILE,
            "failures": [{"name": HOSTILE, "message": HOSTILE}],
        }
    ]
    raw = result_payload("j0001", HOSTILE, HOSTILE, HOSTILE, "failed", tasks, reason=HOSTILE,
                         raw_dir='a"b/<c>', failure_kind=HOSTILE)  # fmt: skip
    run_payload["driver"] = HOSTILE
    text = render(run_payload, **{HOSTILE: [raw]})

    assert text.lower().count("<script") == 1
    assert "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    page = Page(text)
    assert page.stack == []
    assert {tag for tag, _attrs in page.elements} <= {
        "html", "head", "meta", "title", "style", "body", "h1", "dl", "dt", "dd", "table",
        "thead", "tbody", "tr", "th", "td", "p", "input", "details", "summary", "ul", "li",
        "code", "pre", "span", "a", "script",
    }  # fmt: skip


def test_raw_link_path_is_quoted(run_payload, result_payload):
    raw = result_payload("j0001", "six", "1", "3.10", raw_dir="local host/j 1#x?y")
    links = [a["href"] for a in Page(render(run_payload, localhost=[raw])).find("a")]
    assert "raw/local%20host/j%201%23x%3Fy/" in links


def test_many_task_names_are_capped(run_payload, result_payload):
    tasks = [{"name": f"extra{index}", "status": "passed"} for index in range(30)]
    raw = result_payload("j0001", "six", "1", "3.10", tasks=tasks)
    page = Page(render(run_payload, localhost=[raw]))
    headers = [th for th in page.find("th") if "scope" in th]
    assert len(headers) == 5 + 12 + 3


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_inline_script_is_valid_javascript(tmp_path):
    script = tmp_path / "report.js"
    script.write_text(_report_html._JS, encoding="utf-8")
    subprocess.run(["node", "--check", str(script)], check=True)


def test_qemu_guests_in_header_and_rows(run_payload, result_payload):
    def guest(boot):
        return {
            "accel": "tcg",
            "accel_reason": "KVM probe: no boot",
            "kernel": "6.1.0-57-amd64",
            "boot_s": boot,
            "console_log": "console.log",
        }

    run_payload["driver"] = "qemu"
    results = [
        result_payload("j0001", "six", "1", "3.11", driver="qemu", guest=guest(4.25)),
        result_payload("j0002", "idna", "3", "3.11", driver="qemu", guest=guest(6.5)),
    ]
    page = Page(render(run_payload, localhost=results))
    text = " ".join(page.text)
    assert "Acceleration tcg (KVM probe: no boot)" in text
    assert "Guest kernel 6.1.0-57-amd64" in text
    assert "Guest boot 4.2 to 6.5 s over 2 guests" in text
    assert "(boot 6.5s)" in text
    links = [a["href"] for a in page.find("a") if "href" in a]
    assert "raw/localhost/j0001/console.log" in links


def test_namespace_results_have_no_guest(run_payload, result_payload):
    text = render(run_payload, localhost=[result_payload("j0001", "six", "1", "3.11")])
    assert "Guest kernel" not in text and "console.log" not in text


def test_a_reused_result_says_so_and_links_to_its_own_runs_raw_files(run_payload, result_payload):
    tasks = [
        {"name": "install", "status": "passed"},
        {"name": "test", "status": "failed", "reason": "1 test failed", "log": "test.log"},
    ]
    reused = result_payload(
        "j0001@R0", "six", "1", "3.10", "failed", tasks,
        reused_from="20261201T080000Z-aa11bb", raw_dir="localhost/j0001",
    )  # fmt: skip
    page = Page(render(run_payload, localhost=[reused]))
    assert "(reused from run 20261201T080000Z-aa11bb)" in " ".join(page.text)
    links = [a["href"] for a in page.find("a") if "href" in a]
    assert links == [
        "../20261201T080000Z-aa11bb/raw/localhost/j0001/test.log",
        "../20261201T080000Z-aa11bb/raw/localhost/j0001/",
    ]


def test_test_counts_show_once_per_row(run_payload, result_payload):
    counts = {"passed": 7, "failed": 2, "errors": 0, "skipped": 1}
    tasks = [{"name": "test", "status": "failed", "tests": counts, "reason": "2 failed"}]
    page_text = render(
        run_payload, localhost=[result_payload("j1", "six", "1", "3.10", tasks=tasks)]
    )
    assert page_text.count("7/2/0/1") == 1


def test_the_wheelhouse_is_listed_folded_in_its_row(run_payload, result_payload):
    wheels = ["six-1.16.0-py2.py3-none-any.whl", "pytest-9.2.0-py3-none-any.whl"]
    raw = result_payload("j0001", "six", "1.16.0", "3.10", wheels=wheels)
    page = Page(render(run_payload, localhost=[raw]))
    (details,) = page.find("details", **{"class": "wheelhouse"})
    text = " ".join(page.text)
    assert "2 wheels" in text
    assert "pytest==9.2.0" in text and "six==1.16.0" in text
