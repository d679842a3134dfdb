# SPDX-License-Identifier: GPL-3.0-or-later
"""Fetch a slave's raw results as one archive and unpack it on the controller as untrusted."""

from __future__ import annotations

import os
import shlex
import shutil
import tarfile
import tempfile
import zlib

from ansible.plugins.action import ActionBase
from ansible_collections.pyti.core.plugins.module_utils import _raw_archive

ARGSPEC = {
    "run_id": {"type": "str", "required": True},
    "work_dir": {"type": "path", "default": "/var/lib/pyti"},
    "dest": {"type": "path", "required": True},
    "keep": {"type": "bool", "default": False},
    "archive": {"type": "str"},
}


def unpack(archive: str, dest: str) -> int:
    """Unpack regular files and folders only; links and special files are refused."""
    os.makedirs(dest, mode=0o755, exist_ok=True)
    count = 0
    with tarfile.open(archive) as tf:
        members = [m for m in tf.getmembers() if m.isfile() or m.isdir()]
        tf.extractall(dest, members=members, filter="data")
        count = sum(1 for m in members if m.isfile())
    return count


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _supports_check_mode = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=ARGSPEC)
        common = {
            "run_id": args["run_id"],
            "work_dir": args["work_dir"],
            "dest": args["dest"],
            "keep": args["keep"],
        }
        packed = self._packed(args) or self._execute_module(
            "pyti.core.results_fetch", module_args=common, task_vars=task_vars
        )
        if packed.get("failed"):
            return {**result, **packed}
        placed = False
        try:
            with tempfile.TemporaryDirectory(prefix="pyti-fetch-") as local_tmp:
                local = os.path.join(local_tmp, "raw.tar.gz")
                self._connection.fetch_file(packed["archive"], local)
                files = self._place(local, args["dest"])
                placed = True
        except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
            msg = f"Fetching results failed: {exc}; they stay on the slave in {packed['run_dir']}"
            return {**result, "failed": True, "msg": msg}
        finally:
            # The run's folder goes only once its raw results are on the controller.
            done_with = [packed["run_dir"]] if placed and not args["keep"] else []
            self._remove([packed["archive"], *done_with])
        return {**result, "changed": True, "files": files, "dest": args["dest"]}

    def _packed(self, args: dict) -> dict | None:
        """What the pack module would return, when task_progress packed the archive.

        The archive must be this run's under the work dir as the task gives it; a work dir
        that is not absolute as given (~ is the slave's) leaves the packing to the module.
        """
        archive = args["archive"]
        work_dir = self._task.args.get("work_dir", ARGSPEC["work_dir"]["default"])
        if not archive or not str(work_dir).startswith("/"):
            return None
        packed_from = _raw_archive.folder_of(archive, str(work_dir), args["run_id"])
        if packed_from is None:
            why = f"is not the path of run {args['run_id']}'s packed raw results in {work_dir}"
            return {"failed": True, "msg": f"archive: {archive!r} {why}"}
        return {"archive": archive, "run_dir": packed_from}

    def _remove(self, paths: list[str]) -> None:
        """Remove PATHS on the slave with one shell command, not a module: no interpreter
        to start for an rm."""
        command = "rm -rf -- " + " ".join(shlex.quote(path) for path in paths)
        self._low_level_execute_command(command, sudoable=True)

    @staticmethod
    def _place(archive: str, dest: str) -> int:
        """Unpack next to DEST, then put each job's raw results in place in one rename.

        A job's folder replaces the one DEST held; the folders of other jobs stay, so
        that the jobs a slave ran again for a lost one join those it ran first.
        """
        parent = os.path.dirname(dest.rstrip("/"))
        os.makedirs(parent, mode=0o755, exist_ok=True)
        incoming = tempfile.mkdtemp(prefix=".incoming-", dir=parent)
        try:
            files = unpack(archive, incoming)
            os.makedirs(dest, mode=0o755, exist_ok=True)
            raw = os.path.join(incoming, "raw")
            for name in os.listdir(raw):
                target = os.path.join(dest, name)
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target)
                elif os.path.lexists(target):
                    os.remove(target)
                os.replace(os.path.join(raw, name), target)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
        return files
