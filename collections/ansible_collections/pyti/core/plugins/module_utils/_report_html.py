# SPDX-License-Identifier: GPL-3.0-or-later
# Private to this collection: other collections must not import it.
"""The report as one self-contained HTML page.

The page loads nothing: style and script are inline and a Content-Security-Policy forbids
any fetch. Every string taken from the report goes through html.escape, and the script
carries no data, so nothing from a result can reach it. The policy admits the inline style
and script by their hashes only, so even markup that escaped escaping could neither run a
script nor an event handler. Browser tests rely on these hooks:
table#results, input#filter, tr.result[data-status], details.log, details.wheelhouse,
table#summary, table#by-slave.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Mapping
from urllib.parse import quote

from ansible_collections.pyti.core.plugins.module_utils._report import STATUSES, TEST_COUNTS
from ansible_collections.pyti.core.plugins.module_utils._report_values import one_line

TASK_COLUMNS_LIMIT = 12

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .4em}
dl.run{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;margin:0 0 1em}
dl.run dt{font-weight:600}dl.run dd{margin:0}
table{border-collapse:collapse;margin:0 0 1em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
#results th{cursor:pointer;user-select:none;background:#f4f4f4}
#results th[aria-sort=ascending]::after{content:" \\25B2"}
#results th[aria-sort=descending]::after{content:" \\25BC"}
.st-passed{background:#e3f6e3}.st-failed{background:#fbe0e0}
.st-error,.st-timeout{background:#fde9cf}.st-skipped{background:#eee}
td.num{text-align:right}
details.log summary,details.wheelhouse summary{cursor:pointer}
details.wheelhouse ul{margin:.2em 0;padding-left:1.2em}
details.log pre{max-width:70em;max-height:30em;overflow:auto;background:#fafafa;padding:.5em;
white-space:pre-wrap;word-break:break-all}
#filter{margin:0 0 .5em;padding:.3em;width:24em}
"""

_JS = """
(function () {
  var table = document.getElementById("results");
  var rows = function () { return Array.prototype.slice.call(table.tBodies[0].rows); };
  var texts = new WeakMap();
  var text = function (row) {
    if (!texts.has(row)) {
      var copy = row.cloneNode(true);
      Array.prototype.forEach.call(copy.querySelectorAll(".wheelhouse"), function (list) {
        list.remove();
      });
      texts.set(row, copy.textContent.toLowerCase());
    }
    return texts.get(row);
  };
  document.getElementById("filter").addEventListener("input", function (event) {
    var query = event.target.value.toLowerCase();
    rows().forEach(function (row) {
      row.hidden = query !== "" && text(row).indexOf(query) < 0;
    });
  });
  var key = function (row, column) {
    var cell = row.cells[column];
    if (!cell) { return {text: "", num: null}; }
    var num = cell.hasAttribute("data-num") ? parseFloat(cell.getAttribute("data-num")) : null;
    return {text: (cell.getAttribute("data-sort") || cell.textContent).trim(), num: num};
  };
  var compare = function (a, b) {
    if (a.num !== null && b.num !== null) { return a.num - b.num; }
    return a.text.localeCompare(b.text, undefined, {numeric: true});
  };
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
    th.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); th.click(); }
    });
    th.addEventListener("click", function () {
      var up = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(th.parentNode.cells, function (other) {
        other.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      var sorted = rows().sort(function (a, b) {
        var order = compare(key(a, column), key(b, column));
        return up ? order : -order;
      });
      sorted.forEach(function (row) { table.tBodies[0].appendChild(row); });
    });
  });
})();
"""


def _source_hash(text: str) -> str:
    """The CSP source that admits exactly this inline style or script."""
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return f"'sha256-{digest}'"


_CSP = (
    f"default-src 'none'; style-src {_source_hash(_CSS)}; script-src {_source_hash(_JS)}; "
    "base-uri 'none'; form-action 'none'"
)


def _e(value: object) -> str:
    """Escape anything for text or a quoted attribute; None becomes an empty string."""
    return "" if value is None else html.escape(str(value), quote=True)


def _href(*parts: str) -> str:
    return _e("/".join(quote(part, safe="/") for part in parts))


def _raw_href(result: Mapping, *parts: str) -> str:
    """A link into a result's raw folder: this run's, or that of the run it was reused from,
    a sibling of this run's folder in the report directory."""
    if result.get("reused_from"):
        return _href("..", result["reused_from"], "raw", result["raw_dir"], *parts)
    return _href("raw", result["raw_dir"], *parts)


def _duration(seconds: float) -> str:
    return f"{seconds:.1f}s"


