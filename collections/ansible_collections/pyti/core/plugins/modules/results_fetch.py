#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: results_fetch
short_description: Bring the raw results of a run from a slave to the controller
description:
  - Packs the raw results that M(pyti.core.task_run) accepted from the slave's VMs into one
    archive, fetches it and unpacks it into O(dest) on the controller. Each job's folder
    replaces the one O(dest) held before; the folders of other jobs stay.
  - The controller unpacks the archive as untrusted data, keeping regular files and folders
    only, with no links and nothing outside O(dest).
  - Then removes the archive from the slave, and the run's folder too unless O(keep) is set.
    A fetch that fails leaves the run's folder on the slave.
version_added: 0.1.0
author: PYTI developers (!UNKNOWN)
options:
  run_id:
    description: The run whose raw results are fetched; a plain name, with no C(/).
    type: str
    required: true
  work_dir:
    description: The slave's work dir; the run's folder is C(<work_dir>/runs/<run_id>).
    type: path
    default: /var/lib/pyti
  dest:
    description: The controller folder that receives the raw results of this slave.
    type: path
    required: true
  keep:
    description: Keep the run's folder, raw results included, on the slave after fetching them.
    type: bool
    default: false
  archive:
    description:
      - The archive of the run's raw results that M(pyti.core.task_progress) packed on the
        slave when called with O(pyti.core.task_progress#module:pack), as it returned it in
        RV(pyti.core.task_progress#module:archive). No module starts on the slave to pack
        them then, and the archive is fetched at once.
      - It must be the path C(<work_dir>/runs/<run_id>.tar.gz) of this run, with O(work_dir)
        an absolute path; with a O(work_dir) that is not, it is not used and the raw results
        are packed again.
    type: str
extends_documentation_fragment:
  - pyti.core._attributes
  - pyti.core._attributes.action
  - pyti.core._attributes.no_diff
attributes:
  check_mode:
    support: none
notes:
  - Every successful run fetches the raw results again and reports a change.
seealso:
  - module: pyti.core.task_run
"""

EXAMPLES = r"""
- name: Fetch the raw results
  pyti.core.results_fetch:
    run_id: "{{ pyti_run.id }}"
    dest: "{{ pyti_run.report_dir }}/{{ pyti_run.id }}/raw/{{ inventory_hostname }}"

- name: Fetch the raw results and keep them on the slave for a closer look
  pyti.core.results_fetch:
    run_id: "{{ pyti_run.id }}"
    work_dir: /srv/pyti
    dest: /tmp/pyti-raw/{{ inventory_hostname }}
    keep: true
"""

RETURN = r"""
files:
  description: Number of files received on the controller.
  returned: success
  type: int
  sample: 12
dest:
  description: The controller folder that holds the raw results.
  returned: success
  type: str
  sample: /srv/reports/20261204T161000Z-ab12cd/raw/slave1
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyti.core.plugins.module_utils import _raw_archive


def main():
    module = AnsibleModule(
        argument_spec={
            "run_id": {"type": "str", "required": True},
            "work_dir": {"type": "path", "default": "/var/lib/pyti"},
            "dest": {"type": "path", "required": True},
            "keep": {"type": "bool", "default": False},
            "archive": {"type": "str"},
        },
    )
    run_id = module.params["run_id"]
    if not _raw_archive.is_plain(run_id):
        module.fail_json(msg=f"Fetching results failed: run_id {run_id!r} is not a plain name")
    archive = module.params["archive"]
    if archive:
        packed_from = _raw_archive.folder_of(archive, module.params["work_dir"], run_id)
        if packed_from is None or not os.path.isfile(archive):
            module.fail_json(msg=f"archive: {archive!r} is not the packed raw results of {run_id}")
        module.exit_json(changed=False, archive=archive, run_dir=packed_from)
    run_dir = _raw_archive.run_dir(module.params["work_dir"], run_id)
    if not os.path.isdir(os.path.join(run_dir, "raw")):
        module.fail_json(msg=f"Fetching results failed: {run_dir}/raw does not exist", path=run_dir)
    module.exit_json(changed=False, archive=_raw_archive.pack(run_dir), run_dir=run_dir)


if __name__ == "__main__":
    main()
