"""The hostile corpus: each case attacks the slave from a VM; each must cost only its result.

All cases run in one play beside two well-behaved distributions, with tight limits so that
the suite stays fast. The module prints one line per case: case, status, reason, contained.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, load_report, run_playbook
from fixtures.hostile import CASES, build
from fixtures.sdists import standard_corpus

MiB = 1 << 20
LIMITS = {
    "task_timeout": 30,
    "no_output_timeout": 12,
    "memory_bytes": 256 * MiB,
    "processes": 64,
    "scratch_bytes": 160 * MiB,
    "scratch_inodes": 20000,
}
PREPARE_UIDS = range(991000, 991100)
ROOT_CANARY = Path("/root/.pyti-build-was-here")
SCHEMA = ROOT / "collections/ansible_collections/pyti/core/meta/report.schema.json"


class Listener:
    """A TCP port on the slave's loopback that no VM may reach."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.accepted = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def leftover_groups(run_id: str) -> list[str]:
    """Cgroups of this run's VMs that still exist: a group with a process cannot be removed."""
    found = []
    for parent in Path("/sys/fs/cgroup").glob("**/pyti-990000"):
        found += [p.name for p in parent.iterdir() if p.is_dir() and p.name.startswith(run_id)]
    return found


def build_daemons() -> list[str]:
    """Processes of the prepare sandboxes' uids that a build script left behind."""
    lines = subprocess.run(
        ["ps", "-e", "-o", "uid=,args="], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return [ln for ln in lines if int(ln.split()[0]) in PREPARE_UIDS]


def digest_tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, cache_dir):
    tmp = tmp_path_factory.mktemp("hostile")
    canaries = tmp / "canary"
    canaries.mkdir()
    (canaries / "keep.txt").write_text("the slave's own file\n")
    before_canaries = digest_tree(canaries)
    assert not ROOT_CANARY.exists()
    listener = Listener()
    try:
        sdists = build(
            tmp / "sdists",
            {
                "@PORT@": str(listener.port),
                "@INVENTORY@": str(ROOT / "inventories"),
                "@CANARY_DIR@": str(canaries),
            },
        )
        good = standard_corpus(tmp / "good")
        work = tmp / "slave"
        proc = run_playbook(
            {
                "pyti_distributions": [str(good["passing"]), str(good["failing"])]
                + [str(p) for p in sdists.values()],
                "pyti_report_dir": str(tmp / "reports"),
                "pyti_cache_dir": str(cache_dir),
                "pyti_work_dir": str(work),
                "pyti_limits": LIMITS,
            },
            tmp,
        )
    finally:
        listener.close()
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    report = load_report(tmp / "reports")
    return {
        "report": report,
        "left_groups": leftover_groups(report["run"]["id"]),
        "build_daemons": build_daemons(),
        "dir": tmp / "reports" / "latest",
        "work": work,
        "connections": listener.accepted,
        "canaries_changed": digest_tree(canaries) != before_canaries,
    }


def result_of(hostile, name: str) -> dict:
    return next(r for r in hostile["report"]["results"] if r["distribution"] == name)


def slave_clean(hostile) -> bool:
    work = hostile["work"]
    mounts = Path("/proc/self/mounts").read_text()
    return (
        not hostile["left_groups"]
        and not hostile["build_daemons"]
        and str(work) not in mounts
        and not any((work / "vms").iterdir())
        and not any((work / "runs").iterdir())
        and not hostile["canaries_changed"]
        and not ROOT_CANARY.exists()
    )


def contained(hostile, case) -> bool:
    if not slave_clean(hostile):
        return False
    if case.name == "hx-network":
        return hostile["connections"] == 0
    if case.name == "hx-results":
        return len(result_of(hostile, case.name)["rejected"]) == 4
    return True


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_gets_its_verdict_and_is_contained(hostile, case):
    result = result_of(hostile, case.name)
    assert result["status"] == case.status, result["reason"]
    if case.reason:
        assert case.reason in result["reason"]
    assert result["failure_kind"] in (None, "task")
    assert contained(hostile, case)


def test_well_behaved_distributions_are_untouched(hostile):
    passing = result_of(hostile, "pyti-fx-pass")
    failing = result_of(hostile, "pyti-fx-fail")
    assert (passing["status"], passing["tasks"][2]["tests"]) == (
        "passed",
        {"passed": 2, "failed": 0, "errors": 0, "skipped": 0},
    )
    assert (failing["status"], failing["tasks"][2]["tests"]) == (
        "failed",
        {"passed": 1, "failed": 1, "errors": 0, "skipped": 0},
    )


def test_rejected_results_are_listed(hostile):
    rejected = {r["path"]: r["reason"] for r in result_of(hostile, "hx-results")["rejected"]}
    assert rejected["shadow.json"] == "not a regular file (symlink)"
    assert rejected["pipe"] == "not a regular file (fifo)"
    assert rejected["..sneaky"] == "name with characters outside [A-Za-z0-9._+-]"
    assert rejected["bad\\nname"] == "name with characters outside [A-Za-z0-9._+-]"


def test_output_flood_is_capped(hostile):
    flooded = result_of(hostile, "hx-flood")["tasks"][1]
    assert flooded["output_bytes"] > 100 * MiB
    log = hostile["dir"] / "raw" / result_of(hostile, "hx-flood")["raw_dir"] / "import.log"
    assert log.stat().st_size < 1.1 * MiB


def test_reports_stay_valid(hostile):
    report = json.loads((hostile["dir"] / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    ET.parse(hostile["dir"] / "report.xml")
    page = (hostile["dir"] / "report.html").read_text()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_figures(hostile, capsys):
    with capsys.disabled():
        print("\ncase, status, reason, contained")
        for case in CASES:
            result = result_of(hostile, case.name)
            verdict = "yes" if contained(hostile, case) else "NO"
            print(f"{case.name}, {result['status']}, {result['reason']}, {verdict}")
