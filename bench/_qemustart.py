"""How long a qemu VM takes from "create" to "runner started" to "gone".

Each VM is the qemu driver's own: its share, results and key disks, cgroup, QEMU in
bubblewrap as the VM's uid, the driver's kernel and initramfs, the guest's init. Only
the task differs: instead of the recorder and the runner it runs two interpreters the
way they start (python -I -S as the guest's root, then python as the guest's user
through setpriv), each of which writes a line to the serial console. The slave notes
when each line arrives: the guest's clock is not the slave's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time

from _common import UID_BASE, log, module_utils, summary

GUEST_TASK = """
import subprocess, sys
console = open("/dev/console", "w")
def mark(word):
    console.write("pyti-bench: " + word + "\\n")
    console.flush()
mark("recorder")
runner = subprocess.Popen(
    ["setpriv", "--reuid={uid}", "--regid={uid}", "--clear-groups", "--inh-caps=-all",
     "--bounding-set=-all", "--no-new-privs", "--", sys.executable, "-c", "print(1, flush=True)"],
    stdout=subprocess.PIPE,
)
runner.stdout.readline()
mark("runner")
sys.exit(runner.wait())
"""
MARK = b"pyti-bench: "
IMAGE_DIR = "/var/cache/pyti/qemu"


def measure(python: dict, count: int, image_dir: str = IMAGE_DIR) -> dict:
    """COUNT qemu VMs, one after the other; each phase in ms, and the acceleration used."""
    qemu, image_mod = module_utils("_qemu"), module_utils("_qemu_image")
    sandbox, cgroup = module_utils("_sandbox"), module_utils("_cgroup")
    missing = image_mod.missing_tools()
    if missing:
        return {"count": 0, "skipped": f"missing tools: {', '.join(missing)}"}
    os.makedirs(image_dir, exist_ok=True)
    image = image_mod.ensure(image_dir)
    work = tempfile.mkdtemp(prefix="pyti-bench-qemu-")
    kind = cgroup.layout()
    cgroups = (kind, f"pyti-{UID_BASE}") if kind else None
    try:
        with sandbox.lock_uids(UID_BASE, "vms", timeout=3600):
            accel = qemu.choose_accel(image_dir, image, UID_BASE)
            log(f"qemu start: {count} VMs, {accel.name} ({accel.reason}), kernel {image.version}")
            setup = _setup(work)
            runs = [
                _one_vm(qemu, python, image, accel, work, setup, cgroups, n) for n in range(count)
            ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "count": count,
        "accel": accel.as_dict(),
        "kernel": image.version,
        **_phases(runs),
    }


def _setup(work: str) -> dict:
    """The setup files a qemu VM shares with its guest: the runner's, and an empty dist."""
    runner, dist = os.path.join(work, "runner"), os.path.join(work, "dist")
    os.makedirs(runner)
    os.makedirs(dist)
    for name, source in module_utils("_prepare").runner_sources().items():
        shutil.copy(source, os.path.join(runner, name))
    return {"runner": runner, "dist": dist, "wheels": []}


def _timed_vm_class(qemu):
    class TimedVM(qemu.QemuVM):
        """The driver's VM, with a task of GUEST_TASK and the arrival time of its marks."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.marks: dict[str, int] = {}

        def _guest_data(self, tasks: list[str]) -> dict:
            code = GUEST_TASK.format(uid=module_utils("_guest_init").UID)
            command = [self.python["executable"], "-I", "-S", "-c", code]
            return {
                "tasks": [{"name": tasks[0], "command": command}],
                "limits": self.limits,
                "env": qemu.GUEST_ENV,
            }

        def _marker(self, line: bytes, started: float) -> None:
            super()._marker(line, started)
            if line.startswith(qemu.INIT_MARK):
                self.marks.setdefault("init", time.time_ns())
            elif line.startswith(MARK):
                word = line[len(MARK) :].decode("ascii", "replace")
                self.marks.setdefault(word, time.time_ns())

    return TimedVM


def _one_vm(qemu, python, image, accel, work, setup, cgroups, n: int) -> dict:
    limits = module_utils("_limits").defaults()
    name = f"bench-qemu-{n}"
    vm = _timed_vm_class(qemu)(
        name, os.path.join(work, name), UID_BASE, python, limits, image, accel
    )
    t0 = time.time_ns()
    vm.create(setup, {}, ["bench"], cgroups)
    created = time.time_ns()
    boot = vm.run_all_tasks()
    ran = time.time_ns()
    records, _found = vm.results(["bench"])
    console = vm.console.tail_text(2000)
    vm.destroy()
    gone = time.time_ns()
    rc = records[0]["execution"].rc if records else None
    if rc != 0 or "runner" not in vm.marks or "init" not in vm.marks:
        raise RuntimeError(f"{name}: qemu rc {boot['rc']}, task rc {rc}, console:\n{console}")
    return {"t0": t0, "created": created, **vm.marks, "ran": ran, "gone": gone}


def _ms(later: int, earlier: int) -> float:
    return (later - earlier) / 1e6


def _phases(runs: list[dict]) -> dict:
    return {
        "create_ms": summary([_ms(r["created"], r["t0"]) for r in runs]),
        "to_init_ms": summary([_ms(r["init"], r["t0"]) for r in runs]),
        "init_to_recorder_ms": summary([_ms(r["recorder"], r["init"]) for r in runs]),
        "recorder_to_runner_ms": summary([_ms(r["runner"], r["recorder"]) for r in runs]),
        "to_runner_started_ms": summary([_ms(r["runner"], r["t0"]) for r in runs]),
        "runner_to_poweroff_ms": summary([_ms(r["ran"], r["runner"]) for r in runs]),
        "destroy_ms": summary([_ms(r["gone"], r["ran"]) for r in runs]),
        "to_gone_ms": summary([_ms(r["gone"], r["t0"]) for r in runs]),
    }
