"""Distributions that try to forge their verdict: none may turn its failing suite into a pass.

All cases run in one play beside two well-behaved distributions, which must stay verified.
The module prints one line per case: case, status, verified, reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT, load_report, run_playbook
from fixtures.forgers import FORGERS, build
from fixtures.sdists import standard_corpus

SCHEMA = ROOT / "collections/ansible_collections/pyti/core/meta/report.schema.json"
PROBE = re.compile(r"^PYTI-PROBE (.*) (done|denied .*)$", re.MULTILINE)
HEX_KEY = re.compile(rb"[0-9a-f]{64}")


@pytest.fixture(scope="module")
def forged(tmp_path_factory, cache_dir):
    tmp = tmp_path_factory.mktemp("forgers")
    sdists = build(tmp / "sdists")
    good = standard_corpus(tmp / "good")
    proc = run_playbook(
        {
            "pyti_distributions": [str(good["passing"]), str(good["failing"])]
            + [str(p) for p in sdists.values()],
            "pyti_report_dir": str(tmp / "reports"),
            "pyti_cache_dir": str(cache_dir),
            "pyti_work_dir": str(tmp / "slave"),
            "pyti_limits": {"task_timeout": 120, "no_output_timeout": 60},
        },
        tmp,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-3000:]
    report = load_report(tmp / "reports")
    return {"report": report, "dir": tmp / "reports" / "latest"}


def result_of(forged, name: str) -> dict:
    return next(r for r in forged["report"]["results"] if r["distribution"] == name)


def raw_dir(forged, name: str) -> Path:
    return forged["dir"] / "raw" / result_of(forged, name)["raw_dir"]


def probes(forged, name: str) -> dict[str, str]:
    """What each probe of the case's import-time code and tests reached."""
    return dict(PROBE.findall((raw_dir(forged, name) / "vm" / "probes.txt").read_text()))


@pytest.mark.parametrize("case", FORGERS, ids=lambda c: c.name)
def test_forger_gets_a_non_passing_explained_verdict(forged, case):
    result = result_of(forged, case.name)
    assert (result["status"], result["failure_kind"]) == (case.status, "task")
    assert result["reason"] == f"test: {case.reason}"
    assert result["verified"] is case.verified
    assert result["tasks"][2]["verified"] is case.verified


def test_well_behaved_distributions_stay_verified(forged):
    passing, failing = result_of(forged, "pyti-fx-pass"), result_of(forged, "pyti-fx-fail")
    assert (passing["status"], passing["verified"]) == ("passed", True)
    assert (failing["status"], failing["verified"]) == ("failed", True)
    assert all(task["verified"] for task in passing["tasks"])
    assert forged["report"]["summary"]["unverified"] == 2


def test_records_cannot_be_reached(forged):
    lines = (raw_dir(forged, "hv-tamper") / "vm" / "probes.txt").read_text().splitlines()
    touching = [line for line in lines if "/records" in line]
    # Nine attempts from import-time code in the import task, in the test task's
    # collection and in a test.
    assert len(touching) == 27
    assert all(" denied " in line for line in touching), touching


def test_events_from_other_processes_are_refused(forged):
    record = json.loads((raw_dir(forged, "hv-tamper") / "records" / "test.json").read_text())
    assert record["foreign_events"] >= 11
    assert record["pytest"]["counts"] == {"passed": 2, "failed": 1, "errors": 0, "skipped": 0}


def test_the_recorder_cannot_be_killed(forged):
    seen = probes(forged, "hv-tamper")
    assert seen["kill parent"] == "denied Operation not permitted"
    assert seen["kill pid 1"] == "denied Operation not permitted"


def test_the_key_is_out_of_reach(forged):
    text = (raw_dir(forged, "hv-snoop") / "vm" / "probes.txt").read_text()
    seen = probes(forged, "hv-snoop")
    root_views = [line for line in text.splitlines() if " uid=0 " in line]
    # The environ, memory and fds of the sandbox's init and of the recorder, from
    # import-time code in the import task, in the test task's collection and in a test.
    assert len(root_views) == 18, text
    assert all(" denied " in line for line in root_views), root_views
    env = next(w for w in seen if w.startswith("env "))
    assert not re.search(r"KEY|SECRET|TOKEN|PYTI_EVENTS", env)
    assert not any(w.startswith("read /records") for w in seen)
    assert not HEX_KEY.search(text.encode())


def test_reports_stay_valid(forged):
    report = json.loads((forged["dir"] / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    page = (forged["dir"] / "report.html").read_text()
    assert page.count("(results not trusted)") == 2


def test_figures(forged, capsys):
    with capsys.disabled():
        print("\ncase, status, verified, reason")
        for case in FORGERS:
            result = result_of(forged, case.name)
            print(f"{case.name}, {result['status']}, {result['verified']}, {result['reason']}")
