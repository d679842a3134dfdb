#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: report_compare
short_description: Compare the reports of two PYTI runs
description:
  - Runs on the controller. Reads the C(report.json) of a base run and of a head run and
    classes every (distribution, python, task) as V(regressed), V(fixed), V(still failing),
    V(still passing), V(new), V(gone) or V(infra).
  - Distributions are matched by name, so a new version of a distribution is compared with
    the old one; a task counts as failing when its status is V(failed), V(error) or
    V(timeout), and as passing when it is V(passed) or V(skipped).
  - V(infra) wins over the pass/fail classes when either side's C(failure_kind) is neither
    V(task) nor null, that is when the infrastructure, not the distribution, is at fault.
    V(new) and V(gone) win over V(infra).
  - Writes C(comparison.json), C(comparison.md) and C(comparison.html) into
    C(<report_dir>/compare-<base run id>-<head run id>/), each through a temporary file
    renamed into place.
  - A missing or broken report stops the task with one line naming the variable
    (C(pyti_compare_base) or C(pyti_compare_head)) and its value.
version_added: 0.1.0
author: PYTI developers (!UNKNOWN)
options:
  base:
    description:
      - The run to compare from (the variable C(pyti_compare_base) of the playbook).
      - A run id (a directory of O(report_dir), V(latest) included), a run directory, or
        the path of a C(report.json).
    type: raw
    required: true
  head:
    description:
      - The run to compare to (the variable C(pyti_compare_head) of the playbook), given as
        for O(base).
    type: raw
    required: true
  report_dir:
    description:
      - Where run ids are looked up and where the comparison's directory is written.
    type: path
    default: reports
extends_documentation_fragment:
  - pyti.core._attributes
  - pyti.core._attributes.action
  - pyti.core._attributes.no_diff
attributes:
  check_mode:
    support: full
    details: In check mode the comparison is made and returned but not written.
notes:
  - The comparison is written again only when its content changed, so a second run with the
    same reports reports C(changed=false).
  - When a run holds two results for the same distribution and python, the first one in the
    report is compared.
seealso:
  - plugin: pyti.core.report
    plugin_type: callback
    description: Writes the report.json files that this module compares.
"""

EXAMPLES = r"""
- name: Compare two runs by their run ids
  pyti.core.report_compare:
    base: 20261204T161000Z-ab12cd
    head: latest
    report_dir: reports
  register: pyti_comparison

- name: Fail when a task regressed
  ansible.builtin.assert:
    that: pyti_comparison.summary.regressed == 0
    fail_msg: "{{ pyti_comparison.regressed | map(attribute='distribution') | unique }}"
"""

RETURN = r"""
dest:
  description: The directory that holds the comparison.
  returned: success
  type: str
  sample: reports/compare-20261204T161000Z-ab12cd-20261205T090000Z-ef34ab
files:
  description: The path of each output, by format.
  returned: success
  type: dict
  sample:
    json: reports/compare-A-B/comparison.json
    markdown: reports/compare-A-B/comparison.md
    html: reports/compare-A-B/comparison.html
summary:
  description: How many (distribution, python, task) entries fall in each class.
  returned: success
  type: dict
  sample: {regressed: 1, fixed: 0, infra: 0, new: 3, gone: 3, still failing: 0, still passing: 2}
regressed:
  description: The entries that passed in the base run and fail in the head run.
  returned: success
  type: list
  elements: dict
  contains:
    distribution:
      description: The distribution's name.
      type: str
    python:
      description: The python of the job, as the run named it.
      type: str
    task:
      description: The task, such as V(test).
      type: str
    class:
      description: Always V(regressed) here.
      type: str
    base:
      description: Version, status, failure_kind and reason on the base side.
      type: dict
    head:
      description: Version, status, failure_kind and reason on the head side.
      type: dict
msg:
  description: The run ids and the count of each class that occurs.
  returned: always
  type: str
  sample: "20261204T161000Z-ab12cd -> 20261205T090000Z-ef34ab: 1 regressed, 2 still passing"
"""
