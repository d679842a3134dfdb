# SPDX-License-Identifier: GPL-3.0-or-later
"""The comparison of two reports: exact classes for crafted pairs, refusals, escaping."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from ansible_collections.pyti.core.plugins.module_utils import _compare

TASKS = ["install", "import", "test"]


def task(name: str, status: str = "passed", kind: str | None = None, reason=None) -> dict:
    if status not in ("passed", "skipped") and kind is None:
        kind = "task"
    return {"name": name, "status": status, "failure_kind": kind, "reason": reason}


def result(name, tasks=None, python="3.12", version="1.0", status=None, kind=None) -> dict:
    """A result; TASKS maps task names to statuses or (status, failure_kind)."""
    tasks = {n: "passed" for n in TASKS} if tasks is None else tasks
    entries = [task(n, *(v if isinstance(v, tuple) else (v,))) for n, v in tasks.items()]
    failing = [t for t in entries if t["status"] not in ("passed", "skipped")]
    return {
        "distribution": name,
        "version": version,
        "python": python,
        "status": status or (failing[0]["status"] if failing else "passed"),
        "failure_kind": kind or (failing[0]["failure_kind"] if failing else None),
        "reason": failing[0]["reason"] if failing else None,
        "tasks": entries,
    }


def report(run_id: str, *results: dict) -> dict:
    return {
        "report_version": 1,
        "run": {"id": run_id, "started": "2026-12-04T16:00:00Z", "tasks": TASKS},
        "results": list(results),
    }


def classes(base: dict, head: dict) -> dict:
    comparison = _compare.compare(base, head)
    return {(e["distribution"], e["python"], e["task"]): e["class"] for e in comparison["entries"]}


def test_each_class_from_a_crafted_pair():
    base = report(
        "A",
        result("keeps"),
        result("breaks"),
        result("heals", {"install": "passed", "import": "passed", "test": "failed"}),
        result("stays-broken", {"install": "failed", "import": "skipped", "test": "skipped"}),
        result("leaves"),
        result("flaky-slave"),
    )
    head = report(
        "B",
        result("keeps"),
        result("breaks", {"install": "passed", "import": "passed", "test": "failed"}),
        result("heals"),
        result("stays-broken", {"install": "error", "import": "skipped", "test": "skipped"}),
        result("arrives"),
        result("flaky-slave", {"install": ("error", "sandbox"), "import": "skipped"}),
    )
    got = classes(base, head)
    assert got == {
        ("arrives", "3.12", "install"): "new",
        ("arrives", "3.12", "import"): "new",
        ("arrives", "3.12", "test"): "new",
        ("breaks", "3.12", "install"): "still passing",
        ("breaks", "3.12", "import"): "still passing",
        ("breaks", "3.12", "test"): "regressed",
        ("flaky-slave", "3.12", "install"): "infra",
        ("flaky-slave", "3.12", "import"): "still passing",
        ("flaky-slave", "3.12", "test"): "gone",
        ("heals", "3.12", "install"): "still passing",
        ("heals", "3.12", "import"): "still passing",
        ("heals", "3.12", "test"): "fixed",
        ("keeps", "3.12", "install"): "still passing",
        ("keeps", "3.12", "import"): "still passing",
        ("keeps", "3.12", "test"): "still passing",
        ("leaves", "3.12", "install"): "gone",
        ("leaves", "3.12", "import"): "gone",
        ("leaves", "3.12", "test"): "gone",
        ("stays-broken", "3.12", "install"): "still failing",
        ("stays-broken", "3.12", "import"): "still passing",
        ("stays-broken", "3.12", "test"): "still passing",
    }


@pytest.mark.parametrize(
    "base, head, expected",
    [
        ("passed", "failed", "regressed"),
        ("passed", "error", "regressed"),
        ("passed", "timeout", "regressed"),
        ("skipped", "failed", "regressed"),
        ("failed", "passed", "fixed"),
        ("timeout", "skipped", "fixed"),
        ("failed", "error", "still failing"),
        ("passed", "skipped", "still passing"),
        (("passed", None), ("error", "setup"), "infra"),
        (("error", "infra"), ("passed", None), "infra"),
        (("failed", "results"), ("failed", "task"), "infra"),
        (("failed", "task"), ("failed", "task"), "still failing"),
    ],
)
def test_class_of_one_task(base, head, expected):
    pair = report("A", result("d", {"test": base})), report("B", result("d", {"test": head}))
    assert classes(*pair) == {("d", "3.12", "test"): expected}


def test_result_without_tasks_stands_for_each_task_of_its_run():
    """A job whose slave never answered has no tasks: its infra error covers all of them."""
    lost = result("d", {}, status="error", kind="infra")
    assert classes(report("A", result("d")), report("B", lost)) == {
        ("d", "3.12", name): "infra" for name in TASKS
    }
    assert classes(report("A", lost), report("B", result("d"))) == {
        ("d", "3.12", name): "infra" for name in TASKS
    }


def test_distribution_matched_by_name_across_versions_and_per_python():
    base = report("A", result("d", version="1.0"), result("d", python="3.11"))
    head = report(
        "B",
        result("d", version="2.0", tasks={"install": "passed", "import": "failed"}),
        result("d", python="3.13"),
    )
    comparison = _compare.compare(base, head)
    by_key = {(e["python"], e["task"]): e for e in comparison["entries"]}
    assert by_key[("3.12", "import")]["class"] == "regressed"
    assert by_key[("3.12", "import")]["base"]["version"] == "1.0"
    assert by_key[("3.12", "import")]["head"]["version"] == "2.0"
    assert by_key[("3.12", "test")]["class"] == "gone"
    assert {by_key[("3.11", name)]["class"] for name in TASKS} == {"gone"}
    assert {by_key[("3.13", name)]["class"] for name in TASKS} == {"new"}


def test_summary_counts_every_class_and_names_the_runs():
    base = report("A", result("a"), result("b"))
    head = report("B", result("a", {"install": "failed", "import": "skipped", "test": "skipped"}))
    comparison = _compare.compare(base, head)
    assert comparison["summary"] == {
        "regressed": 1,
        "fixed": 0,
        "infra": 0,
        "new": 0,
        "gone": 3,
        "still failing": 0,
        "still passing": 2,
    }
    assert comparison["base"] == {"id": "A", "started": "2026-12-04T16:00:00Z", "results": 2}
    assert comparison["head"]["id"] == "B"
    assert json.loads(_compare.to_json(comparison)) == comparison


def test_order_is_natural_by_distribution_then_python():
    base = report("A", result("b", python="3.10"), result("b", python="3.9"), result("a"))
    keys = [(e["distribution"], e["python"]) for e in _compare.compare(base, base)["entries"]]
    assert list(dict.fromkeys(keys)) == [("a", "3.12"), ("b", "3.9"), ("b", "3.10")]


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", "pyti_compare_base: 'x' is not JSON: "),
        ("[]", "pyti_compare_base: 'x' is not a PYTI report (no report_version)"),
        ('{"report_version": 2}', "pyti_compare_base: 'x' has report_version 2, expected 1"),
        ('{"report_version": 1, "run": {}}', "pyti_compare_base: 'x' has no run id"),
        (
            '{"report_version": 1, "run": {"id": "A"}, "results": {}}',
            "pyti_compare_base: 'x' has no results list",
        ),
        (
            '{"report_version": 1, "run": {"id": "A"}, "results": [{"distribution": 1}]}',
            "pyti_compare_base: 'x' is broken: results[0].distribution is not a string",
        ),
        (
            json.dumps(report("A", {**result("d"), "status": "green"})),
            "pyti_compare_base: 'x' is broken: results[0].status is not one of",
        ),
        (
            json.dumps(report("A", {**result("d"), "tasks": [{"status": "passed"}]})),
            "pyti_compare_base: 'x' is broken: results[0].tasks[0] has no name",
        ),
        (
            json.dumps(report("A", {**result("d"), "version": [1]})),
            "pyti_compare_base: 'x' is broken: results[0].version is not a string",
        ),
        (
            json.dumps(report("A", {**result("d"), "duration_s": float("nan")})),
            "pyti_compare_base: 'x' is not JSON: NaN is not a JSON number",
        ),
        ('{"results": ' + "[" * 100000 + "]" * 100000 + "}", "pyti_compare_base: 'x' is not JSON"),
    ],
)
def test_broken_reports_are_refused_in_one_line(text, message):
    with pytest.raises(_compare.CompareError) as caught:
        _compare.parse_report(text, "pyti_compare_base", "x")
    assert caught.value.msg.startswith(message)
    assert "\n" not in caught.value.msg
    assert caught.value.context["field"] == "pyti_compare_base"


HOSTILE = "<script>alert(1)</script>|*x*_[a](javascript:b)`&amp;"


def hostile_pair() -> tuple[dict, dict]:
    bad = result(HOSTILE, {"test": ("failed", "task", HOSTILE)}, python=HOSTILE)
    good = result(HOSTILE, {"test": "passed"}, python=HOSTILE)
    good["wheelhouse"], bad["wheelhouse"] = {HOSTILE: "1"}, {HOSTILE: "2"}
    return report("A", good), report("B", bad)


def test_markdown_shows_hostile_text_as_text():
    markdown = _compare.to_markdown(_compare.compare(*hostile_pair()))
    (row,) = [line for line in markdown.splitlines() if "alert" in line]
    assert re.search(r"(?<!\\)[<>`*_\[\]]", row) is None
    assert "&amp;amp;" in row
    # Every pipe inside a cell is escaped: the row keeps its 9 cells.
    assert row.replace("\\|", "").count("|") == 10
    assert "\\<script\\>alert(1)\\</script\\>" in row
    assert "\\[a\\](javascript:b)" in row


def test_html_is_self_contained_and_escaped():
    page = _compare.to_html(_compare.compare(*hostile_pair()))

    class Tags(HTMLParser):
        found: list = []

        def handle_starttag(self, tag, attrs):
            self.found.append((tag, dict(attrs)))

    parser = Tags()
    parser.feed(page)
    tags = {tag for tag, _attrs in parser.found}
    assert tags == {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    (csp,) = [a for t, a in parser.found if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp["content"].startswith("default-src 'none'")
    classes_shown = [a["data-class"] for t, a in parser.found if "data-class" in a]
    assert classes_shown == ["regressed"]


def test_wheelhouse_changes_name_each_version_that_moved():
    old = result("attrs")
    new = result("attrs", {"test": ("failed", "task", "1 test failed")})
    old["wheelhouse"] = {"attrs": "23.1.0", "pytest": "9.1.1", "six": "1.16.0", "zipp": "3.1"}
    new["wheelhouse"] = {"attrs": "23.1.0", "pytest": "9.2.0", "zipp": "3.1", "iniconfig": "2"}
    comparison = _compare.compare(report("A", old), report("B", new))
    (entry,) = [e for e in comparison["entries"] if e["class"] == "regressed"]
    assert entry["wheelhouse"] == [
        "iniconfig - \u2192 2",
        "pytest 9.1.1 \u2192 9.2.0",
        "six 1.16.0 \u2192 -",
    ]
    markdown = _compare.to_markdown(comparison)
    assert "| iniconfig - \u2192 2, pytest 9.1.1 \u2192 9.2.0, six 1.16.0 \u2192 - |" in markdown
    # A side that does not say what it installed (an older report) shows no change.
    del old["wheelhouse"]
    assert _compare.wheelhouse_changes(old, new) == []
    assert _compare.wheelhouse_changes({"wheelhouse": {"a": 1, 2: "b"}}, new) == []


def test_long_numbers_sort_and_control_characters_do_not_reach_the_output():
    names = ["d" + "1" * 5000, "d2", "d10"]
    base = report("A\x1b[2J", *(result(name) for name in names))
    head = report("B\u202e", *(result(name, {"test": "failed"}) for name in names))
    comparison = _compare.compare(base, head)
    order = list(dict.fromkeys(e["distribution"] for e in comparison["entries"]))
    assert order == ["d2", "d10", "d" + "1" * 5000]
    for text in (_compare.to_markdown(comparison), _compare.to_html(comparison)):
        assert "\x1b" not in text and "\u202e" not in text


def test_markdown_says_when_nothing_changed():
    same = report("A", result("d"))
    markdown = _compare.to_markdown(_compare.compare(same, same))
    assert markdown.endswith("Nothing changed: every task still passes.\n")


def test_output_dir_name_is_one_safe_name():
    comparison = {"base": {"id": "../etc"}, "head": {"id": "20261204T1-ab/x"}}
    assert _compare.output_dir_name(comparison) == "compare-_etc-20261204T1-ab_x"
