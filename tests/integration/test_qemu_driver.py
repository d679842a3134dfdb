"""The main job with the qemu driver, beside the namespace driver on the same small corpus.

Each driver runs one passing and one failing distribution; the qemu run must give the same
statuses, reasons and test counts, and say how its guests ran.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, load_report, processes_mentioning, run_playbook
from fixtures.sdists import standard_corpus

# The probe is tested through the collection's own code, as the unit tests import it.
if str(ROOT / "collections") not in sys.path:
    sys.path.insert(0, str(ROOT / "collections"))
from ansible_collections.pyti.core.plugins.module_utils import _qemu, _qemu_image  # noqa: E402

SCHEMA = ROOT / "collections/ansible_collections/pyti/core/meta/report.schema.json"
# Under TCG a guest runs Python several times slower than the host.
LIMITS = {"task_timeout": 300, "memory_bytes": 512 << 20}
UID_BASE = 996000


def run_driver(driver: str, tmp: Path, corpus: dict, cache_dir: Path) -> dict:
    work = tmp / driver / "slave"
    proc = run_playbook(
        {
            "pyti_distributions": [str(corpus["passing"]), str(corpus["failing"])],
            "pyti_driver": driver,
            "pyti_limits": LIMITS,
            "pyti_report_dir": str(tmp / driver / "reports"),
            "pyti_cache_dir": str(cache_dir),
            "pyti_work_dir": str(work),
            "pyti_uid_base": UID_BASE,
        },
        tmp / driver,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return {
        "report": load_report(tmp / driver / "reports"),
        "dir": tmp / driver / "reports" / "latest",
        "work": work,
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cache_dir):
    tmp = tmp_path_factory.mktemp("drivers")
    corpus = standard_corpus(tmp / "sdists")
    (tmp / "namespace").mkdir()
    (tmp / "qemu").mkdir()
    return {driver: run_driver(driver, tmp, corpus, cache_dir) for driver in ("namespace", "qemu")}


def verdicts(report: dict) -> dict:
    """Per distribution and task: status, reason, failure kind and test counts."""
    return {
        (result["distribution"], task["name"]): (
            task["status"],
            task["reason"],
            task["failure_kind"],
            task["tests"],
            task.get("modules"),
        )
        for result in report["results"]
        for task in result["tasks"]
    }


def by_name(report: dict) -> dict:
    return {r["distribution"]: r for r in report["results"]}


def test_same_verdicts_as_the_namespace_driver(runs):
    assert verdicts(runs["qemu"]["report"]) == verdicts(runs["namespace"]["report"])


def test_exact_verdicts(runs):
    results = by_name(runs["qemu"]["report"])
    passing, failing = results["pyti-fx-pass"], results["pyti-fx-fail"]
    assert (passing["status"], passing["reason"]) == ("passed", None)
    assert passing["tasks"][2]["tests"] == {"passed": 2, "failed": 0, "errors": 0, "skipped": 0}
    assert (failing["status"], failing["failure_kind"]) == ("failed", "task")
    assert failing["reason"] == "test: 1 of 2 tests failed: tests/test_half.py::test_odd"
    assert failing["tasks"][2]["tests"] == {"passed": 1, "failed": 1, "errors": 0, "skipped": 0}


def test_report_names_driver_acceleration_kernel_and_boot(runs):
    report = runs["qemu"]["report"]
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    assert report["run"]["driver"] == "qemu"
    images = Path("/var/cache/pyti/qemu").glob("*/image.json")
    newest = max(images, key=lambda p: p.stat().st_mtime)
    image = json.loads(newest.read_text())
    for result in report["results"]:
        guest = result["guest"]
        assert result["driver"] == "qemu"
        assert guest["accel"] in ("kvm", "tcg")
        assert guest["accel_reason"]
        assert guest["kernel"] == image["kernel_release"]
        assert guest["image"] == newest.parent.name
        assert 0 < guest["boot_s"] < 120
    page = (runs["qemu"]["dir"] / "report.html").read_text()
    assert f"<dt>Guest kernel</dt><dd>{image['kernel_release']}</dd>" in page
    for result in runs["namespace"]["report"]["results"]:
        assert result["guest"] is None


def test_task_logs_and_console_log_are_kept(runs):
    run_dir = runs["qemu"]["dir"]
    for result in runs["qemu"]["report"]["results"]:
        raw = run_dir / "raw" / result["raw_dir"]
        names = sorted(os.listdir(raw))
        assert names == ["console.log", "import.log", "install.log", "records", "test.log", "vm"]
        assert result["verified"] is True
        console = (raw / "console.log").read_text(errors="replace")
        assert "pyti-guest: task test rc " in console
        assert sorted(os.listdir(raw / "vm")) == ["junit.xml"]


def test_nothing_of_the_guests_survives(runs):
    work = runs["qemu"]["work"]
    assert os.listdir(work / "vms") == []
    assert os.listdir(work / "runs") == []
    for driver in ("namespace", "qemu"):
        assert processes_mentioning(str(runs[driver]["work"])) == []


@pytest.mark.parametrize("cpu", ["host", "qemu64"])
def test_kvm_probe_is_bounded(cpu):
    """Whatever KVM does on this host (boot, abort, hang), the probe ends in time, leaving
    nothing behind; some hosts hang with one CPU model and abort with another."""
    image = _qemu_image.ensure("/var/cache/pyti/qemu")
    started = time.monotonic()
    accel = _qemu.probe_kvm(image, UID_BASE + 7, timeout=10, cpu=cpu)
    assert time.monotonic() - started < 10 + 10
    assert processes_mentioning("pyti.probe", uid=UID_BASE + 7) == []
    if accel.name == "kvm":
        assert accel.reason.startswith("KVM probe booted in ")
    else:
        assert accel.name == "tcg"
        assert accel.reason.startswith(
            ("KVM probe: the guest did not boot within 10 s", "KVM probe: qemu exited ")
        )
