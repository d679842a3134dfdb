# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Candidate mode: which pairs of a run to run again, and the class of each pair.

A pair is the baseline and the candidate result of one (distribution, python). A pair
that regressed is run again once on both sides before it is reported; one whose
re-run disagrees with its first run is flaky, not regressed. Pure stdlib, no Ansible.
"""

from __future__ import annotations

from collections.abc import Mapping

OK_STATUSES = frozenset({"passed", "skipped"})
TASK_KINDS = frozenset({None, "task"})
RERUN_SUFFIX = "-rerun"


def _ok(result: Mapping) -> bool:
    return result.get("status") in OK_STATUSES


def _blames_task(result: Mapping) -> bool:
    return result.get("failure_kind") in TASK_KINDS


def suspect(baseline: Mapping | None, candidate: Mapping | None) -> bool:
    """Whether a pair looks regressed: the baseline passed and the candidate's code failed."""
    if baseline is None or candidate is None or candidate.get("not_applicable"):
        return False
    return _ok(baseline) and not _ok(candidate) and _blames_task(candidate)


def pairs(results: list[Mapping]) -> dict[tuple, dict[str, Mapping]]:
    """First-run results by (spec, python), each as {side: result}; re-runs left out."""
    found: dict[tuple, dict[str, Mapping]] = {}
    for result in results:
        job = str(result.get("job") or "")
        if job.endswith(RERUN_SUFFIX) or result.get("side") not in ("baseline", "candidate"):
            continue
        key = (result.get("spec"), result.get("python"))
        found.setdefault(key, {})[result["side"]] = result
    return found


def rerun_jobs(jobs: list[Mapping], results: list[Mapping]) -> list[dict]:
    """The planned jobs of every suspect pair, both sides, with ids marked as re-runs."""
    by_id = {job["id"]: job for job in jobs}
    again = []
    for sides in pairs(results).values():
        if not suspect(sides.get("baseline"), sides.get("candidate")):
            continue
        for side in ("baseline", "candidate"):
            job = by_id.get(sides[side].get("job"))
            if job is not None:
                again.append({**job, "id": job["id"] + RERUN_SUFFIX, "rerun_of": job["id"]})
    return again
