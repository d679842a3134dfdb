#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: task_progress
short_description: Report how far a slave is through the VMs of a run
description:
  - Reads the progress that M(pyti.core.task_run) writes while it runs in the background
    (C(async) with C(poll=0)), that is the VMs done out of the total and their statuses.
  - Meant to be retried with C(until) until it returns RV(finished); the callback
    P(pyti.core.progress#callback) turns each retry into a live progress line.
version_added: 0.1.0
author: PYTI developers (!UNKNOWN)
options:
  run_id:
    description: The run whose progress is read.
    type: str
    required: true
  work_dir:
    description: The slave's work dir.
    type: path
    default: /var/lib/pyti
  results_file:
    description:
      - The async results file of the background M(pyti.core.task_run) task, as it registered
        it. When that job has ended, by success or failure, the progress is C(finished).
    type: path
  wait:
    description:
      - How many seconds to wait for the background task to end before returning the
        progress so far. The end is seen within a tenth of a second, so a loop with
        C(delay=0) follows the run as closely as it can without adding a poll's delay to it.
    type: float
    default: 0
extends_documentation_fragment:
  - pyti.core._attributes
  - pyti.core._attributes.info_module
notes:
  - The heartbeat is the mtime of a file next to the progress file; it is not touched in
    check mode.
seealso:
  - module: pyti.core.task_run
"""

EXAMPLES = r"""
- name: Wait for the VMs, showing progress
  pyti.core.task_progress:
    run_id: "{{ pyti_run.id }}"
    results_file: "{{ pyti_task_run.results_file }}"
    wait: 2
  register: pyti_progress
  until: pyti_progress.finished
  retries: 100000
  delay: 0
"""

RETURN = r"""
finished:
  description: Whether the background task has ended.
  returned: always
  type: bool
pyti_progress:
  description:
    - VMs C(total) and C(done), C(by_status) counts, the C(latest) results in a line each,
      and C(results), the whole results that finished in the last two minutes, which the
      report callback keeps in its result store as they come.
  returned: always
  type: dict
"""

import json
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyti.core.plugins.module_utils import _jobs, _progress


def job_ended(results_file: str | None) -> bool:
    """Whether the async job wrote its final result (or died saying so)."""
    if not results_file:
        return False
    try:
        with open(results_file, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return False
    return "started" not in data or bool(data.get("finished"))


def finished(path: str, results_file: str | None) -> bool:
    """Whether the background task is over: its async results, else its last progress line.

    The progress ends a moment before the task has written its results, so the async
    results file, when there is one, is what tells.
    """
    if results_file:
        return job_ended(results_file)
    return _progress.read(path)["ended"]


def main():
    module = AnsibleModule(
        argument_spec={
            "run_id": {"type": "str", "required": True},
            "work_dir": {"type": "path", "default": "/var/lib/pyti"},
            "results_file": {"type": "path"},
            "wait": {"type": "float", "default": 0},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not 0 <= params["wait"] <= 600:
        module.fail_json(msg=f"wait must be from 0 to 600 seconds, not {params['wait']}")
    path = _jobs.progress_path(params["work_dir"], params["run_id"])
    if not module.check_mode:
        _progress.beat(path)
    deadline = time.monotonic() + params["wait"]
    done = finished(path, params["results_file"])
    while not done and time.monotonic() < deadline:
        time.sleep(0.1)
        done = finished(path, params["results_file"])
    progress = _progress.read(path)
    progress["results"] = _progress.recent_results(path)
    module.exit_json(changed=False, finished=done, pyti_progress=progress)


if __name__ == "__main__":
    main()
