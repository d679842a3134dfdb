# SPDX-License-Identifier: GPL-3.0-or-later
"""Check a run's configuration on the controller and plan its jobs."""

from __future__ import annotations

import json
import os

from ansible.plugins.action import ActionBase
from ansible_collections.pyti.core.plugins.module_utils import _config, _limits, _report, _store
from ansible_collections.pyti.core.plugins.module_utils._errors import ConfigError

PYTI_VERSION = "0.1.0"

ARGSPEC = {
    "distributions": {"type": "list", "elements": "raw", "required": True},
    "pythons": {"type": "list", "elements": "raw", "default": _config.DEFAULTS["pythons"]},
    "tasks": {"type": "list", "elements": "raw", "default": _config.DEFAULTS["tasks"]},
    "driver": {"type": "raw", "default": _config.DEFAULTS["driver"]},
    "limits": {"type": "raw"},
    "report_dir": {"type": "path", "default": _config.DEFAULTS["report_dir"]},
    "slaves": {"type": "list", "elements": "str", "required": True},
    "resume": {"type": "bool", "default": False},
    "rerun": {"type": "raw"},
    "rerun_of": {"type": "str", "default": "latest"},
    "candidate": {"type": "raw"},
}
RERUN_CHOICES = ("failed",)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=ARGSPEC)
        try:
            run = self._plan(args, task_vars)
        except ConfigError as exc:
            return {**result, "failed": True, "msg": exc.msg, **exc.context}
        return {
            **result,
            "changed": False,
            "pyti_run": run,
            "msg": f"Run {run['id']}: {len(run['jobs'])} VMs on {len(run['slaves'])} slaves",
        }

    def _plan(self, args: dict, task_vars: dict) -> dict:
        base_dir = os.getcwd()
        _config.check_variable_names(task_vars)
        hostvars = task_vars.get("hostvars") or {}
        for slave in args["slaves"]:
            if slave in hostvars:
                _config.check_variable_names(hostvars[slave])
        specs = _config.check_distributions(args["distributions"], base_dir)
        pythons = _config._list_of_str("pyti_pythons", args["pythons"])
        tasks = _config.check_tasks(args["tasks"])
        driver = _config.check_driver(args["driver"])
        limits = _limits.check(args["limits"])
        slaves = self._slaves(args["slaves"], task_vars)
        candidates = _config.check_candidates(args["candidate"], base_dir)
        if driver == "qemu":
            _config.check_qemu_slaves(slaves)
        jobs, lacking = _config.job_matrix(specs, pythons, slaves)
        if lacking:
            raise ConfigError(
                self._lacking_msg(lacking, slaves), field="pyti_pythons", value=lacking
            )
        if candidates and (args["resume"] or args["rerun"] is not None):
            raise ConfigError(
                "pyti_candidate: a candidate run cannot be resumed or re-run "
                "(pyti_resume, pyti_rerun); start it anew",
                field="pyti_candidate",
                value=candidates,
            )
        if candidates:
            jobs = _config.candidate_jobs(jobs)
        run = {
            "id": _config.new_run_id(),
            "pyti_version": PYTI_VERSION,
            # As the report's "finished": UTC, to the second, with Z.
            "started": _report.utc_now(),
            "driver": driver,
            "tasks": tasks,
            "pythons": pythons,
            "limits": limits,
            "distributions": specs,
            "slaves": sorted(slaves),
            "jobs": jobs,
            "report_dir": os.path.abspath(args["report_dir"]),
            "reused": [],
            "candidates": candidates,
        }
        if args["resume"] or args["rerun"] is not None:
            previous = self._rerun_report(args, run["report_dir"])
            run["jobs"], run["reused"] = _store.plan_reuse(
                run, _store.Store(run["report_dir"]), previous
            )
        return run

    @staticmethod
    def _rerun_report(args: dict, report_dir: str) -> dict | None:
        """The report whose failures a rerun runs again; None for a plain resume."""
        if args["rerun"] is None:
            return None
        if args["rerun"] not in RERUN_CHOICES:
            raise ConfigError(
                f"pyti_rerun: unknown value {args['rerun']!r} (known: failed)",
                field="pyti_rerun",
                value=args["rerun"],
            )
        path = os.path.join(report_dir, args["rerun_of"], "report.json")
        try:
            with open(path, encoding="utf-8") as handle:
                report = json.load(handle)
        except (OSError, ValueError, RecursionError) as exc:
            raise ConfigError(
                f"pyti_rerun_of: no readable report at {path} ({exc})",
                field="pyti_rerun_of",
                value=args["rerun_of"],
            ) from None
        run = report.get("run") if isinstance(report, dict) else None
        tasks = run.get("tasks") if isinstance(run, dict) else None
        if not (
            isinstance(tasks, list)
            and all(isinstance(task, str) for task in tasks)
            and isinstance(report.get("results"), list)
        ):
            raise ConfigError(
                f"pyti_rerun_of: {path} is not a report",
                field="pyti_rerun_of",
                value=args["rerun_of"],
            )
        return report

    def _slaves(self, names: list[str], task_vars: dict) -> dict:
        slaves = _config.inspected_slaves(names, task_vars.get("hostvars", {}))
        if not slaves:
            raise ConfigError(
                f"No slave could be inspected among {names!r}: check the "
                "inventory's slaves group and that the slaves are reachable",
                field="slaves",
            )
        return slaves

    @staticmethod
    def _lacking_msg(lacking: list[str], slaves: dict) -> str:
        why = {}
        for slave in slaves.values():
            for name in lacking:
                why.setdefault(name, slave["missing"].get(name, "not found"))
        detail = "; ".join(f"{name}: {why[name]}" for name in lacking)
        return f"pyti_pythons: no slave has {', '.join(map(repr, lacking))} ({detail})"
