# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Failover: plan again, on the slaves that are left, the jobs that got no verdict.

After the slaves ran their jobs, a job has no verdict when its slave was lost (it became
unreachable, or a task failed on it) before it returned a result, or when its result is
an infrastructure fault: a VM that did not start, a full disk. Each such job gets one
more attempt, on a healthy slave other than the one that failed it. There is one such
round and no more, so that a fault that follows a job everywhere costs two attempts.
"""

from __future__ import annotations

from ._store import job_key

# The failure kinds that say nothing about the distribution and are worth another slave.
RETRYABLE_KINDS = ("infra",)
MAX_ATTEMPTS = 2


def needs_retry(result: dict | None) -> bool:
    """Whether a job with RESULT (None: none came back) has no verdict yet."""
    return result is None or result.get("failure_kind") in RETRYABLE_KINDS


def known_results(run: dict, stored, reported: dict[str, list]) -> dict[str, dict]:
    """The result of each job of RUN that came back, by job id.

    STORED is the result store, where the report callback keeps each result as it
    arrives, a lost slave's included; only entries of this run and job count. REPORTED
    maps a slave that finished its batch to the results its task_run returned, which
    win over the store.
    """
    found = {}
    for job in run["jobs"]:
        entry = stored.get(job_key(job, run)) if stored is not None else None
        if entry and entry.get("run") == run["id"] and entry["result"].get("job") == job["id"]:
            found[job["id"]] = entry["result"]
    ids = {job["id"] for job in run["jobs"]}
    for results in reported.values():
        for result in results if isinstance(results, list) else []:
            if isinstance(result, dict) and result.get("job") in ids:
                found[result["job"]] = result
    return found


def plan_retries(
    jobs: list[dict], slaves: dict[str, dict], results: dict[str, dict]
) -> tuple[list[dict], list[dict]]:
    """The jobs without a verdict, each planned on a healthy slave other than its own.

    SLAVES holds the healthy slaves only, as {name: {"pythons": {...}, "capacity": n}}.
    Jobs go to the least loaded slave for its capacity that has the job's python. Returns
    (retries, unplaced): a retry is the job with its new slave, that slave's interpreter,
    its attempt number and the slave it leaves (retry_of); an unplaced job comes with
    the reason it stays as it is.
    """
    load = dict.fromkeys(slaves, 0)
    retries, unplaced = [], []
    for job in jobs:
        if not needs_retry(results.get(job["id"])):
            continue
        attempt = job.get("attempt", 1) + 1
        slave, why = _pick(job, slaves, load)
        if attempt > MAX_ATTEMPTS:
            why = f"job {job['id']} had its {MAX_ATTEMPTS} attempts"
        if why:
            unplaced.append({"id": job["id"], "slave": job["slave"], "reason": why})
            continue
        load[slave] += 1
        retries.append(
            {
                **job,
                "slave": slave,
                "python_info": slaves[slave]["pythons"][job["python"]],
                "attempt": attempt,
                "retry_of": job["slave"],
            }
        )
    return retries, unplaced


def _pick(job: dict, slaves: dict, load: dict) -> tuple[str | None, str | None]:
    """The slave for JOB's next attempt, or None and why there is none."""
    others = [name for name in sorted(slaves) if name != job["slave"]]
    if not others:
        return None, f"no healthy slave other than {job['slave']} is left"
    able = [name for name in others if job["python"] in slaves[name]["pythons"]]
    if not able:
        return None, f"no other healthy slave has python {job['python']}"
    return min(able, key=lambda s: (load[s] / max(1, slaves[s]["capacity"]), s)), None
