#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: run_config
short_description: Check a PYTI run's configuration and plan its jobs
description:
  - Runs on the controller. Checks every variable of a run and stops the play with one line
    naming the variable and the value when one is wrong, before any VM starts.
  - Plans the jobs, one per (distribution, python), over the slaves that have that python,
    weighted by each slave's capacity.
  - Reads what M(pyti.core.slave_info) registered as C(pyti_slave_info) on each slave; a slave
    that could not be inspected gets no job.
version_added: 0.1.0
author: PYTI developers (!UNKNOWN)
options:
  distributions:
    description:
      - Requirement specs (V(name) or V(name==version)) or paths of local sdists and wheels.
      - Relative paths are relative to the directory that C(ansible-playbook) runs in.
    type: list
    elements: raw
    required: true
  pythons:
    description: Interpreter names or paths, as given to M(pyti.core.slave_info).
    type: list
    elements: raw
    default: [python3]
  tasks:
    description: The tasks of each VM, run in the order V(install), V(import), V(test).
    type: list
    elements: raw
    default: [install, import, test]
  driver:
    description:
      - The VM driver, V(namespace) (bubblewrap) or V(qemu) (a QEMU virtual machine per job).
    type: raw
    default: namespace
  limits:
    description:
      - Per-VM limits; keys not given take their defaults.
      - V(task_timeout) (900), V(vm_timeout) (2400), V(no_output_timeout) (300) in seconds;
        V(output_bytes) (1 MiB) of each task's output kept, head and tail;
        V(results_bytes) (32 MiB) and V(results_files) (64) of raw results accepted from a VM;
        V(memory_bytes) (2 GiB) of memory, scratch files included, and V(processes) (512) of
        one VM; V(scratch_bytes) (2 GiB) and V(scratch_inodes) (200000) of its scratch;
        V(vm_cpus) (1) virtual CPUs of a qemu VM.
    type: raw
  report_dir:
    description: Where the report of the run is written, under a folder named after the run.
    type: path
    default: reports
  resume:
    description:
      - Reuse every result of the result store (under O(report_dir)) that tested the same
        distribution spec, python version, task set and driver, and run only the jobs that
        have none. Infrastructure faults are never reused.
      - This is how a run that was interrupted goes on where it stopped.
    type: bool
    default: false
  rerun:
    description:
      - V(failed) runs again only the results of the run O(rerun_of) that did not pass
        (failures, errors, timeouts, infrastructure faults) and reuses those that did.
    type: raw
  rerun_of:
    description: The run id (a folder under O(report_dir)) that O(rerun) starts from.
    type: str
    default: latest
  candidate:
    description:
      - Candidate mode. One or a list of local wheels or sdists, or requirement specs, of a
        new version of a dependency. Every distribution then runs twice on the same slave
        and python, V(baseline) with the released dependency and V(candidate) with the
        candidate in its place, and the report compares the two sides.
      - Relative paths are relative to the directory that C(ansible-playbook) runs in.
      - Cannot be combined with O(resume) or O(rerun).
    type: raw
  slaves:
    description: Inventory names of the slaves of the run.
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
    details: The module changes nothing, so check mode plans the run as usual.
notes:
  - The run id is the start time in UTC plus six random hex digits.
  - A wrong variable fails the task with C(field) naming it and, where it helps, C(value).
seealso:
  - module: pyti.core.slave_info
  - module: pyti.core.task_run
"""

EXAMPLES = r"""
- name: Check the run and plan its jobs
  pyti.core.run_config:
    distributions: ["six==1.16.0", ./dist/mylib-1.0.tar.gz]
    pythons: ["3.11"]
    limits: {task_timeout: 600}
    slaves: "{{ groups['slaves'] }}"
  register: pyti_config
"""

RETURN = r"""
pyti_run:
  description: The checked configuration, the run id and the planned jobs.
  returned: success
  type: dict
  contains:
    id:
      description: The run id.
      type: str
      sample: 20261204T161000Z-ab12cd
    pyti_version:
      description: The version of PYTI that planned the run.
      type: str
      sample: 0.1.0
    started:
      description: When the run was planned, in UTC, ISO 8601.
      type: str
      sample: "2026-12-04T16:10:00Z"
    driver:
      description: The VM driver.
      type: str
      sample: namespace
    tasks:
      description: The tasks of each VM, in order.
      type: list
      elements: str
      sample: [install, import, test]
    pythons:
      description: The requested interpreter names.
      type: list
      elements: str
      sample: ["3.11"]
    limits:
      description: Every per-VM limit, defaults filled in.
      type: dict
      sample: {task_timeout: 900, vm_timeout: 2400, no_output_timeout: 300}
    distributions:
      description: The checked specs; local archives as absolute paths.
      type: list
      elements: str
      sample: ["six==1.16.0", /src/dist/mylib-1.0.tar.gz]
    slaves:
      description: The slaves that were inspected and take part in the run.
      type: list
      elements: str
      sample: [localhost]
    jobs:
      description: One entry per (distribution, python) with the slave that runs it.
      type: list
      elements: dict
      contains:
        id:
          description: The job id, unique within the run.
          type: str
          sample: j0001
        distribution:
          description: The distribution spec.
          type: str
        python:
          description: The requested interpreter name.
          type: str
        slave:
          description: The inventory name of the slave that runs the job.
          type: str
        python_info:
          description: The interpreter as M(pyti.core.slave_info) found it on that slave.
          type: dict
        side:
          description: In candidate mode, V(baseline) or V(candidate); absent otherwise.
          type: str
    candidates:
      description: The checked candidates; local archives as absolute paths; empty if none.
      type: list
      elements: str
    report_dir:
      description: The absolute report directory.
      type: str
    reused:
      description:
        - Results taken from the result store or from O(rerun_of) instead of being run
          again, each with C(reused_from) naming the run that produced it.
      type: list
      elements: dict
msg:
  description: One line that says how many VMs on how many slaves the run has.
  returned: success
  type: str
  sample: "Run 20261204T161000Z-ab12cd: 4 VMs on 1 slaves"
field:
  description: The variable that is wrong.
  returned: failure
  type: str
  sample: pyti_limits.task_timeout
"""
