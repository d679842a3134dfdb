# SPDX-License-Identifier: GPL-3.0-or-later
# Private to this collection: other collections must not import it.
"""The comparison of a candidate run: its baseline side against its candidate side.

Built from the normalised results of one report. Each (distribution, python) pair gets
one class; the task entries reuse pyti.core's comparison of two runs, and the JSON,
Markdown and HTML writers share its escaping. The terminal summary and the HTML page
open with the regressions: the failing tests new on the candidate side and the log tail.
Pure stdlib, no Ansible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible_collections.pyti.core.plugins.module_utils import _compare
from ansible_collections.pyti.core.plugins.module_utils._candidate_runs import (
    OK_STATUSES,
    RERUN_SUFFIX,
    TASK_KINDS,
)

CLASSES = (
    "regressed",
    "flaky",
    "not applicable",
    "infra",
    "fixed",
    "still failing",
    "still passing",
)
TAIL_LINES = 20
FAILURES_SHOWN = 10


def _ok(result: Mapping) -> bool:
    return result["status"] in OK_STATUSES


def _infra(result: Mapping) -> bool:
    return result["failure_kind"] not in TASK_KINDS


def _side(result: Mapping | None) -> dict | None:
    if result is None:
        return None
    return {
        "job": result["job"],
        "version": result["version"],
        "status": result["status"],
        "failure_kind": result["failure_kind"],
        "reason": _compare._short(result["reason"]),
    }


def _pairs(results: list[Mapping]) -> dict[tuple, dict[str, Mapping]]:
    """Results by (distribution, version, python), each as {side (+ "-rerun"): result}."""
    found: dict[tuple, dict[str, Mapping]] = {}
    for result in results:
        side = result.get("side")
        if side not in ("baseline", "candidate"):
            continue
        if (result["job"] or "").endswith(RERUN_SUFFIX):
            side += RERUN_SUFFIX
        key = (result["distribution"], result["version"] or "", result["python"])
        found.setdefault(key, {})[side] = result
    return found


def classify(sides: Mapping[str, Mapping]) -> str:
    """The class of one pair from its first run and, when it had one, its re-run."""
    base, cand = sides.get("baseline"), sides.get("candidate")
    if cand is not None and cand.get("not_applicable"):
        return "not applicable"
    if base is None or cand is None or _infra(base) or _infra(cand):
        return "infra"
    if _ok(base) and _ok(cand):
        return "still passing"
    if not _ok(base):
        return "fixed" if _ok(cand) else "still failing"
    again_base, again_cand = sides.get("baseline-rerun"), sides.get("candidate-rerun")
    if again_base is None or again_cand is None:
        return "regressed"
    if _infra(again_base) or _infra(again_cand):
        return "infra"
    return "regressed" if _ok(again_base) and not _ok(again_cand) else "flaky"


def _failed_task(result: Mapping) -> Mapping | None:
    return next((t for t in result["tasks"] if t["status"] not in OK_STATUSES), None)


def new_failures(base: Mapping | None, cand: Mapping) -> list[str]:
    """Names of the tests (or collection errors) that fail on the candidate side only."""
    before = {f["name"] for t in (base or {}).get("tasks", []) for f in t["failures"]}
    names = [f["name"] for t in cand["tasks"] for f in t["failures"]]
    return list(dict.fromkeys(n for n in names if n not in before))


def _tail(result: Mapping) -> str:
    task = _failed_task(result)
    text = (task or {}).get("log_tail") or ""
    return "\n".join(text.splitlines()[-TAIL_LINES:])


def _pair_entry(key: tuple, sides: Mapping[str, Mapping]) -> dict:
    base, cand = sides.get("baseline"), sides.get("candidate")
    shown = cand or base
    entry = {
        "distribution": key[0],
        "python": key[2],
        "version": shown["version"],
        "class": classify(sides),
        "baseline": _side(base),
        "candidate": _side(cand),
        "rerun": None,
        "not_applicable": cand.get("not_applicable") if cand else None,
        "new_failures": [],
        "log_tail": None,
    }
    if "baseline-rerun" in sides or "candidate-rerun" in sides:
        entry["rerun"] = {
            "baseline": _side(sides.get("baseline-rerun")),
            "candidate": _side(sides.get("candidate-rerun")),
        }
    if entry["class"] in ("regressed", "still failing"):
        entry["new_failures"] = new_failures(base, cand)
    if entry["class"] == "regressed":
        entry["log_tail"] = _tail(cand)
    return entry


def _task_entries(key: tuple, sides: Mapping[str, Mapping], tasks: list[str]) -> list[dict]:
    """One entry per task of the pair's first run, classed as pyti.core compares two runs."""
    base, cand = sides.get("baseline"), sides.get("candidate")
    names = [t["name"] for t in (base or cand)["tasks"]] or tasks
    entries = []
    not_applicable = cand is not None and bool(cand.get("not_applicable"))
    for name in names:
        pair = _compare._lookup(base, name), _compare._lookup(cand, name)
        entries.append(
            {
                "distribution": key[0],
                "version": key[1] or None,
                "python": key[2],
                "task": name,
                "class": "not applicable" if not_applicable else _compare.classify(*pair),
                "base": pair[0],
                "head": pair[1],
            }
        )
    return entries


