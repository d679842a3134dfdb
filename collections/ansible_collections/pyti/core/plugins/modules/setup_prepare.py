#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
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
author: PYTI developers (!UNKNOWN)
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
    description:
      - First uid of the range that sandboxes run as; prepare sandboxes use O(uid_base) + 1000
        and up.
    type: int
    default: 990000
  limits:
    description:
      - The run's per-VM limits; each prepare step (a download, a build, a dependency
        resolution) is bound by V(task_timeout), V(no_output_timeout), V(memory_bytes) and
        V(processes) from it, through a cgroup when the controller has one.
      - Keys not given take 900 s, 300 s, 4 GiB and 1024 processes.
    type: dict
    default: {}
  candidates:
    description:
      - Candidate mode. Absolute paths of local wheels or sdists, or requirement specs, of a
        new version of a dependency, as checked by M(pyti.core.run_config).
      - Each candidate is acquired and built into a wheel once per python series, in a
        sandbox. Every distribution then gets a second wheelhouse per python in which the
        candidates replace the released versions of the same names.
      - A distribution whose own requirements exclude a candidate's version, or whose
        dependencies do so in the resolution, gets no candidate wheelhouse but a
        C(not_applicable) reason naming the requirement.
    type: list
    elements: str
    default: []
  find_links:
    description:
      - Local folders of sdists and wheels that every pip step looks in besides the index
        (pip's C(--find-links)), bound read-only into the prepare sandboxes.
      - pip still asks the index for every name it resolves; a folder only adds to what the
        index has.
    type: list
    elements: path
    default: []
requirements:
  - bubblewrap (C(bwrap)) and setpriv (util-linux) on the controller
  - a python of each series in O(series) on the controller
extends_documentation_fragment:
  - pyti.core._attributes
  - pyti.core._attributes.action
  - pyti.core._attributes.no_diff
attributes:
  check_mode:
    support: none
    details: The action does not look at check mode; in check mode it prepares the setup as usual.
notes:
  - Needs root on the controller (sandboxes run as uids of their own).
  - Unpinned specs are resolved against the index on every run; pin them for warm runs.
  - The pip cache of the prepare sandboxes is shared between distributions of one worker.
  - A prepared distribution is reused from the store whatever O(find_links) was when it was
    prepared; clear O(cache_dir) after changing what a folder of O(find_links) holds under
    the same version.
seealso:
  - module: pyti.core.run_config
  - module: pyti.core.setup_sync
"""

EXAMPLES = r"""
- name: Prepare the setup
  pyti.core.setup_prepare:
    distributions: "{{ pyti_config.pyti_run.distributions }}"
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
  sample:
    runner/vm_runner.py: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    dists/six-1.16.0/dist.json: 3c9909afec25354d551dae21590bb26e38d53f2173b8d3dc3eee4c047e7ab1c1
setup_dir:
  description: The controller's setup folder that the manifest is relative to.
  returned: success
  type: str
  sample: /root/.cache/pyti/setup
downloads:
  description: Distributions that had to be fetched from the index in this run.
  returned: success
  type: int
  sample: 1
prepared:
  description:
    - Distributions whose setup entry was made or completed in this run; the task reports a
      change only then. A distribution that failed before is tried again on every run.
  returned: success
  type: int
  sample: 1
duration_s:
  description: Seconds the preparation took.
  returned: success
  type: float
  sample: 12.345
pyti_candidate:
  description:
    - In candidate mode, the id of the set of candidates and, for each, its spec, name,
      version, sha256 and archive file name; null otherwise.
  returned: success
  type: dict
  sample:
    id: 3f2a9c0d1e4b
    distributions:
      - spec: /src/dist/libx-2.0.tar.gz
        name: libx
        version: "2.0"
        sha256: 5d41402abc4b2a76b9719d911017c592ae4f62b1e3f1a2b6d8c9e0f1a2b3c4d5
        archive: libx-2.0.tar.gz
series:
  description: The python series that the controller lacks.
  returned: failure
  type: str
  sample: "3.13"
"""
