"""A slave that fails mid-run loses no work: its jobs run again on the slave that is left."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from conftest import load_report, run_playbook
from fixtures.sdists import standard_corpus

VERDICTS = {
    "pyti-fx-pass": "passed",
    "pyti-fx-fail": "failed",
    "pyti-fx-notests": "passed",
    "pyti-fx-nobuild": "failed",
}


def local_slave(work_dir, uid_base: int) -> dict:
    return {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "pyti_work_dir": str(work_dir),
        "pyti_uid_base": uid_base,
        "pyti_capacity": 1,
    }


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
    inventory = tmp_path / "hosts.yml"
    hosts = {
        "slave-full": local_slave(full_disk / "work", 995000),
        "slave-ok": local_slave(tmp_path / "slave-ok", 990000),
    }
    inventory.write_text(yaml.safe_dump({"slaves": {"hosts": hosts}}))
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
