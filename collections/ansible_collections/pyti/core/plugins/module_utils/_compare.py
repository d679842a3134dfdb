# SPDX-License-Identifier: GPL-3.0-or-later
# Private to this collection: other collections must not import it.
"""Compare two PYTI reports: how each (distribution, python, task) changed from base to head.

A report is read as untrusted data: check_report() refuses what is not a report.json of
report_version 1, and every string that reaches the Markdown or HTML output is escaped.
Pure stdlib, no Ansible: the action plugin pyti.core.report_compare does the file work.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping

from ansible_collections.pyti.core.plugins.module_utils._errors import PytiError

COMPARE_VERSION = 1
REPORT_VERSION = 1
CLASSES = ("regressed", "fixed", "infra", "new", "gone", "still failing", "still passing")
STATUSES = ("passed", "failed", "error", "timeout", "skipped")
# A task in one of these states did not fail; skipped covers "no tests" and skips that
# follow an earlier failure, which that earlier task already accounts for.
OK_STATUSES = frozenset({"passed", "skipped"})
# Failure kinds that blame the distribution; any other kind is an infrastructure fault.
TASK_KINDS = frozenset({None, "task"})
REASON_LIMIT = 300
WHEELHOUSE_LIMIT = 500
WHEELHOUSE_SHOWN = 20  # changes listed per entry; the rest are counted
# Control characters and bidirectional overrides: text from a report shows as it is.
_UNSHOWN = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class CompareError(PytiError):
    """A report to compare is missing or is not a PYTI report."""


# ---------------------------------------------------------------------------
# Reading a report
# ---------------------------------------------------------------------------


def _fail(field: str, value: object, why: str) -> CompareError:
    return CompareError(f"{field}: '{value}' {why}", field=field, value=str(value))


def parse_report(text: str, field: str, value: object) -> dict:
    """The report.json TEXT as a checked dict; FIELD and VALUE name it in errors."""
    try:
        report = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise _fail(field, value, f"is not JSON: {exc}") from None
    check_report(report, field, value)
    return report


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def check_report(report: object, field: str, value: object) -> None:
    """Refuse anything but a report of REPORT_VERSION with the keys the comparison reads."""
    if not isinstance(report, Mapping) or "report_version" not in report:
        raise _fail(field, value, "is not a PYTI report (no report_version)")
    if report["report_version"] != REPORT_VERSION:
        version = report["report_version"]
        raise _fail(field, value, f"has report_version {version!r}, expected {REPORT_VERSION}")
    run = report.get("run")
    if not isinstance(run, Mapping) or not isinstance(run.get("id"), str) or not run["id"]:
        raise _fail(field, value, "has no run id")
    results = report.get("results")
    if not isinstance(results, list):
        raise _fail(field, value, "has no results list")
    for index, result in enumerate(results):
        _check_result(result, f"results[{index}]", field, value)


def _check_result(result: object, where: str, field: str, value: object) -> None:
    if not isinstance(result, Mapping):
        raise _fail(field, value, f"is broken: {where} is not an object")
    for key in ("distribution", "python"):
        if not isinstance(result.get(key), str):
            raise _fail(field, value, f"is broken: {where}.{key} is not a string")
    if not isinstance(result.get("version"), (str, type(None))):
        raise _fail(field, value, f"is broken: {where}.version is not a string")
    _check_status(result, where, field, value)
    tasks = result.get("tasks")
    if not isinstance(tasks, list):
        raise _fail(field, value, f"is broken: {where}.tasks is not a list")
    for number, task in enumerate(tasks):
        here = f"{where}.tasks[{number}]"
        if not isinstance(task, Mapping) or not isinstance(task.get("name"), str):
            raise _fail(field, value, f"is broken: {here} has no name")
        _check_status(task, here, field, value)


def _check_status(entry: Mapping, where: str, field: str, value: object) -> None:
    if entry.get("status") not in STATUSES:
        raise _fail(field, value, f"is broken: {where}.status is not one of {STATUSES}")
    kind = entry.get("failure_kind")
    if kind is not None and not isinstance(kind, str):
        raise _fail(field, value, f"is broken: {where}.failure_kind is not a string")


# ---------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------


def _side(result: Mapping, task: Mapping | None) -> dict:
    """One side of an entry; a result without that task stands for it (an infra error)."""
    source = task if task is not None else result
    return {
        "version": result.get("version"),
        "status": source["status"],
        "failure_kind": source.get("failure_kind"),
        "reason": _short(source.get("reason")),
    }


def _short(text: object) -> str | None:
    if not isinstance(text, str):
        return None
    text = " ".join(text.split())
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "\u2026"


def _index(report: Mapping) -> dict[tuple[str, str], Mapping]:
    """Results by (distribution, python); the first one wins should a run hold two."""
    index: dict[tuple[str, str], Mapping] = {}
    for result in report["results"]:
        index.setdefault((result["distribution"], result["python"]), result)
    return index


def _task_names(report: Mapping, result: Mapping | None) -> list[str]:
    if result is None:
        return []
    names = [task["name"] for task in result["tasks"]]
    if names:
        return names
    tasks = report["run"].get("tasks")
    return [name for name in tasks if isinstance(name, str)] if isinstance(tasks, list) else []


def _lookup(result: Mapping | None, name: str) -> dict | None:
    if result is None:
        return None
    tasks = {task["name"]: task for task in result["tasks"]}
    if name not in tasks and result["tasks"]:
        return None
    return _side(result, tasks.get(name))


def classify(base: Mapping | None, head: Mapping | None) -> str:
    """The class of one (distribution, python, task) from its two sides."""
    if base is None:
        return "new"
    if head is None:
        return "gone"
    if base["failure_kind"] not in TASK_KINDS or head["failure_kind"] not in TASK_KINDS:
        return "infra"
    was_ok = base["status"] in OK_STATUSES
    is_ok = head["status"] in OK_STATUSES
    if was_ok and is_ok:
        return "still passing"
    if was_ok:
        return "regressed"
    return "fixed" if is_ok else "still failing"


def _wheelhouse(result: Mapping | None) -> dict[str, str]:
    """A result's wheelhouse (name -> version), keeping only what reads as one."""
    found = (result or {}).get("wheelhouse")
    if not isinstance(found, Mapping):
        return {}
    items = list(found.items())[:WHEELHOUSE_LIMIT]
    return {
        name: version
        for name, version in items
        if isinstance(name, str) and isinstance(version, str) and max(len(name), len(version)) < 200
    }