def compare(report: Mapping, candidate: Mapping) -> dict:
    """The comparison document of a candidate run's report."""
    pairs = _pairs(report["results"])
    keys = sorted(pairs, key=lambda k: [*map(_compare._sort_key, k)])
    entries = [_pair_entry(key, pairs[key]) for key in keys]
    order = {name: rank for rank, name in enumerate(CLASSES)}
    entries.sort(key=lambda e: order[e["class"]])
    tasks = report["run"]["tasks"]
    return {
        "compare_version": _compare.COMPARE_VERSION,
        "mode": "candidate",
        "run": {"id": report["run"]["id"], "started": report["run"]["started"]},
        "candidate": dict(candidate),
        "classes": list(CLASSES),
        "summary": {name: sum(e["class"] == name for e in entries) for name in CLASSES},
        "pairs": entries,
        "entries": [e for key in keys for e in _task_entries(key, pairs[key], tasks)],
    }


def candidate_label(comparison: Mapping) -> str:
    dists = comparison["candidate"].get("distributions") or []
    return ", ".join(f"{d['name']} {d['version']}" for d in dists) or "candidate"


# ---------------------------------------------------------------------------
# Terminal summary, Markdown, HTML
# ---------------------------------------------------------------------------


def _counts(comparison: Mapping) -> str:
    counts = comparison["summary"]
    return ", ".join(f"{counts[name]} {name}" for name in CLASSES if counts[name]) or "empty"


def _side_text(side: Mapping | None) -> str:
    return _compare._side_text(side)


def summary_lines(comparison: Mapping) -> list[tuple[str, str | None]]:
    """The lines that open the terminal summary, each with the status that colours it."""
    lines = [(f"PYTI candidate {candidate_label(comparison)}: {_counts(comparison)}", None)]
    for dist in comparison["candidate"].get("distributions") or []:
        lines.append((f"  {dist['name']} {dist['version']} sha256 {dist['sha256']}", None))
    for entry in comparison["pairs"]:
        if entry["class"] != "regressed":
            continue
        reason = entry["candidate"]["reason"] or ""
        head = f"REGRESSED {entry['distribution']} {entry['version']} {entry['python']}"
        lines.append((f"{head}: {reason}", "failed"))
        shown = entry["new_failures"][:FAILURES_SHOWN]
        if shown:
            lines.append((f"  new failing tests: {', '.join(shown)}", "failed"))
        lines.extend((f"  | {line}", None) for line in (entry["log_tail"] or "").splitlines())
    for entry in comparison["pairs"]:
        if entry["class"] == "still failing" and entry["new_failures"]:
            shown = ", ".join(entry["new_failures"][:FAILURES_SHOWN])
            line = f"still failing, with new failures: {entry['distribution']} {entry['version']}"
            lines.append((f"{line} {entry['python']}: {shown}", "failed"))
    for entry in comparison["pairs"]:
        if entry["class"] in ("flaky", "not applicable", "infra", "fixed"):
            why = entry["not_applicable"] or (entry["candidate"] or {}).get("reason") or ""
            line = f"{entry['class']}: {entry['distribution']} {entry['python']} {why}"
            lines.append((line.rstrip(), None))
    return lines


