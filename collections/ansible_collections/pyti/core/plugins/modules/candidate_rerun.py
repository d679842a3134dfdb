#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: candidate_rerun
short_description: Pick the regressed pairs of a candidate run to run them again
description:
  - Runs on the controller. In candidate mode each distribution runs twice per python, a
    V(baseline) and a V(candidate) job. A pair regressed when its baseline passed and its
    candidate failed through the distribution's own code.
  - Returns the planned jobs of every regressed pair, both sides, with C(-rerun) added to
    their ids, for M(pyti.core.task_run) to run once more. The report then calls a pair
    whose re-run disagrees with its first run C(flaky) rather than C(regressed).
version_added: 0.1.0
author: PYTI developers (!UNKNOWN)
options:
  jobs:
    description: The planned jobs of the run, as M(pyti.core.run_config) returned them.
    type: list
    elements: dict
    required: true
  results:
    description: The results of the run so far, as M(pyti.core.task_run) returned them.
    type: list
    elements: dict
    required: true
extends_documentation_fragment:
  - pyti.core._attributes
  - pyti.core._attributes.action
  - pyti.core._attributes.no_diff
attributes:
  check_mode:
    support: full
    details: The module changes nothing, so check mode picks the pairs as usual.
seealso:
  - module: pyti.core.run_config
  - module: pyti.core.task_run
"""

EXAMPLES = r"""
- name: Pick the regressed pairs
  pyti.core.candidate_rerun:
    jobs: "{{ pyti_config.pyti_run.jobs }}"
    results: "{{ pyti_results_so_far }}"
  register: pyti_reruns

- name: Say how many pairs run again
  ansible.builtin.debug:
    msg: "{{ pyti_reruns.jobs | length // 2 }} pairs run again"
"""

RETURN = r"""
jobs:
  description: The jobs to run again, two per regressed pair, each with C(rerun_of).
  returned: success
  type: list
  elements: dict
  sample:
    - {id: j0003-rerun, rerun_of: j0003, side: baseline, distribution: mydep==1.0}
    - {id: j0004-rerun, rerun_of: j0004, side: candidate, distribution: mydep==1.0}
msg:
  description: How many pairs run again.
  returned: success
  type: str
  sample: 1 regressed pairs to run again on both sides
"""