def wheelhouse_changes(base: Mapping | None, head: Mapping | None) -> list[str]:
    """What the VMs installed differently, as `name old → new` (`-` for none); nothing
    when either side does not say what it installed."""
    old, new = _wheelhouse(base), _wheelhouse(head)
    if not old or not new:
        return []
    names = sorted(old.keys() | new.keys(), key=_sort_key)
    moved = [
        f"{name} {old.get(name, '-')} \u2192 {new.get(name, '-')}"
        for name in names
        if old.get(name) != new.get(name)
    ]
    if len(moved) > WHEELHOUSE_SHOWN:
        moved[WHEELHOUSE_SHOWN:] = [f"and {len(moved) - WHEELHOUSE_SHOWN} more"]
    return moved


def _sort_key(text: str) -> list:
    """Natural order: a run of digits sorts as its number, however long it is."""
    parts = re.split(r"(\d+)", text.lower())
    return [
        (len(part.lstrip("0")), part.lstrip("0")) if index % 2 else part
        for index, part in enumerate(parts)
    ]


def compare(base: Mapping, head: Mapping) -> dict:
    """The comparison document of two checked reports."""
    base_index, head_index = _index(base), _index(head)
    keys = sorted(base_index.keys() | head_index.keys(), key=lambda k: [*map(_sort_key, k)])
    entries = []
    for key in keys:
        old, new = base_index.get(key), head_index.get(key)
        changed = wheelhouse_changes(old, new)
        names = dict.fromkeys(_task_names(base, old) + _task_names(head, new))
        for name in names:
            sides = _lookup(old, name), _lookup(new, name)
            entries.append(
                {
                    "distribution": key[0],
                    "python": key[1],
                    "task": name,
                    "class": classify(*sides),
                    "base": sides[0],
                    "head": sides[1],
                    "wheelhouse": changed,
                }
            )
    return {
        "compare_version": COMPARE_VERSION,
        "base": _run_of(base),
        "head": _run_of(head),
        "summary": {name: sum(e["class"] == name for e in entries) for name in CLASSES},
        "entries": entries,
    }


def _run_of(report: Mapping) -> dict:
    run = report["run"]
    return {
        "id": run["id"],
        "started": run.get("started") if isinstance(run.get("started"), str) else None,
        "results": len(report["results"]),
    }


# ---------------------------------------------------------------------------
# Writing: JSON, Markdown, HTML
# ---------------------------------------------------------------------------