def task_columns(report: Mapping) -> list[str]:
    """The run's tasks in order, then any other task name a result carries."""
    names = dict.fromkeys(report["run"]["tasks"])
    for result in report["results"]:
        names.update(dict.fromkeys(task["name"] for task in result["tasks"]))
    return list(names)[:TASK_COLUMNS_LIMIT]


def _header(report: Mapping) -> str:
    run = report["run"]
    fields = (
        ("Driver", run["driver"]),
        *_guests(report),
        ("Slaves", ", ".join(run["slaves"])),
        ("Pythons", ", ".join(run["pythons"])),
        ("Tasks", ", ".join(run["tasks"])),
        ("Started", run["started"]),
        ("Finished", run["finished"]),
        ("Controller", report["controller"]),
        ("PYTI", report["pyti_version"]),
    )
    items = "".join(f"<dt>{_e(name)}</dt><dd>{_e(value)}</dd>" for name, value in fields)
    return f'<h1 id="run-id">PYTI report {_e(run["id"])}</h1>\n<dl class="run">{items}</dl>\n'


def _guests(report: Mapping) -> list[tuple[str, str]]:
    """One line on the qemu guests of the run: acceleration, kernel and boot times."""
    guests = [r["guest"] for r in report["results"] if r.get("guest")]
    if not guests:
        return []
    accels = sorted({f"{g['accel']} ({g['accel_reason']})" for g in guests if g["accel"]})
    kernels = sorted({g["kernel"] for g in guests if g["kernel"]})
    boots = sorted(g["boot_s"] for g in guests if g["boot_s"] is not None)
    boot = f"{boots[0]:.1f} to {boots[-1]:.1f} s" if boots else "unknown"
    return [
        ("Acceleration", "; ".join(accels)),
        ("Guest kernel", ", ".join(kernels)),
        ("Guest boot", f"{boot} over {len(boots)} guests"),
    ]


def _counts_row(label: str, counts: Mapping, extra: str = "") -> str:
    cells = "".join(f'<td class="num st-{status}">{counts[status]}</td>' for status in STATUSES)
    return f"<tr><th>{_e(label)}</th>{cells}{extra}</tr>"


def _slave_extra(counts: Mapping) -> str:
    """A slave's time, and its attempts with those that ended in an infrastructure fault."""
    return (
        f'<td class="num">{_duration(counts["duration_s"])}</td>'
        f'<td class="num">{counts["attempts"]}</td><td class="num">{counts["infra"]}</td>'
    )


def _summary(report: Mapping) -> str:
    summary = report["summary"]
    head = "".join(f"<th>{status}</th>" for status in STATUSES)
    tests = " / ".join(f"{summary['tests'][name]} {name}" for name in TEST_COUNTS)
    rows = [_counts_row("Results", summary["results"]), _counts_row("Tasks", summary["tasks"])]
    slaves = [
        _counts_row(slave, counts, _slave_extra(counts))
        for slave, counts in summary["by_slave"].items()
    ]
    return (
        f'<table id="summary"><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>\n"
        f'<p id="totals">Tests: {tests}. Without tests: {summary["no_tests"]}. '
        f"Not the package's fault (setup, sandbox, infra or results): {summary['infra']}. "
        f"Results not trusted: {summary['unverified']}.</p>\n"
        f'<table id="by-slave"><thead><tr><th>Slave</th>{head}<th>Duration</th>'
        "<th>Attempts</th><th>Infra faults</th></tr></thead>"
        f"<tbody>{''.join(slaves)}</tbody></table>\n"
    )


def _tests_text(tests: Mapping | None) -> str:
    if not tests:
        return ""
    return "/".join(str(tests[name]) for name in TEST_COUNTS)


def _log_details(result: Mapping, task: Mapping) -> str:
    """The expandable reason, failing tests, log tail and log link of a task."""
    parts = [f'<p class="reason">{_e(task["reason"] or task["status"])}</p>']
    if task["failures"]:
        items = "".join(
            f"<li><code>{_e(entry['name'])}</code> {_e(entry['message'])}</li>"
            for entry in task["failures"]
        )
        parts.append(f'<ul class="failures">{items}</ul>')
    if task["log_tail"]:
        parts.append(f"<pre>{_e(task['log_tail'])}</pre>")
    if result["raw_dir"] and task["log"]:
        link = _raw_href(result, task["log"])
        parts.append(f'<a class="raw" href="{link}">{_e(task["log"])}</a>')
    summary = f"{task['status']} {_duration(task['duration_s'])}"
    return f'<details class="log"><summary>{_e(summary)}</summary>{"".join(parts)}</details>'


