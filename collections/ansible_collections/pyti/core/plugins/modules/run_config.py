#!/usr/bin/python
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
  - Reads what M(pyti.core.slave_info) registered as C(pyti_slave_info) on each slave.
version_added: 0.1.0
author: PYTI developers
options:
  distributions:
    description:
      - Requirement specs (V(name) or V(name==version)) or paths of local sdists and wheels.
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
    description: The VM driver.
    type: raw
    default: namespace
  limits:
    description:
      - Per-VM limits; keys not given take their defaults.
      - V(task_timeout) (900), V(vm_timeout) (2400), V(no_output_timeout) (300) in seconds;
        V(output_bytes) (1 MiB) of each task's output kept, head and tail;
        V(results_bytes) (32 MiB) and V(results_files) (64) of raw results accepted from a VM.
    type: raw
  report_dir:
    description: Where the report of the run is written, under a folder named after the run.
    type: path
    default: reports
  slaves:
    description: Inventory names of the slaves of the run.
    type: list
    elements: str
    required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  action:
    support: full
notes:
  - The run id is the start time in UTC plus six random hex digits.
"""

EXAMPLES = r"""
- name: Check the run and plan its jobs
  pyti.core.run_config:
    distributions: ["six==1.16.0", ./dist/mylib-1.0.tar.gz]
    pythons: ["3.11"]
    slaves: "{{ groups['slaves'] }}"
  register: pyti_run_config
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
    jobs:
      description: One entry per (distribution, python) with the slave that runs it.
      type: list
      elements: dict
"""
