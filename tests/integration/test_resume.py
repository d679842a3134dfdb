"""Resuming an interrupted run and re-running only what failed, through the result store."""

from __future__ import annotations

from conftest import SLOW_TEST, Controller, load_report, run_playbook, wait_for
from fixtures.sdists import make_sdist, standard_corpus


def reused_from(report: dict) -> dict:
    return {r["distribution"]: r["reused_from"] for r in report["results"]}


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
    controller = Controller(
        {**base, "pyti_distributions": dists, "pyti_heartbeat_timeout": 8}, tmp_path
    )
    try:
        assert wait_for(lambda: len(list((reports / "store").glob("*.json"))) == 2, 300)
    finally:
        controller.kill()
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
    # The first run died before its raw results reached the controller: nothing to link.
    passing = next(r for r in resumed["results"] if r["distribution"] == "pyti-fx-pass")
    assert passing["raw_dir"] is None
    page = (reports / "latest" / "report.html").read_text()
    assert f"(reused from run {origin['pyti-fx-pass']})" in page

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
    broken = tmp_path / "r" / "broken"
    broken.mkdir(parents=True)
    (broken / "report.json").write_text('{"run": {"tasks": 5}, "results": []}')
    proc = run_playbook({**base, "pyti_rerun": "failed", "pyti_rerun_of": "broken"}, tmp_path)
    assert f"pyti_rerun_of: {broken / 'report.json'} is not a report" in proc.stdout
    assert not (tmp_path / "slave").exists()
