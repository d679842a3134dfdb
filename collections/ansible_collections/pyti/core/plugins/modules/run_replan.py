#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: run_replan
short_description: Plan again the jobs of a run that got no verdict, on the healthy slaves
description:
  - Runs on the controller, after the slaves ran their jobs. Finds the jobs of the run
    without a verdict, that is those whose slave was lost (unreachable, or a task failed on
    it) before it returned their result, and those whose result is an infrastructure fault
    (failure kind V(infra), such as a VM that did not start or a slave whose disk is full).
  - Plans each of them once more on a healthy slave other than the one that failed it, the
    least loaded for its capacity among those that have the job's python.
  - A job learns its result from what M(pyti.core.task_run) returned on a healthy slave
    (registered as C(pyti_task_results) by the last call of M(pyti.core.task_progress)),
    else from the result store under the run's report dir, where the
    P(pyti.core.report#callback) callback keeps every result as it arrives, a lost
    slave's included.
  - Reads what M(pyti.core.slave_info) registered as C(pyti_slave_info) on each slave.
version_added: 0.1.0
author: PYTI developers (!UNKNOWN)
options:
  run:
    description:
      - The run, as M(pyti.core.run_config) returned it
        (RV(pyti.core.run_config#module:pyti_run)).
    type: dict
    required: true
  slaves:
    description:
      - The slaves of the run that are still healthy, that is those that ran their jobs to
        the end. A job is never planned again on the slave that failed it.
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - pyti.core._attributes
  - pyti.core._attributes.action
  - pyti.core._attributes.no_diff
attributes:
  check_mode:
    support: full
    details: The module changes nothing, so check mode plans as usual.
notes:
  - There is one such round, so a job gets at most two attempts, and a fault that repeats on
    the second slave is reported with the evidence of both.
  - Without the report callback there is no result store, and a lost slave's jobs all run
    again, those that it finished included.
  - A job that no other healthy slave can take (none is left, or none has its python) keeps
    the result of its first attempt, and RV(pyti_retry.unplaced) says why.
seealso:
  - module: pyti.core.run_config
  - module: pyti.core.task_run
"""

EXAMPLES = r"""
- name: Plan again the jobs of lost slaves
  pyti.core.run_replan:
    run: "{{ pyti_config.pyti_run }}"
    slaves: "{{ ansible_play_hosts }}"
  register: pyti_retry

- name: Show where the jobs run again
  ansible.builtin.debug:
    msg: "{{ item.id }} leaves {{ item.retry_of }} for {{ item.slave }}"
  loop: "{{ pyti_retry.pyti_retry.jobs }}"
"""

RETURN = r"""
pyti_retry:
  description: The jobs planned again and those that could not be.
  returned: success
  type: dict
  contains:
    jobs:
      description:
        - The jobs to run again, as in RV(pyti.core.run_config#module:pyti_run.jobs), each with
          its new C(slave) and that slave's C(python_info), C(attempt) (V(2)) and
          C(retry_of), the slave that failed it.
      type: list
      elements: dict
      sample: [{id: j0003, slave: slave1, retry_of: slave2, attempt: 2}]
    unplaced:
      description:
        - The jobs without a verdict that stay as they are, with C(id), C(slave) and
          C(reason).
      type: list
      elements: dict
      sample: [{id: j0004, slave: slave2, reason: "no other healthy slave has python 3.13"}]
    slaves:
      description: The healthy slaves that could take jobs.
      type: list
      elements: str
      sample: [slave1, slave3]
msg:
  description: One line that says how many jobs run again, and where.
  returned: success
  type: str
  sample: "2 jobs without a verdict: 2 run again on slave1, slave3"
field:
  description: The option that is wrong.
  returned: failure
  type: str
  sample: slaves
"""
