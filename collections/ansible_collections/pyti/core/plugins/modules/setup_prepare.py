#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: setup_prepare
short_description: Prepare the setup of a run on the controller
description:
  - Runs on the controller. For each distribution, downloads its archive (the sdist when the
    index has one, else a wheel), builds its wheel for each python series of the run and
    builds a wheelhouse of its dependencies, its test extra (V(test), V(tests) or V(testing))
    and pytest.
  - Every step that may run code of a distribution runs in a bubblewrap sandbox with network,
    as an unprivileged uid, writing only to a scratch dir that is then read as untrusted.
  - Results are stored by content in O(cache_dir); a pinned distribution that was prepared
    before is not downloaded again.
  - A distribution that the index does not have, or an archive that is not a distribution,
    is recorded with its reason and becomes an C(error) result of the run; the rest goes on.
version_added: 0.1.0
author: PYTI developers
options:
  distributions:
    description: Checked specs or absolute archive paths, as planned by M(pyti.core.run_config).
    type: list
    elements: str
    required: true
  series:
    description: Python series (V(3.11)) to build wheels for; the controller needs each one.
    type: list
    elements: str
    required: true
  cache_dir:
    description: The controller's store of prepared setup files.
    type: path
    default: ~/.cache/pyti
  workers:
    description: Distributions prepared at once.
    type: int
    default: 3
  uid_base:
    description: First uid of the range that sandboxes run as; prepare sandboxes use base + 1000 on.
    type: int
    default: 990000
attributes:
  check_mode:
    support: none
  diff_mode:
    support: none
  action:
    support: full
notes:
  - Needs root on the controller (sandboxes run as uids of their own) and bubblewrap.
  - Unpinned specs are resolved against the index on every run; pin them for warm runs.
  - The pip cache of the prepare sandboxes is shared between distributions of one worker.
"""

EXAMPLES = r"""
- name: Prepare the setup
  pyti.core.setup_prepare:
    distributions: "{{ pyti_run.distributions }}"
    series: ["3.11"]
  register: pyti_setup
"""

RETURN = r"""
keys:
  description: Each distribution spec and the key of its entry in the setup.
  returned: success
  type: dict
  sample: {"six==1.16.0": six-1.16.0}
manifest:
  description: Setup files of the run, relative path to content digest.
  returned: success
  type: dict
setup_dir:
  description: The controller's setup folder that the manifest is relative to.
  returned: success
  type: str
downloads:
  description: Distributions that had to be fetched from the index in this run.
  returned: success
  type: int
prepared:
  description:
    - Distributions whose setup entry was made or completed in this run; the task reports a
      change only then. A distribution that failed before is tried again on every run.
  returned: success
  type: int
"""