def to_markdown(comparison: Mapping) -> str:
    md = _compare._md
    lines = [
        f"# PYTI candidate run {md(comparison['run']['id'])}: {md(candidate_label(comparison))}",
        "",
        "| " + " | ".join(CLASSES) + " |",
        "|" + "---:|" * len(CLASSES),
        "| " + " | ".join(str(comparison["summary"][name]) for name in CLASSES) + " |",
        "",
    ]
    for entry in comparison["pairs"]:
        if entry["class"] == "regressed":
            lines += [f"## Regressed: {md(entry['distribution'])} {md(entry['version'])}", ""]
            lines += [f"- new failing tests: {md(', '.join(entry['new_failures']) or '-')}"]
            tail = entry["log_tail"] or ""
            fence = "`" * max(3, 1 + max(map(len, re.findall(r"`+", tail)), default=0))
            lines += ["", fence, *tail.splitlines(), fence, ""]
    lines += [
        "| class | distribution | version | python | baseline | candidate | re-run | reason |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for entry in comparison["pairs"]:
        lines.append("| " + " | ".join(md(cell) for cell in _cells(entry)) + " |")
    return "\n".join([*lines, ""])


def _rerun_text(entry: Mapping) -> str:
    rerun = entry["rerun"]
    if not rerun:
        return "-"
    return f"{_side_text(rerun['baseline'])} / {_side_text(rerun['candidate'])}"


def _cells(entry: Mapping) -> tuple:
    why = entry["not_applicable"] or (entry["candidate"] or entry["baseline"] or {}).get("reason")
    if entry["class"] == "still failing" and entry["new_failures"]:
        shown = ", ".join(entry["new_failures"][:FAILURES_SHOWN])
        why = f"{why}; failing on the candidate side only: {shown}"
    return (
        entry["class"],
        entry["distribution"],
        entry["version"],
        entry["python"],
        _side_text(entry["baseline"]),
        _side_text(entry["candidate"]),
        _rerun_text(entry),
        why or "",
    )


_CSS = (
    _compare._CSS
    + ".c-flaky{background:#fff6cc}.c-not-applicable{background:#eee}"
    + "pre{max-width:70em;overflow:auto;background:#fafafa;padding:.5em;white-space:pre-wrap}"
)


def regressions_html(comparison: Mapping) -> str:
    """The regressions, each with its new failing tests and log tail, as HTML."""
    e = _compare._e
    parts = []
    for entry in comparison["pairs"]:
        if entry["class"] != "regressed":
            continue
        failures = "".join(f"<li>{e(name)}</li>" for name in entry["new_failures"])
        parts.append(
            f'<section class="regression"><h3>{e(entry["distribution"])} '
            f"{e(entry['version'])} ({e(entry['python'])})</h3>"
            f"<p>{e(entry['candidate']['reason'])}</p>"
            f"<p>New failing tests on the candidate side:</p><ul>{failures}</ul>"
            f"<pre>{e(entry['log_tail'])}</pre></section>"
        )
    if not parts:
        return '<h2 id="regressions">No regressions</h2>\n'
    return '<h2 id="regressions">Regressions</h2>\n' + "\n".join(parts) + "\n"


def to_html(comparison: Mapping) -> str:
    """A self-contained page with no script that opens with the regressions."""
    e = _compare._e
    title = e(f"PYTI candidate run {comparison['run']['id']}: {candidate_label(comparison)}")
    counts = comparison["summary"]
    summary = "".join(f"<th>{e(name)}</th>" for name in CLASSES)
    numbers = "".join(f"<td>{counts[name]}</td>" for name in CLASSES)
    columns = ("Class", "Distribution", "Version", "Python", "Baseline", "Candidate", "Re-run")
    head = "".join(f"<th>{name}</th>" for name in columns)
    rows = "\n".join(
        f'<tr class="pair c-{e(entry["class"].replace(" ", "-"))}" '
        f'data-class="{e(entry["class"])}">'
        + "".join(f"<td>{e(cell)}</td>" for cell in _cells(entry))
        + "</tr>"
        for entry in comparison["pairs"]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_compare._CSP}">\n'
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
        f"{regressions_html(comparison)}"
        f'<table id="summary"><thead><tr>{summary}</tr></thead>'
        f"<tbody><tr>{numbers}</tr></tbody></table>\n"
        f'<table id="pairs"><thead><tr>{head}<th>Reason</th></tr></thead>\n'
        f"<tbody>\n{rows}\n</tbody></table>\n</body>\n</html>\n"
    )


def to_json(comparison: Mapping) -> str:
    return _compare.to_json(comparison)
