"""Resuming an interrupted run and re-running only what failed, through the result store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from conftest import ROOT, load_report, run_playbook
from fixtures.sdists import make_sdist, standard_corpus

SLOW_TEST = """\
import time


def test_slow():
    for _ in range(600):
        print("working", flush=True)
        time.sleep(1)
"""


def reused_from(report: dict) -> dict:
    return {r["distribution"]: r["reused_from"] for r in report["results"]}


def kill_controller(controller: subprocess.Popen, vars_file: Path) -> None:
    """Kill the controller and its workers, which Ansible puts in sessions of their own."""
    os.killpg(controller.pid, signal.SIGKILL)
    controller.wait()
    subprocess.run(["pkill", "-KILL", "-f", str(vars_file)], check=False)


def start_controller(run_vars: dict, tmp: Path) -> subprocess.Popen:
    (tmp / "bg.yml").write_text(yaml.safe_dump(run_vars))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "playbooks/run_tests.yml",
            "-e",
            f"@{tmp / 'bg.yml'}",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_interrupted_run_resumes_and_rerun_runs_only_failures(tmp_path, cache_dir):
    corpus = standard_corpus(tmp_path / "sdists")
    slow = make_sdist(
        tmp_path / "sdists", "hx-slow", {"hx_slow/__init__.py": "", "tests/test_slow.py": SLOW_TEST}
    )
    reports = tmp_path / "reports"
    base = {
        "pyti_report_dir": str(reports),
        "pyti_cache_dir": str(cache_dir),
        "pyti_work_dir": str(tmp_path / "slave"),
        "pyti_capacity": 1,
    }
    dists = [str(corpus["passing"]), str(corpus["failing"]), str(slow)]

    # A run dies after it finished two distributions and while the third still runs.
    controller = start_controller(
        {**base, "pyti_distributions": dists, "pyti_heartbeat_timeout": 8}, tmp_path
    )
    try:
        store = reports / "store"
        deadline = time.monotonic() + 300
        while len(list(store.glob("*.json"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(list(store.glob("*.json"))) == 2
    finally:
        kill_controller(controller, tmp_path / "bg.yml")
    assert not (reports / "latest").exists()

    # Resuming runs only the third; the two finished results come from the store.
    proc = run_playbook(
        {
            **base,
            "pyti_distributions": dists,
            "pyti_resume": True,
            "pyti_limits": {"task_timeout": 15},
        },
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    resumed = load_report(reports)
    origin = reused_from(resumed)
    assert origin["hx-slow"] is None
    assert origin["pyti-fx-pass"] == origin["pyti-fx-fail"] is not None
    assert {r["distribution"]: r["status"] for r in resumed["results"]} == {
        "pyti-fx-pass": "passed",
        "pyti-fx-fail": "failed",
        "hx-slow": "timeout",
    }
    assert "PYTI 1/1 VMs done" in proc.stdout

    # A rerun of the failures runs the failed and the timed-out one, and reuses the pass.
    proc = run_playbook(
        {
            **base,
            "pyti_distributions": dists,
            "pyti_rerun": "failed",
            "pyti_limits": {"task_timeout": 15},
        },
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    rerun = load_report(reports)
    assert reused_from(rerun) == {
        "pyti-fx-pass": origin["pyti-fx-pass"],
        "pyti-fx-fail": None,
        "hx-slow": None,
    }
    assert "PYTI 2/2 VMs done" in proc.stdout


def test_bad_rerun_values_are_named(tmp_path):
    base = {
        "pyti_distributions": ["six==1.16.0"],
        "pyti_report_dir": str(tmp_path / "r"),
        "pyti_work_dir": str(tmp_path / "slave"),
    }
    proc = run_playbook({**base, "pyti_rerun": "everything"}, tmp_path)
    assert "pyti_rerun: unknown value 'everything' (known: failed)" in proc.stdout
    proc = run_playbook({**base, "pyti_rerun": "failed", "pyti_rerun_of": "nope"}, tmp_path)
    assert "pyti_rerun_of: no readable report at " in proc.stdout
    assert not (tmp_path / "slave").exists()
