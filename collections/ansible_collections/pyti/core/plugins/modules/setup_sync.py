#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: setup_sync
short_description: Make a slave's read-only copy of the setup equal to the controller's
description:
  - Compares the slave's copy of the setup in O(dest) with the O(manifest) of the run and
    copies only the files that are missing or differ, as one archive; files of the copy that
    the run does not need are removed.
  - Every file that arrives is checked against its digest in the manifest and made read-only.
  - A second sync of an unchanged setup reports C(changed=false) and copies nothing.
version_added: 0.1.0
author: PYTI developers (!UNKNOWN)
options:
  src:
    description: The controller's setup folder, which the manifest's paths are relative to.
    type: path
    required: true
  dest:
    description: The slave's copy of the setup.
    type: path
    required: true
  manifest:
    description:
      - Relative path to digest, a sha256 or, for content-addressed wheels, a prefix of one.
    type: dict
    required: true
extends_documentation_fragment:
  - pyti.core._attributes
  - pyti.core._attributes.action
  - pyti.core._attributes.no_diff
attributes:
  check_mode:
    support: full
    details: In check mode, RV(copied) and RV(removed) say what a sync would do.
notes:
  - Wheels are stored under a folder named after their digest and are not hashed again once
    they are in place.
seealso:
  - module: pyti.core.setup_prepare
"""

EXAMPLES = r"""
- name: Copy the setup to the slave
  pyti.core.setup_sync:
    src: "{{ pyti_setup.setup_dir }}"
    dest: /var/lib/pyti/setup
    manifest: "{{ pyti_setup.manifest }}"
"""

RETURN = r"""
copied:
  description: Files copied to the slave, relative to O(dest); in check mode, the files to copy.
  returned: success
  type: list
  elements: str
  sample: [runner/vm_runner.py, dists/six-1.16.0/dist.json]
removed:
  description: Files removed from the slave's copy; in check mode, the files to remove.
  returned: success
  type: list
  elements: str
  sample: [dists/attrs-23.2.0/dist.json]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyti.core.plugins.module_utils import _sync
from ansible_collections.pyti.core.plugins.module_utils._errors import PytiError


def main():
    module = AnsibleModule(
        argument_spec={
            "src": {"type": "path", "required": True},
            "dest": {"type": "path", "required": True},
            "manifest": {"type": "dict", "required": True},
            "_archive": {"type": "path"},  # internal: set by the action plugin
            "_apply": {"type": "bool"},  # internal: set by the action plugin
        },
        supports_check_mode=True,
    )
    dest, manifest = module.params["dest"], module.params["manifest"]
    try:
        missing, extra = _sync.diff(dest, manifest)
        changed = bool(missing or extra)
        if module.params["_apply"] and changed and not module.check_mode:
            _sync.apply(dest, manifest, module.params["_archive"], extra)
    except PytiError as exc:
        module.fail_json(msg=exc.msg, **exc.context)
    module.exit_json(changed=changed, copied=missing, removed=extra)


if __name__ == "__main__":
    main()
