# SPDX-License-Identifier: GPL-3.0-or-later
"""Plan again, on the healthy slaves, the jobs of a run that got no verdict."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.plugins.action import ActionBase
from ansible_collections.pyti.core.plugins.module_utils import _config, _failover, _store
from ansible_collections.pyti.core.plugins.module_utils._errors import ConfigError

ARGSPEC = {
    "run": {"type": "dict", "required": True},
    "slaves": {"type": "list", "elements": "str", "required": True},
}
RUN_KEYS = ("id", "jobs", "slaves", "tasks", "driver", "report_dir")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=ARGSPEC)
        try:
            retry = self._replan(args["run"], args["slaves"], task_vars.get("hostvars", {}))
        except ConfigError as exc:
            return {**result, "failed": True, "msg": exc.msg, **exc.context}
        return {**result, "changed": False, "pyti_retry": retry, "msg": _summary(retry)}

    def _replan(self, run: dict, healthy: list[str], hostvars) -> dict:
        _check(run, healthy)
        slaves = _config.inspected_slaves(healthy, hostvars)
        reported = {name: _task_run_results(hostvars, name) for name in slaves}
        results = _failover.known_results(run, _store.Store(run["report_dir"]), reported)
        jobs, unplaced = _failover.plan_retries(run["jobs"], slaves, results)
        return {"jobs": jobs, "unplaced": unplaced, "slaves": sorted(slaves)}


def _check(run: dict, healthy: list[str]) -> None:
    missing = [key for key in RUN_KEYS if key not in run]
    if missing or not isinstance(run["jobs"], list):
        raise ConfigError(
            "run: not a run planned by pyti.core.run_config "
            f"(lacks {', '.join(missing) or 'jobs'})",
            field="run",
            value=missing,
        )
    strangers = [name for name in healthy if name not in run["slaves"]]
    if strangers:
        raise ConfigError(
            f"slaves: {strangers[0]!r} is not a slave of run {run['id']} "
            f"(its slaves: {', '.join(run['slaves'])})",
            field="slaves",
            value=strangers[0],
        )


def _task_run_results(hostvars, name: str) -> list:
    """The results that task_run returned on slave NAME, as the wait for it registered them."""
    registered = (hostvars.get(name) or {}).get("pyti_task_results")
    if not isinstance(registered, Mapping) or registered.get("failed"):
        return []
    results = registered.get("pyti_results")
    return results if isinstance(results, list) else []


def _summary(retry: dict) -> str:
    jobs, unplaced = retry["jobs"], retry["unplaced"]
    if not jobs and not unplaced:
        return "Every job has a verdict: nothing to run again"
    text = f"{len(jobs) + len(unplaced)} jobs without a verdict: {len(jobs)} run again"
    if jobs:
        text += f" on {', '.join(sorted({job['slave'] for job in jobs}))}"
    if unplaced:
        text += f"; {len(unplaced)} stay as they are ({unplaced[0]['reason']})"
    return text
