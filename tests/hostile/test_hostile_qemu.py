"""A hostile subset in qemu guests: each case must cost only its own result.

A write to the setup share, a results disk filled past its size, a task that never ends,
a fork bomb, a memory hog and a daemon left behind run in one play with the qemu driver,
beside a well-behaved distribution.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import load_report, processes_mentioning, run_playbook
from fixtures.hostile import CASES, RESULTS_FILL, build
from fixtures.sdists import standard_corpus

pytestmark = pytest.mark.qemu_hostile
MiB = 1 << 20
# Wider than the namespace suite's: Python in a TCG guest is several times slower.
LIMITS = {
    "task_timeout": 60,
    "no_output_timeout": 120,
    "memory_bytes": 384 * MiB,
    "processes": 64,
    "results_bytes": 2 * MiB,
}
UID_BASE = 995000
CHOSEN = ("hx-setupwrite", "hx-loop", "hx-forkbomb", "hx-memhog", "hx-daemon")
QEMU_CASES = [c for c in CASES if c.name in CHOSEN] + [RESULTS_FILL]
EXPECTED = {
    "hx-setupwrite": ("passed", None),
    "hx-loop": ("timeout", "import: limit: task timeout (60 s)"),
    "hx-forkbomb": ("timeout", "test: limit: processes (64); limit: task timeout (60 s)"),
    "hx-resultsfill": ("passed", None),
    "hx-daemon": ("passed", None),
    # pytest's last words before the kill vary; the cause is exact.
    "hx-memhog": ("error", "test: limit: memory (384 MiB); killed by signal 9"),
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, cache_dir):
    tmp = tmp_path_factory.mktemp("hostile-qemu")
    sdists = build(tmp / "sdists", {}, QEMU_CASES)
    good = standard_corpus(tmp / "good")
    work = tmp / "slave"
    proc = run_playbook(
        {
            "pyti_distributions": [str(good["passing"])] + [str(p) for p in sdists.values()],
            "pyti_driver": "qemu",
            "pyti_report_dir": str(tmp / "reports"),
            "pyti_cache_dir": str(cache_dir),
            "pyti_work_dir": str(work),
            "pyti_limits": LIMITS,
            "pyti_uid_base": UID_BASE,
        },
        tmp,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    setup = work / "setup"
    return {
        "report": load_report(tmp / "reports"),
        "dir": tmp / "reports" / "latest",
        "work": work,
        "setup_files": sorted(str(p.relative_to(setup)) for p in setup.rglob("*") if p.is_file()),
    }


def result_of(hostile, name: str) -> dict:
    return next(r for r in hostile["report"]["results"] if r["distribution"] == name)


def leftover_groups(run_id: str) -> list[str]:
    """Cgroups of this run's VMs that still exist: a group with a process cannot be removed."""
    found = []
    for parent in Path("/sys/fs/cgroup").glob(f"**/pyti-{UID_BASE}"):
        found += [p.name for p in parent.iterdir() if p.is_dir() and p.name.startswith(run_id)]
    return found


def slave_clean(hostile) -> bool:
    work = hostile["work"]
    return (
        not processes_mentioning(str(work))
        and not leftover_groups(hostile["report"]["run"]["id"])
        and not os.listdir(work / "vms")
        and not os.listdir(work / "runs")
        and str(work) not in Path("/proc/self/mounts").read_text()
    )


@pytest.mark.parametrize("name", list(EXPECTED))
def test_case_gets_its_verdict_and_is_contained(hostile, name):
    result = result_of(hostile, name)
    status, reason = EXPECTED[name]
    if name == "hx-memhog":
        assert (result["status"], result["reason"][: len(reason)]) == (status, reason)
    else:
        assert (result["status"], result["reason"]) == (status, reason)
    assert result["failure_kind"] in (None, "task")
    assert slave_clean(hostile)


def test_setup_share_is_read_only(hostile):
    result = result_of(hostile, "hx-setupwrite")
    assert result["tasks"][2]["tests"] == {"passed": 7, "failed": 0, "errors": 0, "skipped": 0}
    assert not [f for f in hostile["setup_files"] if f.endswith("/x") or f == "runner/x"]


def test_results_disk_filled_past_its_size(hostile):
    result = result_of(hostile, "hx-resultsfill")
    assert result["tasks"][2]["tests"] == {"passed": 1, "failed": 0, "errors": 0, "skipped": 0}
    rejected = {r["path"]: r["reason"] for r in result["rejected"]}
    assert rejected["big0"] == "limit: results bytes (2097152)"
    assert rejected["results.img"].startswith("results disk cut short")
    vm = hostile["dir"] / "raw" / result["raw_dir"] / "vm"
    assert sorted(os.listdir(vm)) == ["junit.xml"]


def test_well_behaved_distribution_is_untouched(hostile):
    passing = result_of(hostile, "pyti-fx-pass")
    assert (passing["status"], passing["tasks"][2]["tests"]) == (
        "passed",
        {"passed": 2, "failed": 0, "errors": 0, "skipped": 0},
    )
