"""A controller that dies or is stopped mid-run: a clean slave, a partial report, a next run."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import SLOW_TEST, Controller, load_report, run_playbook, wait_for
from fixtures.sdists import make_sdist, standard_corpus


def run_groups(work: Path) -> list[Path]:
    runs = [p.name for p in (work / "vms").glob("*") if p.is_dir() and not p.name.endswith(".etc")]
    groups = Path("/sys/fs/cgroup").glob("**/pyti-990000/*")
    return [g for g in groups if any(g.name.startswith(r) for r in runs)]


def slow_sdist(folder: Path) -> Path:
    return make_sdist(
        folder, "hx-slow", {"hx_slow/__init__.py": "", "tests/test_slow.py": SLOW_TEST}
    )


def test_killed_controller_leaves_a_clean_slave(tmp_path, cache_dir):
    work = tmp_path / "slave"
    controller = Controller(
        {
            "pyti_distributions": [str(slow_sdist(tmp_path / "sdists"))],
            "pyti_report_dir": str(tmp_path / "r1"),
            "pyti_cache_dir": str(cache_dir),
            "pyti_work_dir": str(work),
            "pyti_heartbeat_timeout": 8,
        },
        tmp_path,
    )
    try:
        assert wait_for(lambda: list(work.glob("vms/*/j0001/scratch/home")), 300)
        assert wait_for(lambda: run_groups(work), 30)
        time.sleep(2)
    finally:
        controller.kill()

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
    good = standard_corpus(tmp_path / "good")["passing"]
    work, reports = tmp_path / "slave", tmp_path / "reports"
    controller = Controller(
        {
            "pyti_distributions": [str(good), str(slow_sdist(tmp_path / "sdists"))],
            "pyti_report_dir": str(reports),
            "pyti_cache_dir": str(cache_dir),
            "pyti_work_dir": str(work),
            "pyti_capacity": 2,
            "pyti_heartbeat_timeout": 8,
        },
        tmp_path,
    )
    try:
        assert wait_for(lambda: len(list((reports / "store").glob("*.json"))) == 1, 300)
        time.sleep(3)  # one more poll, so that the passing result reached the controller
        controller.interrupt()
    finally:
        controller.kill()

    report = load_report(reports)
    assert report["run"]["interrupted"] is True
    verdicts = {r["distribution"]: (r["status"], r["reason"]) for r in report["results"]}
    assert verdicts["pyti-fx-pass"] == ("passed", None)
    assert verdicts["hx_slow-1.0.tar.gz"] == (
        "error",
        "infra: the run was interrupted before this job finished",
    )
    assert wait_for(lambda: not any((work / "vms").iterdir()), 60)
