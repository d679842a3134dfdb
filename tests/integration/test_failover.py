"""A slave that fails mid-run loses no work: its jobs run again on the slave that is left."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from conftest import SLOW_TEST, load_report, run_playbook
from fixtures.sdists import make_sdist, standard_corpus

VERDICTS = {
    "pyti-fx-pass": "passed",
    "pyti-fx-fail": "failed",
    "pyti-fx-notests": "passed",
    "pyti-fx-nobuild": "failed",
}


ABANDONED = "infra: the controller stopped following the run, so the slave abandoned it"
# The VM is stopped in whichever task it is in at that moment.
CUT_SHORT = rf"(install|import|test): {re.escape(ABANDONED)}"


def local_slave(work_dir, uid_base: int, **extra) -> dict:
    return {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "pyti_work_dir": str(work_dir),
        "pyti_uid_base": uid_base,
        "pyti_capacity": 1,
        **extra,
    }


def write_inventory(tmp_path, hosts: dict):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"slaves": {"hosts": hosts}}))
    return inventory


def slow_run(tmp_path, cache_dir, hosts: dict) -> tuple:
    """One distribution whose test runs for minutes, over HOSTS; the process and report."""
    slow = make_sdist(
        tmp_path / "sdists", "hx-slow", {"hx_slow/__init__.py": "", "tests/test_slow.py": SLOW_TEST}
    )
    extra = {
        "pyti_distributions": [str(slow)],
        "pyti_report_dir": str(tmp_path / "reports"),
        "pyti_cache_dir": str(cache_dir),
        "pyti_limits": {"task_timeout": 8},
    }
    proc = run_playbook(extra, tmp_path, inventory=write_inventory(tmp_path, hosts))
    return proc, load_report(tmp_path / "reports")


@pytest.fixture
def full_disk(tmp_path):
    """A folder on a tmpfs of 64 KiB: a slave's disk that the setup does not fit on."""
    folder = tmp_path / "full-disk"
    folder.mkdir()
    options = "size=64k,nr_inodes=256,mode=0755"
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "pyti-test", folder], check=True)
    yield folder
    subprocess.run(["umount", "-l", folder], check=False)


def test_jobs_of_a_slave_with_a_full_disk_run_on_the_other(tmp_path, cache_dir, full_disk):
    corpus = standard_corpus(tmp_path / "sdists")
    hosts = {
        "slave-full": local_slave(full_disk / "work", 995000),
        "slave-ok": local_slave(tmp_path / "slave-ok", 990000),
    }
    inventory = write_inventory(tmp_path, hosts)
    reports = tmp_path / "reports"
    extra = {
        "pyti_distributions": [str(path) for path in corpus.values()],
        "pyti_report_dir": str(reports),
        "pyti_cache_dir": str(cache_dir),
    }

    proc = run_playbook(extra, tmp_path, inventory=inventory)
    # The lost slave fails the play's recap, yet every job has its verdict.
    assert proc.returncode == 2, proc.stdout[-3000:]
    assert "PLAY [Run the jobs planned again]" in proc.stdout
    # The progress line adds the second round's VMs to the first's.
    assert "PYTI 4/4 VMs done (2 passed, 2 failed); slave-ok 4/4;" in proc.stdout
    results = load_report(reports)["results"]
    assert {r["distribution"]: r["status"] for r in results} == VERDICTS
    assert len(results) == len(VERDICTS)
    assert {r["slave"] for r in results} == {"slave-ok"}

    moved = [r for r in results if len(r["attempts"]) == 2]
    assert len(moved) == 2
    for result in moved:
        lost, ran = result["attempts"]
        assert (lost["slave"], lost["status"], lost["failure_kind"]) == (
            "slave-full",
            "error",
            "infra",
        )
        assert lost["reason"].startswith(
            "infra: task 'Copy the setup to the slave' failed on slave slave-full: "
        )
        assert "No space left on device" in lost["reason"]
        assert (ran["slave"], ran["status"]) == ("slave-ok", result["status"])
        assert result["raw_dir"] == f"slave-ok/{result['job']}"
        assert (reports / "latest" / "raw" / result["raw_dir"] / "install.log").is_file()

    summary = load_report(reports)["summary"]["by_slave"]
    assert (summary["slave-full"]["attempts"], summary["slave-full"]["infra"]) == (2, 2)
    assert (summary["slave-ok"]["attempts"], summary["slave-ok"]["infra"]) == (4, 0)


# A slave whose batch is not polled for pyti_heartbeat_timeout stops its VMs, as it does
# when its SSH connection to the controller is lost: with 1 s, it stops them at once,
# and the job's result is an infra error although the slave stays healthy.
def test_an_infra_fault_on_a_healthy_slave_runs_again_on_another(tmp_path, cache_dir):
    hosts = {
        "slave-a": local_slave(tmp_path / "a", 995000, pyti_heartbeat_timeout=1),
        "slave-b": local_slave(tmp_path / "b", 990000),
    }
    proc, report = slow_run(tmp_path, cache_dir, hosts)
    assert proc.returncode == 0, proc.stdout[-3000:]
    (result,) = report["results"]
    assert (result["slave"], result["status"], result["failure_kind"]) == (
        "slave-b",
        "timeout",
        "task",
    )
    assert result["reason"] == "test: limit: task timeout (8 s)"
    first, second = result["attempts"]
    assert (first["slave"], first["status"], first["failure_kind"]) == ("slave-a", "error", "infra")
    assert re.fullmatch(CUT_SHORT, first["reason"])
    assert (second["slave"], second["status"], second["reason"]) == (
        "slave-b",
        "timeout",
        "test: limit: task timeout (8 s)",
    )
    assert report["summary"]["infra"] == 0


def test_an_infra_fault_that_repeats_on_the_second_slave_reports_both(tmp_path, cache_dir):
    hosts = {
        "slave-a": local_slave(tmp_path / "a", 995000, pyti_heartbeat_timeout=1),
        "slave-b": local_slave(tmp_path / "b", 990000, pyti_heartbeat_timeout=1),
    }
    proc, report = slow_run(tmp_path, cache_dir, hosts)
    assert proc.returncode == 0, proc.stdout[-3000:]
    (result,) = report["results"]
    assert (result["slave"], result["status"], result["failure_kind"]) == (
        "slave-b",
        "error",
        "infra",
    )
    assert re.fullmatch(rf"{CUT_SHORT} \(earlier, on slave-a: {CUT_SHORT}\)", result["reason"])
    assert [(a["slave"], a["failure_kind"]) for a in result["attempts"]] == [
        ("slave-a", "infra"),
        ("slave-b", "infra"),
    ]
    by_slave = report["summary"]["by_slave"]
    assert [(by_slave[s]["attempts"], by_slave[s]["infra"]) for s in hosts] == [(1, 1), (1, 1)]