def to_json(comparison: Mapping) -> str:
    return json.dumps(comparison, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


# Inside a table cell only these start markup; `(`, `#` or `!` need one of them first.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def _md(value: object) -> str:
    """Text safe inside a Markdown table cell: one line, no markup, no HTML."""
    text = " ".join(_UNSHOWN.sub(" ", str(value if value is not None else "")).split())
    return _MD_SPECIAL.sub(r"\\\1", text.replace("&", "&amp;"))


def _side_text(side: Mapping | None) -> str:
    if side is None:
        return "-"
    text = side["status"]
    if side["failure_kind"] not in TASK_KINDS:
        text += f" ({side['failure_kind']})"
    return text


def _version_text(entry: Mapping) -> str:
    """The version, or both when it changed; an absent side shows none."""
    sides = [entry[side] for side in ("base", "head") if entry[side] is not None]
    versions = [side["version"] or "-" for side in sides]
    return " \u2192 ".join(dict.fromkeys(versions))


def _reason(entry: Mapping) -> str:
    side = entry["head"] or entry["base"]
    return side["reason"] or ""


def _changes(comparison: Mapping) -> list[Mapping]:
    """The entries worth reading: every class but still passing, worst first."""
    order = {name: rank for rank, name in enumerate(CLASSES)}
    changed = [e for e in comparison["entries"] if e["class"] != "still passing"]
    return sorted(changed, key=lambda e: order[e["class"]])


def to_markdown(comparison: Mapping) -> str:
    base, head = comparison["base"]["id"], comparison["head"]["id"]
    counts = comparison["summary"]
    lines = [
        f"# PYTI comparison {_md(base)} \u2192 {_md(head)}",
        "",
        "| " + " | ".join(CLASSES) + " |",
        "|" + "---:|" * len(CLASSES),
        "| " + " | ".join(str(counts[name]) for name in CLASSES) + " |",
        "",
    ]
    changes = _changes(comparison)
    if not changes:
        return "\n".join([*lines, "Nothing changed: every task still passes.", ""])
    lines += [
        "| class | distribution | version | python | task | base | head | wheelhouse | reason |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in changes:
        cells = (
            entry["class"],
            entry["distribution"],
            _version_text(entry),
            entry["python"],
            entry["task"],
            _side_text(entry["base"]),
            _side_text(entry["head"]),
            ", ".join(entry["wheelhouse"]),
            _reason(entry),
        )
        lines.append("| " + " | ".join(_md(cell) for cell in cells) + " |")
    return "\n".join([*lines, ""])


_CSS = (
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;margin:0 0 1em}"
    "th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}.c-regressed{background:#fbe0e0}.c-fixed{background:#e3f6e3}"
    ".c-infra{background:#fde9cf}.c-still-failing{background:#f6eded}"
    ".c-new,.c-gone{background:#e8eefb}"
)
_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _e(value: object) -> str:
    return "" if value is None else html.escape(_UNSHOWN.sub(" ", str(value)), quote=True)


def _html_row(entry: Mapping) -> str:
    css = "c-" + entry["class"].replace(" ", "-")
    cells = (
        entry["class"],
        entry["distribution"],
        _version_text(entry),
        entry["python"],
        entry["task"],
        _side_text(entry["base"]),
        _side_text(entry["head"]),
        ", ".join(entry["wheelhouse"]),
        _reason(entry),
    )
    body = "".join(f"<td>{_e(cell)}</td>" for cell in cells)
    return f'<tr class="entry {css}" data-class="{_e(entry["class"])}">{body}</tr>'


def to_html(comparison: Mapping) -> str:
    """A self-contained page with no script; every value escaped."""
    title = _e(f"PYTI comparison {comparison['base']['id']} \u2192 {comparison['head']['id']}")
    counts = comparison["summary"]
    summary = "".join(f"<th>{_e(name)}</th>" for name in CLASSES)
    numbers = "".join(f"<td>{counts[name]}</td>" for name in CLASSES)
    head = "".join(
        f"<th>{name}</th>"
        for name in ("Class", "Distribution", "Version", "Python", "Task", "Base", "Head")
        + ("Wheelhouse",)
    )
    rows = "\n".join(_html_row(entry) for entry in _changes(comparison))
    entries = [e for e in comparison["entries"] if e["class"] == "still passing"]
    rows += "\n" + "\n".join(_html_row(entry) for entry in entries)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
        f'<table id="summary"><thead><tr>{summary}</tr></thead>'
        f"<tbody><tr>{numbers}</tr></tbody></table>\n"
        f'<table id="entries"><thead><tr>{head}<th>Reason</th></tr></thead>\n'
        f"<tbody>\n{rows.strip()}\n</tbody></table>\n</body>\n</html>\n"
    )


def output_dir_name(comparison: Mapping) -> str:
    """compare-<base>-<head>, from run ids restricted to safe file-name characters."""
    ids = (comparison[side]["id"] for side in ("base", "head"))
    safe = (re.sub(r"[^A-Za-z0-9._-]", "_", run_id).lstrip(".") or "run" for run_id in ids)
    return "compare-{}-{}".format(*safe)
