# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""One disposable namespace VM: its scratch, its view of the setup, its tasks, its removal."""

from __future__ import annotations

import json
import os
import shutil
import time

from . import _sandbox
from ._capture import Capture
from ._errors import SandboxError

RUNNER = "/setup/runner/vm_runner.py"
VM_ENV = {
    "HOME": "/vm/home",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "PATH": "/vm/venv/bin:/usr/local/bin:/usr/bin:/bin",
    "PIP_NO_INDEX": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_INPUT": "1",
    "UV_OFFLINE": "1",
    "UV_NO_CONFIG": "1",
    "UV_PYTHON_DOWNLOADS": "never",
    "UV_CACHE_DIR": "/vm/.cache/uv",
    "UV_LINK_MODE": "copy",
    "PYTHONUNBUFFERED": "1",
}


class NamespaceVM:
    """A VM of the namespace driver: a scratch dir plus a bubblewrap view, run as its own uid."""

    driver = "namespace"

    def __init__(self, name: str, base: str, uid: int, binds: list[tuple[str, str]], env: dict):
        self.name = name
        self.base = base
        self.uid = uid
        self.scratch = os.path.join(base, "scratch")
        self.job_dir = os.path.join(base, "job")
        self.sandbox = _sandbox.Sandbox(uid=uid, ro=binds, env={**VM_ENV, **env}, chdir="/vm")

    def create(self, job_data: dict, etc_dir: str) -> None:
        try:
            os.makedirs(self.job_dir, mode=0o755)
            for sub in ("home", "tmp", "results", ".cache"):
                os.makedirs(os.path.join(self.scratch, sub), mode=0o700)
            for root, dirs, _files in os.walk(self.scratch):
                for path in [root] + [os.path.join(root, d) for d in dirs]:
                    os.chown(path, self.uid, self.uid)
            with open(os.path.join(self.job_dir, "job.json"), "w", encoding="utf-8") as handle:
                json.dump(job_data, handle)
        except OSError as exc:
            raise SandboxError(f"Creating VM {self.name} failed: {exc}", vm=self.name) from exc
        self.sandbox.ro.append((self.job_dir, "/job"))
        self.sandbox.rw += [(self.scratch, "/vm"), (os.path.join(self.scratch, "tmp"), "/tmp")]
        self.sandbox.etc_dir = etc_dir

    def run(
        self, command: list[str], timeout: float, idle_timeout: float, capture: Capture
    ) -> _sandbox.Execution:
        argv = self.sandbox.argv(command, bwrap=_sandbox.find_bwrap())
        return _sandbox.execute(argv, self.uid, timeout, idle_timeout, capture)

    @property
    def results_dir(self) -> str:
        return os.path.join(self.scratch, "results")

    def destroy(self) -> None:
        """Kill whatever is left of the VM and remove its files; SandboxError if it cannot."""
        if not _sandbox.kill_uid(self.uid):
            raise SandboxError(
                f"Removing VM {self.name} failed: processes of uid {self.uid} survived SIGKILL",
                vm=self.name,
            )
        for _ in range(3):
            shutil.rmtree(self.base, ignore_errors=True)
            if not os.path.lexists(self.base):
                return
            time.sleep(0.1)
        raise SandboxError(
            f"Removing VM {self.name} failed: {self.base} could not be deleted", vm=self.name
        )
