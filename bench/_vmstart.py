"""How long a namespace VM takes from "create" to "runner started" to "gone".

Each VM runs its install task the way the product runs it: the real recorder as the
sandbox's root (python -I -S), which starts the runner as the VM's uid through setpriv.
The runner here is a stand-in that prints the time it started and exits.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

from _common import UID_BASE, UTILS, log, module_utils, summary

STAMP = "import time; print(time.time_ns(), flush=True)"
TIMEOUT_S = 60


def measure(python: dict, count: int) -> dict:
    """COUNT VMs that run the install task, COUNT that run /bin/true; phases in ms."""
    sandbox, limits = module_utils("_sandbox"), module_utils("_limits").defaults()
    work = tempfile.mkdtemp(prefix="pyti-bench-vm-")
    log(f"sandbox start: {count} VMs with {python['executable']}, {count} with /bin/true")
    try:
        runner = _runner_dir(work)
        with sandbox.lock_uids(UID_BASE, "vms", timeout=3600):
            etc = f"{work}/etc"
            sandbox.write_vm_etc(etc, [UID_BASE])
            runs = [_one_vm(python, limits, work, etc, runner, n, True) for n in range(count)]
            bare = [_one_vm(python, limits, work, etc, runner, n, False) for n in range(count)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    host = [_host_start(python) for _n in range(count)]
    return {**_phases(runs, bare), "host_python_start_ms": summary(host)}


def _runner_dir(work: str) -> str:
    """The setup's runner folder: the real recorder, and a runner that prints the time."""
    folder = os.path.join(work, "runner")
    os.makedirs(folder)
    shutil.copy(UTILS / "_vm_recorder.py", os.path.join(folder, "vm_recorder.py"))
    with open(os.path.join(folder, "vm_runner.py"), "w", encoding="utf-8") as handle:
        handle.write(STAMP + "\n")
    return folder


def _host_start(python: dict) -> float:
    """Milliseconds from spawning the runner's interpreter on the host to its first line."""
    t0 = time.time_ns()
    argv = [python["executable"], "-I", "-S", "-c", STAMP]
    out = subprocess.run(argv, capture_output=True, check=True)
    return _ms(int(out.stdout.split()[0]), t0)


def _one_vm(python, limits, work: str, etc: str, runner: str, n: int, install: bool) -> dict:
    vm_mod, capture_mod, cgroup = (module_utils(m) for m in ("_vm", "_capture", "_cgroup"))
    kind = cgroup.layout()
    binds = [(python["prefix"], python["prefix"]), (runner, "/setup/runner")]
    name = f"bench-{'install' if install else 'true'}-{n}"
    vm = vm_mod.NamespaceVM(name, f"{work}/{name}", UID_BASE, binds, limits)
    output = capture_mod.Capture(4096, 4096)

    t0 = time.time_ns()
    vm.create({"python": python["executable"]}, etc, (kind, f"pyti-{UID_BASE}") if kind else None)
    t_created = time.time_ns()
    if install:
        execution = vm.run("install", python["executable"], TIMEOUT_S, TIMEOUT_S, output)
    else:
        execution = vm.run_command(["/bin/true"], TIMEOUT_S, TIMEOUT_S, output)
    t_ran = time.time_ns()
    vm.destroy()
    t_gone = time.time_ns()

    if execution.rc != 0:
        raise RuntimeError(f"{name}: rc {execution.rc}: {output.data()!r}")
    stamps = [int(word) for word in output.data().split() if word.isdigit()]
    return {
        "t0": t0,
        "created": t_created,
        "started": stamps[0] if install else None,
        "ran": t_ran,
        "gone": t_gone,
    }


def _ms(later: int, earlier: int) -> float:
    return (later - earlier) / 1e6


def _phases(runs: list[dict], bare: list[dict]) -> dict:
    """Each phase's median and p95 in milliseconds."""
    return {
        "count": len(runs),
        "create_ms": summary([_ms(r["created"], r["t0"]) for r in runs]),
        "to_runner_started_ms": summary([_ms(r["started"], r["t0"]) for r in runs]),
        "created_to_runner_started_ms": summary([_ms(r["started"], r["created"]) for r in runs]),
        "runner_exit_to_run_return_ms": summary([_ms(r["ran"], r["started"]) for r in runs]),
        "destroy_ms": summary([_ms(r["gone"], r["ran"]) for r in runs]),
        "to_gone_ms": summary([_ms(r["gone"], r["t0"]) for r in runs]),
        "bin_true_run_ms": summary([_ms(r["ran"], r["created"]) for r in bare]),
        "bin_true_to_gone_ms": summary([_ms(r["gone"], r["t0"]) for r in bare]),
    }