def _task_cell(result: Mapping, task: Mapping | None) -> str:
    """A task's status and time; the details of one that did not pass. Its test counts are
    in the row's Tests column."""
    if task is None:
        return '<td class="task" data-sort=""></td>'
    status = _e(task["status"])
    if status == "passed":
        content = _e(f"passed {_duration(task['duration_s'])}")
    else:
        content = _log_details(result, task)
    return f'<td class="task st-{status}" data-sort="{status}">{content}</td>'


def _result_row(result: Mapping, columns: list[str]) -> str:
    tasks = {task["name"]: task for task in result["tasks"]}
    status = _e(result["status"])
    reason = one_line(result["reason"], 200)
    status_text = _e(f"{result['status']}: {reason}" if reason else result["status"])
    if result["failure_kind"]:
        status_text += f' <span class="kind">({_e(result["failure_kind"])})</span>'
    if result["verified"] is False:
        status_text += ' <span class="untrusted">(results not trusted)</span>'
    if result.get("reused_from"):
        status_text += f' <span class="reused">(reused from run {_e(result["reused_from"])})</span>'
    cells = [
        f"<td>{_e(_name(result))}</td>",
        f"<td>{_e(result['version'])}</td>",
        f"<td>{_e(result['python'])}</td>",
        f"<td>{_e(_slave_text(result))}</td>",
        f'<td class="status st-{status}" data-sort="{status}">{status_text}</td>',
    ]
    cells += [_task_cell(result, tasks.get(name)) for name in columns]
    cells.append(f"<td>{_e(_tests_text(_result_tests(result)))}</td>")
    seconds = result["duration_s"]
    cells.append(f'<td class="num" data-num="{seconds}">{_duration(seconds)}</td>')
    raw = f'<a href="{_raw_href(result)}/">raw</a>' if result["raw_dir"] else ""
    cells.append(f"<td>{raw}{_console_link(result)}{_wheelhouse(result)}</td>")
    return f'<tr class="result st-{status}" data-status="{status}">{"".join(cells)}</tr>'


def _wheelhouse(result: Mapping) -> str:
    """The versions the VM installed from, folded; the filter box does not search them."""
    wheelhouse = result.get("wheelhouse")
    if not wheelhouse:
        return ""
    items = "".join(f"<li><code>{_e(name)}=={_e(v)}</code></li>" for name, v in wheelhouse.items())
    summary = f"{len(wheelhouse)} wheel" + ("" if len(wheelhouse) == 1 else "s")
    return f'<details class="wheelhouse"><summary>{summary}</summary><ul>{items}</ul></details>'


def _slave_text(result: Mapping) -> str:
    """The slave of a result, and those of its earlier attempts."""
    earlier = [attempt["slave"] for attempt in result["attempts"][:-1]]
    return f"{result['slave']} (after {', '.join(earlier)})" if earlier else result["slave"]


def _name(result: Mapping) -> str:
    """The distribution, with its side in candidate mode."""
    side = result.get("side")
    if not side:
        return result["distribution"]
    again = ", re-run" if (result["job"] or "").endswith("-rerun") else ""
    return f"{result['distribution']} ({side}{again})"


def _console_link(result: Mapping) -> str:
    """A qemu guest's console log and boot time; nothing for the namespace driver."""
    guest = result.get("guest")
    if not guest or not result["raw_dir"] or not guest["console_log"]:
        return ""
    link = _raw_href(result, guest["console_log"])
    boot = f" (boot {_duration(guest['boot_s'])})" if guest["boot_s"] is not None else ""
    return f' <a class="raw" href="{link}">console</a>{_e(boot)}'


def _result_tests(result: Mapping) -> dict[str, int] | None:
    tests = [task["tests"] for task in result["tasks"] if task["tests"]]
    if not tests:
        return None
    return {name: sum(entry[name] for entry in tests) for name in TEST_COUNTS}


def _results_table(report: Mapping) -> str:
    columns = task_columns(report)
    head = ["Distribution", "Version", "Python", "Slave", "Status", *columns]
    head += ["Tests p/f/e/s", "Duration", "Files"]
    header = "".join(f'<th scope="col" tabindex="0">{_e(name)}</th>' for name in head)
    rows = "\n".join(_result_row(result, columns) for result in report["results"])
    return (
        '<input id="filter" type="search" placeholder="Filter results" aria-label="Filter">\n'
        f'<table id="results"><thead><tr>{header}</tr></thead>\n<tbody>\n{rows}\n</tbody></table>\n'
    )


def to_html(report: Mapping, lead: str = "") -> str:
    """The report as a complete HTML document; LEAD is markup shown first, after the title."""
    title = _e(f"PYTI report {report['run']['id']}")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"{_header(report)}{lead}{_summary(report)}{_results_table(report)}"
        f"<script>{_JS}</script>\n</body>\n</html>\n"
    )
