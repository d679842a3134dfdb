"""The main job, run for real on sdists that the test builds: exact statuses and counts."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ROOT, load_report, run_playbook
from fixtures.sdists import standard_corpus


@pytest.fixture(scope="module")
def run(tmp_path_factory, cache_dir):
    tmp = tmp_path_factory.mktemp("run")
    corpus = standard_corpus(tmp / "sdists")
    garbage = tmp / "garbage" / "notadist-1.0.tar.gz"
    garbage.parent.mkdir()
    garbage.write_bytes(b"this is not an archive")
    work_dir = tmp / "slave"
    distributions = [str(p) for p in corpus.values()] + [str(garbage), MISSING_FROM_INDEX]
    proc = run_playbook(
        {
            "pyti_distributions": distributions,
            "pyti_report_dir": str(tmp / "reports"),
            "pyti_cache_dir": str(cache_dir),
            "pyti_work_dir": str(work_dir),
        },
        tmp,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return {
        "report": load_report(tmp / "reports"),
        "dir": tmp / "reports" / "latest",
        "stdout": proc.stdout,
        "work_dir": work_dir,
        "distributions": distributions,
    }


MISSING_FROM_INDEX = "pyti-no-such-distribution-zz==1.0"


def by_name(report: dict) -> dict:
    return {r["distribution"]: r for r in report["results"]}


def statuses(result: dict) -> dict:
    return {t["name"]: t["status"] for t in result["tasks"]}


def test_passing_distribution(run):
    result = by_name(run["report"])["pyti-fx-pass"]
    assert result["status"] == "passed"
    assert statuses(result) == {"install": "passed", "import": "passed", "test": "passed"}
    test = result["tasks"][2]
    assert test["tests"] == {"passed": 2, "failed": 0, "errors": 0, "skipped": 0}
    assert result["tasks"][1]["modules"] == ["pyti_fx_pass"]
    # What the VM installed from: the distribution itself, pytest and pytest's own needs.
    wheelhouse = result["wheelhouse"]
    assert wheelhouse["pyti-fx-pass"] == "1.0"
    assert {"pytest", "pluggy", "iniconfig"} <= wheelhouse.keys()


def test_failing_tests(run):
    result = by_name(run["report"])["pyti-fx-fail"]
    assert result["status"] == "failed"
    assert result["failure_kind"] == "task"
    assert statuses(result) == {"install": "passed", "import": "passed", "test": "failed"}
    test = result["tasks"][2]
    assert test["tests"] == {"passed": 1, "failed": 1, "errors": 0, "skipped": 0}
    assert test["reason"] == "1 of 2 tests failed: tests/test_half.py::test_odd"


def test_distribution_without_tests(run):
    result = by_name(run["report"])["pyti-fx-notests"]
    assert result["status"] == "passed"
    assert result["no_tests"] is True
    assert statuses(result) == {"install": "passed", "import": "passed", "test": "skipped"}
    assert result["tasks"][2]["reason"] == "no tests: pytest collected no tests from the sdist"


def test_build_failure(run):
    result = by_name(run["report"])["pyti-fx-nobuild"]
    assert result["status"] == "failed"
    assert statuses(result) == {"install": "failed", "import": "skipped", "test": "skipped"}
    assert result["tasks"][0]["reason"].startswith("build failed: ")
    assert result["wheelhouse"] is None
    assert result["tasks"][1]["reason"] == "install did not pass"


def test_archive_that_is_not_a_distribution(run):
    result = by_name(run["report"])["notadist-1.0.tar.gz"]
    assert result["status"] == "error"
    assert result["failure_kind"] == "setup"
    assert result["reason"] == (
        "install: not a distribution: notadist-1.0.tar.gz: not a readable tar archive"
    )
    assert statuses(result) == {"install": "error", "import": "skipped", "test": "skipped"}


def test_distribution_missing_from_the_index(run):
    # Named by the distribution it asks for, so that a comparison finds it in other runs.
    result = by_name(run["report"])["pyti-no-such-distribution-zz"]
    assert (result["spec"], result["version"]) == (MISSING_FROM_INDEX, None)
    assert result["status"] == "error"
    assert result["failure_kind"] == "setup"
    assert result["reason"].startswith("install: not found on the index: ")
    assert MISSING_FROM_INDEX.split("==")[0] in result["reason"]


def test_summary(run):
    summary = run["report"]["summary"]
    assert summary["results"] == {"passed": 2, "failed": 2, "error": 2, "timeout": 0, "skipped": 0}
    assert summary["tests"] == {"passed": 3, "failed": 1, "errors": 0, "skipped": 0}
    assert summary["no_tests"] == 1


def test_junit_report(run):
    root = ET.parse(run["dir"] / "report.xml").getroot()
    suites = {s.get("name").split(" ")[0].split("==")[0]: s for s in root.iter("testsuite")}
    assert len(suites) == 6
    counts = {
        name: (s.get("tests"), s.get("failures"), s.get("errors"), s.get("skipped"))
        for name, s in suites.items()
    }
    assert counts == {
        "pyti-fx-pass": ("3", "0", "0", "0"),
        "pyti-fx-fail": ("3", "1", "0", "0"),
        "pyti-fx-notests": ("3", "0", "0", "1"),
        "pyti-fx-nobuild": ("3", "1", "0", "2"),
        "notadist-1.0.tar.gz": ("3", "0", "1", "2"),
        "pyti-no-such-distribution-zz": ("3", "0", "1", "2"),
    }


def test_raw_results_fetched_and_slave_clean(run):
    raw = run["dir"] / "raw" / "localhost"
    jobs = sorted(os.listdir(raw))
    assert len(jobs) == 6
    passing = by_name(run["report"])["pyti-fx-pass"]
    assert (run["dir"] / "raw" / passing["raw_dir"] / "vm" / "junit.xml").is_file()
    assert os.listdir(run["work_dir"] / "runs") == []
    assert os.listdir(run["work_dir"] / "vms") == []


def test_config_error_stops_before_any_vm(tmp_path, cache_dir):
    proc = run_playbook(
        {
            "pyti_distributions": ["six==1.16.0"],
            "pyti_tasks": ["install", "tset"],
            "pyti_report_dir": str(tmp_path / "reports"),
            "pyti_work_dir": str(tmp_path / "slave"),
        },
        tmp_path,
    )
    assert proc.returncode != 0
    assert "pyti_tasks: unknown task 'tset' (known: install, import, test)" in proc.stdout
    assert not (tmp_path / "slave").exists()


@pytest.mark.parametrize(
    "variable, value, message",
    [
        (
            "pyti_distributions",
            ["six=1.0"],
            "pyti_distributions: 'six=1.0' is not a valid requirement",
        ),
        ("pyti_pythons", ["3.99"], "pyti_pythons: no slave has '3.99'"),
        ("pyti_driver", "vmware", "pyti_driver: unknown driver 'vmware' (known: namespace, qemu)"),
        ("pyti_limits", {"task_timeout": -1}, "pyti_limits.task_timeout must be an integer >= 1"),
        (
            "pyti_distribution",
            ["idna==3.6"],
            "pyti_distribution is not a PYTI variable: did you mean pyti_distributions?",
        ),
    ],
)
def test_bad_variables_are_named(tmp_path, variable, value, message):
    extra = {
        "pyti_distributions": ["six==1.16.0"],
        "pyti_report_dir": str(tmp_path / "r"),
        "pyti_work_dir": str(tmp_path / "slave"),
        variable: value,
    }
    proc = run_playbook(extra, tmp_path)
    assert proc.returncode != 0
    assert message in proc.stdout
    assert not (tmp_path / "slave").exists()


@pytest.mark.parametrize(
    "plugin_type, name",
    [
        ("module", "slave_info"),
        ("module", "run_config"),
        ("module", "run_replan"),
        ("module", "setup_prepare"),
        ("module", "setup_sync"),
        ("module", "task_run"),
        ("module", "results_fetch"),
        ("callback", "report"),
    ],
)
def test_documentation_renders(plugin_type, name):
    doc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "-t", plugin_type, f"pyti.core.{name}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert doc.returncode == 0, doc.stderr
    assert f"pyti.core.{name}" in doc.stdout
    assert "ERROR" not in doc.stderr


def test_second_run_downloads_and_copies_nothing(run, tmp_path, cache_dir):
    extra = {
        "pyti_distributions": run["distributions"],
        "pyti_report_dir": str(tmp_path / "reports"),
        "pyti_cache_dir": str(cache_dir),
        "pyti_work_dir": str(run["work_dir"]),
    }
    proc = run_playbook(extra, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    after_sync = proc.stdout.split("TASK [Copy the setup to the slave]")[1].split("TASK [")[0]
    assert "ok: [localhost]" in after_sync
    after_prepare = proc.stdout.split("TASK [Prepare archives and wheelhouses]")[1]
    assert "ok: [localhost]" in after_prepare.split("TASK [")[0]
    second = load_report(tmp_path / "reports")
    assert by_name(second).keys() == by_name(run["report"]).keys()
    assert {n: r["status"] for n, r in by_name(second).items()} == {
        n: r["status"] for n, r in by_name(run["report"]).items()
    }


def test_live_progress_is_shown(run):
    lines = [ln for ln in run["stdout"].splitlines() if ln.startswith("PYTI ") and "VMs done" in ln]
    assert lines, run["stdout"][-2000:]
    assert lines[-1].startswith("PYTI 6/6 VMs done (2 passed, 2 failed, 2 error); localhost 6/6")
    assert "FAILED - RETRYING" not in run["stdout"]


def test_report_json_validates_against_its_schema(run):
    import json

    import jsonschema

    schema = ROOT / "collections/ansible_collections/pyti/core/meta/report.schema.json"
    report = json.loads((run["dir"] / "report.json").read_text())
    jsonschema.validate(report, json.loads(schema.read_text()))
