# SPDX-License-Identifier: GPL-3.0-or-later
"""Pick the pairs of a candidate run that regressed, to run them again on both sides."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.pyti.core.plugins.module_utils import _candidate_runs

ARGSPEC = {
    "jobs": {"type": "list", "elements": "dict", "required": True},
    "results": {"type": "list", "elements": "dict", "required": True},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=ARGSPEC)
        jobs = _candidate_runs.rerun_jobs(args["jobs"], args["results"])
        pairs = len(jobs) // 2
        return {
            **result,
            "changed": False,
            "jobs": jobs,
            "msg": f"{pairs} regressed pairs to run again on both sides",
        }
