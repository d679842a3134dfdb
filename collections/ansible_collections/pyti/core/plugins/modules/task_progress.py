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
        it. When that job has ended, by success or failure, the progress is C(finished), this
        module returns what the job returned (RV(pyti_results), RV(raw_dir), RV(leftovers)),
        or fails with its message, and removes the file as M(ansible.builtin.async_status)
        would with C(mode=cleanup).
    type: path
  wait:
    description:
      - How many seconds to wait for the background task to end before returning the
        progress so far. The end is seen within a tenth of a second, so a loop with
        C(delay=0) follows the run as closely as it can without adding a poll's delay to it.
    type: float
    default: 0
  pack:
    description:
      - Once the background task has ended well, pack the run's raw results on the slave
        into one archive (RV(archive)) for M(pyti.core.results_fetch), which then fetches it
        with no module of its own to start. Not in check mode.
    type: bool
    default: false
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
pyti_results:
  description: The results of the background task, once it has ended; see M(pyti.core.task_run).
  returned: when the background task has ended
  type: list
  elements: dict
raw_dir:
  description: The slave's folder of the run's raw results, once the background task has ended.
  returned: when the background task has ended
  type: str
leftovers:
  description: What the background task found of an earlier run and removed.
  returned: when the background task has ended
  type: list
  elements: str
archive:
  description:
    - The slave's archive of the run's raw results, for O(pyti.core.results_fetch#module:archive).
  returned: when O(pack) is set and the background task has ended well
  type: str
  sample: /var/lib/pyti/runs/20261204T161000Z-ab12cd.tar.gz
duration_s:
  description: Seconds the background task's batch took, from its start to its last VM's end.
  returned: when the background task has ended
  type: float
pyti_progress:
  description:
    - VMs C(total) and C(done), C(by_status) counts, the C(latest) results in a line each,
      and C(results), the whole results that finished in the last two minutes, which the
      report callback keeps in its result store as they come.
  returned: always
  type: dict
"""

import json
import os
import tarfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyti.core.plugins.module_utils import _progress, _raw_archive

# What the background task returned that this module passes on once it has ended.
PASSED_ON = ("pyti_results", "raw_dir", "leftovers", "duration_s")


def ended_result(results_file: str | None) -> dict | None:
    """The async job's own result once it has ended (or died saying so), else None."""
    if not results_file:
        return None
    try:
        with open(results_file, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or ("started" in data and not data.get("finished")):
        return None
    return data


def finished(path: str, results_file: str | None) -> bool:
    """Whether the background task is over: its async results, else its last progress line.

    The progress ends a moment before the task has written its results, so the async
    results file, when there is one, is what tells.
    """
    if results_file:
        return ended_result(results_file) is not None
    return _progress.read(path)["ended"]


def pack(work_dir: str, run_id: str) -> str | None:
    """The run's raw results as one archive, or None: results_fetch packs them then."""
    folder = _raw_archive.run_dir(work_dir, run_id)
    if not (_raw_archive.is_plain(run_id) and os.path.isabs(folder)):
        return None
    if not os.path.isdir(os.path.join(folder, "raw")):
        return None
    try:
        return _raw_archive.pack(folder)
    except (OSError, tarfile.TarError):
        return None


def main():
    module = AnsibleModule(
        argument_spec={
            "run_id": {"type": "str", "required": True},
            "work_dir": {"type": "path", "default": "/var/lib/pyti"},
            "results_file": {"type": "path"},
            "wait": {"type": "float", "default": 0},
            "pack": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not 0 <= params["wait"] <= 600:
        module.fail_json(msg=f"wait must be from 0 to 600 seconds, not {params['wait']}")
    path = _progress.progress_path(params["work_dir"], params["run_id"])
    if not module.check_mode:
        _progress.beat(path)
    deadline = time.monotonic() + params["wait"]
    done = finished(path, params["results_file"])
    while not done and time.monotonic() < deadline:
        time.sleep(0.1)
        done = finished(path, params["results_file"])
    progress = _progress.read(path)
    progress["results"] = _progress.recent_results(path)
    out = {"changed": False, "finished": done, "pyti_progress": progress}
    result = ended_result(params["results_file"]) if done else None
    if result is None:
        module.exit_json(**out)
    out.update((key, result[key]) for key in PASSED_ON if key in result)
    if not module.check_mode:
        # As async_status's cleanup does: the job is over and its result is taken.
        try:
            os.remove(params["results_file"])
        except OSError:
            pass
    if result.get("failed"):
        module.fail_json(msg=str(result.get("msg") or "the background task failed"), **out)
    if params["pack"] and not module.check_mode:
        archive = pack(params["work_dir"], params["run_id"])
        if archive:
            out["archive"] = archive
    module.exit_json(**out)


if __name__ == "__main__":
    main()
