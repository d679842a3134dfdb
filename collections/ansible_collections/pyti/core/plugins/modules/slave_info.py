#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: slave_info
short_description: Describe what a slave can run (its pythons, capacity and sandbox tools)
description:
  - Resolves each requested interpreter name or path on the slave to the real interpreter
    behind it (pyenv shims and symlinks included) and reports its version and prefix.
  - Reports the sandbox tools that the VM drivers need and how many VMs the slave runs at once.
version_added: 0.1.0
author: PYTI developers (!UNKNOWN)
options:
  pythons:
    description:
      - Interpreter names (V(python3), V(3.12), V(python3.12)) or absolute paths.
      - A name is looked up on E(PATH), in C(/usr/local/bin), C(/usr/bin) and in pyenv's
        versions folder.
    type: list
    elements: str
    default: [python3]
  capacity:
    description:
      - VMs that the slave runs at once. V(0) means the number of CPUs of the slave.
    type: int
    default: 0
extends_documentation_fragment:
  - pyti.core._attributes
  - pyti.core._attributes.info_module
notes:
  - Interpreters older than Python 3.9 are reported as missing, with the reason.
seealso:
  - module: pyti.core.run_config
"""

EXAMPLES = r"""
- name: Find the interpreters of the run on every slave
  pyti.core.slave_info:
    pythons: ["3.11", "3.12", /usr/bin/python3]
  register: pyti_slave_info
"""

RETURN = r"""
pythons:
  description: The interpreters found, keyed by the requested name.
  returned: always
  type: dict
  sample:
    "3.12":
      name: "3.12"
      executable: /usr/bin/python3.12
      version: 3.12.1
      implementation: CPython
      series: "3.12"
      prefix: /usr
      major: 3
      minor: 12
missing:
  description: Requested names that this slave does not have, with the reason.
  returned: always
  type: dict
  sample: {"3.99": "no such interpreter on this slave"}
capacity:
  description: VMs that the slave runs at once.
  returned: always
  type: int
  sample: 2
uv:
  description: Path of the uv binary that installs in VMs, or null when pip is used.
  returned: always
  type: str
  sample: /opt/pyti/venv/bin/uv
bwrap:
  description: Path of bubblewrap, or null when it is missing.
  returned: always
  type: str
  sample: /usr/bin/bwrap
qemu_missing:
  description:
    - What the qemu driver needs and this slave lacks, each with its Debian package; empty
      when the slave can run qemu VMs.
  returned: always
  type: list
  elements: str
  sample: ["qemu-system-x86_64 (Debian package qemu-system-x86)"]
"""

import os
import shutil
import sys

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyti.core.plugins.module_utils import _pythons, _qemu_image

MIN_SERIES = (3, 9)


def find_uv() -> str | None:
    beside = os.path.join(os.path.dirname(sys.executable), "uv")
    if os.access(beside, os.X_OK):
        return os.path.realpath(beside)
    found = shutil.which("uv")
    return os.path.realpath(found) if found else None


def main():
    module = AnsibleModule(
        argument_spec={
            "pythons": {"type": "list", "elements": "str", "default": ["python3"]},
            "capacity": {"type": "int", "default": 0},
        },
        supports_check_mode=True,
    )
    found, missing = {}, {}
    for name in module.params["pythons"]:
        info = _pythons.resolve(name)
        if info is None:
            missing[name] = "no such interpreter on this slave"
        elif (info["major"], info["minor"]) < MIN_SERIES:
            missing[name] = f"Python {info['version']} is too old: PYTI runs 3.9 and later"
        else:
            found[name] = info
    capacity = module.params["capacity"] or os.cpu_count() or 1
    module.exit_json(
        changed=False,
        pythons=found,
        missing=missing,
        capacity=capacity,
        uv=find_uv(),
        bwrap=shutil.which("bwrap"),
        qemu_missing=_qemu_image.missing_tools(),
    )


if __name__ == "__main__":
    main()
