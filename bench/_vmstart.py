"""How long a namespace VM takes from "create" to "runner started" to "gone".

A task starts the way the product starts it: the recorder's interpreter as the sandbox's
root (python -I -S), which starts the runner's interpreter as the VM's uid through
setpriv. Each prints the time it started.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time

from _common import UID_BASE, log, module_utils, summary

STAMP = "import time; print(time.time_ns(), flush=True)"
RECORDER_STAMP = (
    "import subprocess, sys, time; print(time.time_ns(), flush=True); "
    "sys.exit(subprocess.call(['setpriv', '--reuid={uid}', '--regid={uid}', '--clear-groups', "
    "'--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--', sys.executable, "
    "'-c', {stamp!r}]))"
)
TIMEOUT_S = 60


def measure(python: dict, count: int) -> dict:
    """COUNT VMs that run the interpreter, COUNT that run /bin/true; phases in ms."""
    sandbox, limits = module_utils("_sandbox"), module_utils("_limits").defaults()
    work = tempfile.mkdtemp(prefix="pyti-bench-vm-")
    log(f"sandbox start: {count} VMs with {python['executable']}, {count} with /bin/true")
    try:
        with sandbox.lock_uids(UID_BASE, "vms", timeout=3600):
            etc = f"{work}/etc"
            sandbox.write_vm_etc(etc, [UID_BASE])
            runs = [_one_vm(python, limits, work, etc, n, True) for n in range(count)]
            bare = [_one_vm(python, limits, work, etc, n, False) for n in range(count)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    host = [_host_start(python) for _n in range(count)]
    return {**_phases(runs, bare), "host_python_start_ms": summary(host)}


def _host_start(python: dict) -> float:
    """Milliseconds from spawning the interpreter on the host, outside any VM, to its first line."""
    t0 = time.time_ns()
    out = subprocess.run([python["executable"], "-c", STAMP], capture_output=True, check=True)
    return _ms(int(out.stdout.split()[0]), t0)


def _one_vm(python: dict, limits: dict, work: str, etc: str, n: int, interp: bool) -> dict:
    vm_mod, capture_mod, cgroup = (module_utils(m) for m in ("_vm", "_capture", "_cgroup"))
    kind = cgroup.layout()
    binds = [(python["prefix"], python["prefix"])]
    name = f"bench-{'py' if interp else 'true'}-{n}"
    vm = vm_mod.NamespaceVM(name, f"{work}/{name}", UID_BASE, binds, limits)
    recorder = RECORDER_STAMP.format(uid=UID_BASE, stamp=STAMP)
    command = [python["executable"], "-I", "-S", "-c", recorder] if interp else ["/bin/true"]
    output = capture_mod.Capture(4096, 4096)

    t0 = time.time_ns()
    vm.create({}, etc, (kind, f"pyti-{UID_BASE}") if kind else None)
    t_created = time.time_ns()
    execution = vm.run_command(command, TIMEOUT_S, TIMEOUT_S, output)
    t_ran = time.time_ns()
    vm.destroy()
    t_gone = time.time_ns()

    if execution.rc != 0:
        raise RuntimeError(f"{name}: rc {execution.rc}: {output.data()!r}")
    stamps = [int(word) for word in output.data().split()] if interp else [None, None]
    return {
        "t0": t0,
        "created": t_created,
        "recorder": stamps[0],
        "started": stamps[1],
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
        "to_recorder_started_ms": summary([_ms(r["recorder"], r["t0"]) for r in runs]),
        "to_runner_started_ms": summary([_ms(r["started"], r["t0"]) for r in runs]),
        "created_to_runner_started_ms": summary([_ms(r["started"], r["created"]) for r in runs]),
        "runner_exit_to_run_return_ms": summary([_ms(r["ran"], r["started"]) for r in runs]),
        "destroy_ms": summary([_ms(r["gone"], r["ran"]) for r in runs]),
        "to_gone_ms": summary([_ms(r["gone"], r["t0"]) for r in runs]),
        "bin_true_run_ms": summary([_ms(r["ran"], r["created"]) for r in bare]),
        "bin_true_to_gone_ms": summary([_ms(r["gone"], r["t0"]) for r in bare]),
    }
