# SPDX-License-Identifier: GPL-3.0-or-later
"""Send only what a slave's copy of the setup lacks, as one archive."""

from __future__ import annotations

import os
import tarfile
import tempfile

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

ARGSPEC = {
    "src": {"type": "path", "required": True},
    "dest": {"type": "path", "required": True},
    "manifest": {"type": "dict", "required": True},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=ARGSPEC)
        module_args = {"src": args["src"], "dest": args["dest"], "manifest": args["manifest"]}
        check = self._execute_module(
            "pyti.core.setup_sync", module_args=module_args, task_vars=task_vars
        )
        if check.get("failed") or not check.get("changed") or self._task.check_mode:
            return {**result, **check}
        host = task_vars.get("inventory_hostname")
        display.vvv(f"setup_sync: PUT {len(check['copied'])} files to {args['dest']}", host=host)
        try:
            return {**result, **self._send(args, check["copied"], module_args, task_vars)}
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    def _send(self, args: dict, files: list[str], module_args: dict, task_vars: dict) -> dict:
        with tempfile.TemporaryDirectory(prefix="pyti-sync-") as local_tmp:
            archive = os.path.join(local_tmp, "setup.tar")
            with tarfile.open(archive, "w") as tf:
                for rel in files:
                    tf.add(os.path.join(args["src"], rel), arcname=rel, recursive=False)
            remote = self._connection._shell.join_path(self._make_tmp_path(), "setup.tar")
            self._transfer_file(archive, remote)
            self._fixup_perms2((self._connection._shell.tmpdir, remote))
            return self._execute_module(
                "pyti.core.setup_sync",
                task_vars=task_vars,
                module_args={**module_args, "_archive": remote, "_apply": True},
            )
