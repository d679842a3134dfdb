"""Run PYTI's main job as a user does, and read back its timings and its report."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
from pathlib import Path

import yaml
from _common import PARALLEL, ROOT, VENV_BIN, Clock, log

PLAYBOOK = "playbooks/run_tests.yml"
SETUP_TASKS = ("Prepare archives and wheelhouses", "Copy the setup to the slave")
WAIT_TASK = "Wait for the VMs"
# The modules that a play runs on its slaves, each call an interpreter started there.
# (results_fetch fetches the archive that the last task_progress packed: no module.)
SLAVE_MODULES = {
    f"pyti.core.{name}" for name in ("slave_info", "setup_sync", "task_run", "task_progress")
}
FLOOR_CALLS = 10


def run(name: str, folder: Path, cache_dir: Path, work_dir: Path, extra: dict) -> dict:
    """One play into FOLDER (its vars, timings and fresh report dir); its wall time and report."""
    folder.mkdir(parents=True)
    run_vars = {
        "pyti_cache_dir": str(cache_dir),
        "pyti_work_dir": str(work_dir),
        "pyti_report_dir": str(folder / "reports"),
        "pyti_capacity": PARALLEL,
        **extra,
    }
    (folder / "run.yml").write_text(yaml.safe_dump(run_vars))
    log(f"playbook {name}: started")
    with Clock() as clock:
        proc = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), PLAYBOOK, "-e", f"@{folder / 'run.yml'}"],
            cwd=ROOT,
            env=_env(folder / "timing.json"),
            capture_output=True,
            text=True,
            check=False,
        )
    (folder / "play.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise RuntimeError(f"playbook {name} failed (rc {proc.returncode}):\n{tail}")
    log(f"playbook {name}: {clock.seconds} s")
    return _outcome(clock.seconds, folder)


def _env(timing_file: Path) -> dict:
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_CALLBACK_PLUGINS": str(Path(__file__).parent / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "pyti.core.report,bench_timing",
        "ANSIBLE_NOCOLOR": "1",
        "BENCH_TIMING_FILE": str(timing_file),
    }


def _outcome(wall_s: float, folder: Path) -> dict:
    tasks = json.loads((folder / "timing.json").read_text())
    report = json.loads((folder / "reports" / "latest" / "report.json").read_text())
    prepare, sync = (_task(tasks, name) for name in SETUP_TASKS)
    return {
        "wall_s": wall_s,
        "tasks": {t["name"]: t.get("duration_s") for t in tasks},
        "setup_s": round(prepare["duration_s"] + sync["duration_s"], 3),
        "prepare_s": prepare["duration_s"],
        "sync_s": sync["duration_s"],
        "downloads": prepare["result"].get("downloads"),
        "prepared": prepare["result"].get("prepared"),
        "synced_files": len(sync["result"].get("copied", [])),
        "in_vm_s": in_vm_seconds(report),
        "jobs_s": round(sum(r.get("duration_s") or 0 for r in report["results"]), 3),
        "results": report["summary"]["results"],
        "jobs": len(report["results"]),
        "batch_s": _task(tasks, WAIT_TASK)["result"].get("duration_s"),
        "slave_calls": sum(t["calls"] for t in tasks if t.get("action") in SLAVE_MODULES),
    }


def floor(folder: Path, repeat: int = 3) -> dict:
    """Ansible's own cost on this machine: ansible-playbook's start and end around an empty
    play, and one call of the lightest module (ping) on the local slave; medians of REPEAT."""
    folder.mkdir(parents=True)
    plays = {}
    for name, calls in (("empty", 0), ("calls", FLOOR_CALLS)):
        task = {"name": "Call a module on the slave", "ansible.builtin.ping": {}}
        play = [{"hosts": "slaves", "gather_facts": False, "tasks": [task] * calls}]
        plays[name] = folder / f"{name}.yml"
        plays[name].write_text(yaml.safe_dump(play))
    walls: dict[str, list[float]] = {"empty": [], "calls": []}
    env = _env(folder / "timing.json")
    for _ in range(repeat):
        for name, path in plays.items():
            with Clock() as clock:
                subprocess.run(
                    [str(VENV_BIN / "ansible-playbook"), str(path)],
                    cwd=ROOT, env=env, capture_output=True, check=True,
                )  # fmt: skip
            walls[name].append(clock.seconds)
    empty, calls = statistics.median(walls["empty"]), statistics.median(walls["calls"])
    return {"play_s": round(empty, 3), "call_s": round((calls - empty) / FLOOR_CALLS, 3)}


def _task(tasks: list[dict], name: str) -> dict:
    return next(t for t in tasks if t["name"] == name)


def in_vm_seconds(report: dict) -> float:
    """The sum of every task's time inside its VM."""
    return round(sum(t["duration_s"] for r in report["results"] for t in r["tasks"]), 3)


def task_seconds(report_dir: Path) -> dict:
    """Seconds spent in each task (install, import, test) over all results."""
    report = json.loads((report_dir / "latest" / "report.json").read_text())
    totals: dict[str, float] = {}
    for result in report["results"]:
        for task in result["tasks"]:
            totals[task["name"]] = round(totals.get(task["name"], 0) + task["duration_s"], 3)
    return totals
