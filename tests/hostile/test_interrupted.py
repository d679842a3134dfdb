"""A controller that dies mid-run leaves nothing running on the slave, and the next run works."""

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
    for _ in range(300):
        print("working", flush=True)
        time.sleep(1)
"""


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def run_groups(work: Path) -> list[Path]:
    runs = [p.name for p in (work / "vms").glob("*") if p.is_dir() and not p.name.endswith(".etc")]
    return [
        g
        for g in Path("/sys/fs/cgroup").glob("**/pyti-990000/*")
        if any(g.name.startswith(r) for r in runs)
    ]


def test_killed_controller_leaves_a_clean_slave(tmp_path, cache_dir):
    slow = make_sdist(
        tmp_path / "sdists", "hx-slow", {"hx_slow/__init__.py": "", "tests/test_slow.py": SLOW_TEST}
    )
    work = tmp_path / "slave"
    run_vars = {
        "pyti_distributions": [str(slow)],
        "pyti_report_dir": str(tmp_path / "r1"),
        "pyti_cache_dir": str(cache_dir),
        "pyti_work_dir": str(work),
        "pyti_heartbeat_timeout": 8,
    }
    (tmp_path / "run.yml").write_text(yaml.safe_dump(run_vars))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    controller = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "playbooks/run_tests.yml",
            "-e",
            f"@{tmp_path / 'run.yml'}",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: list(work.glob("vms/*/j0001/scratch/home")), 300)
        assert wait_for(lambda: run_groups(work), 30)
        time.sleep(2)
    finally:
        # Ansible runs its workers in sessions of their own: kill them all.
        os.killpg(controller.pid, signal.SIGKILL)
        controller.wait()
        subprocess.run(["pkill", "-KILL", "-f", str(tmp_path / "run.yml")], check=False)

    # The slave notices that nobody follows the run and stops it: VMs, mounts, groups.
    assert wait_for(lambda: not any((work / "vms").iterdir()), 60)
    assert run_groups(work) == []
    assert str(work) not in Path("/proc/self/mounts").read_text()

    # The next run on the same slave is not blocked and gives a normal verdict.
    good = standard_corpus(tmp_path / "good")["passing"]
    proc = run_playbook(
        {
            "pyti_distributions": [str(good)],
            "pyti_report_dir": str(tmp_path / "r2"),
            "pyti_cache_dir": str(cache_dir),
            "pyti_work_dir": str(work),
        },
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert [r["status"] for r in load_report(tmp_path / "r2")["results"]] == ["passed"]


def test_ctrl_c_writes_a_partial_report(tmp_path, cache_dir):
    slow = make_sdist(
        tmp_path / "sdists", "hx-slow", {"hx_slow/__init__.py": "", "tests/test_slow.py": SLOW_TEST}
    )
    good = standard_corpus(tmp_path / "good")["passing"]
    work, reports = tmp_path / "slave", tmp_path / "reports"
    run_vars = {
        "pyti_distributions": [str(good), str(slow)],
        "pyti_report_dir": str(reports),
        "pyti_cache_dir": str(cache_dir),
        "pyti_work_dir": str(work),
        "pyti_capacity": 2,
        "pyti_heartbeat_timeout": 8,
    }
    (tmp_path / "run.yml").write_text(yaml.safe_dump(run_vars))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    controller = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "playbooks/run_tests.yml",
            "-e",
            f"@{tmp_path / 'run.yml'}",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: len(list((reports / "store").glob("*.json"))) == 1, 300)
        time.sleep(3)  # one more poll, so that the passing result reached the controller
        os.killpg(controller.pid, signal.SIGINT)
        controller.wait(timeout=60)
    finally:
        if controller.poll() is None:
            os.killpg(controller.pid, signal.SIGKILL)
        subprocess.run(["pkill", "-KILL", "-f", str(tmp_path / "run.yml")], check=False)

    report = load_report(reports)
    assert report["run"]["interrupted"] is True
    verdicts = {r["distribution"]: (r["status"], r["reason"]) for r in report["results"]}
    assert verdicts["pyti-fx-pass"] == ("passed", None)
    assert verdicts["hx_slow-1.0.tar.gz"] == (
        "error",
        "infra: the run was interrupted before this job finished",
    )
    assert wait_for(lambda: not any((work / "vms").iterdir()), 60)
