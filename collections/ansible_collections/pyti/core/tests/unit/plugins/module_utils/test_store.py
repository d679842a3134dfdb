"""The result store and how a resume or a rerun splits a run's jobs."""

from __future__ import annotations

import os

from ansible_collections.pyti.core.plugins.module_utils import _store

RUN = {
    "tasks": ["install", "import", "test"],
    "driver": "namespace",
    "jobs": [
        {"id": "j0001", "distribution": "six==1.16.0", "python_info": {"version": "3.11.7"}},
        {"id": "j0002", "distribution": "idna==3.6", "python_info": {"version": "3.11.7"}},
        {"id": "j0003", "distribution": "attrs==23.2.0", "python_info": {"version": "3.11.7"}},
    ],
}


def result(job: str, spec: str, status: str, kind=None) -> dict:
    return {
        "job": job,
        "spec": spec,
        "python_version": "3.11.7",
        "status": status,
        "failure_kind": kind,
        "raw_dir": f"localhost/{job}",
    }


def test_put_and_get_round_trip_and_leave_no_temp_file(tmp_path):
    store = _store.Store(str(tmp_path))
    store.put("k1", {"status": "passed"}, "run-a")
    assert store.get("k1") == {"key": "k1", "run": "run-a", "result": {"status": "passed"}}
    assert os.listdir(tmp_path / "store") == ["k1.json"]


def test_torn_or_foreign_entries_are_not_results(tmp_path):
    store = _store.Store(str(tmp_path))
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "torn.json").write_text('{"key": "torn", "res')
    (tmp_path / "store" / "list.json").write_text("[1, 2]")
    assert store.get("torn") is None
    assert store.get("list") is None
    assert store.get("missing") is None


def test_resume_reuses_verdicts_but_not_infrastructure_faults(tmp_path):
    store = _store.Store(str(tmp_path))
    jobs = RUN["jobs"]
    store.put(_store.job_key(jobs[0], RUN), result("j0001", "six==1.16.0", "failed", "task"), "A")
    store.put(_store.job_key(jobs[1], RUN), result("j0002", "idna==3.6", "error", "sandbox"), "A")
    to_run, reused = _store.plan_reuse(RUN, store, None)
    assert [j["id"] for j in to_run] == ["j0002", "j0003"]
    # Run A was interrupted before its raw results reached the controller: no raw_dir.
    assert [(r["job"], r["reused_from"], r["raw_dir"]) for r in reused] == [("j0001@A", "A", None)]
    # Once they are there, the reused result names its folder under run A's raw/.
    (tmp_path / "A" / "raw" / "localhost" / "j0001").mkdir(parents=True)
    _to_run, reused = _store.plan_reuse(RUN, store, None)
    assert [r["raw_dir"] for r in reused] == ["localhost/j0001"]


def test_rerun_runs_what_did_not_pass_and_keeps_the_first_origin(tmp_path):
    report = {
        "run": {"id": "B", "tasks": RUN["tasks"], "driver": "namespace"},
        "results": [
            {**result("j0001@A", "six==1.16.0", "passed"), "reused_from": "A"},
            result("j0002", "idna==3.6", "timeout", "task"),
        ],
    }
    to_run, reused = _store.plan_reuse(RUN, _store.Store(str(tmp_path)), report)
    assert [j["id"] for j in to_run] == ["j0002", "j0003"]
    assert [(r["job"], r["reused_from"]) for r in reused] == [("j0001@A", "A")]


def test_keys_separate_python_versions_tasks_and_drivers():
    keys = {
        _store.result_key("six", "3.11.7", ["install"], "namespace"),
        _store.result_key("six", "3.12.1", ["install"], "namespace"),
        _store.result_key("six", "3.11.7", ["install", "test"], "namespace"),
        _store.result_key("six", "3.11.7", ["install"], "qemu"),
    }
    assert len(keys) == 4


def test_a_damaged_store_runs_again_what_it_cannot_vouch_for(tmp_path):
    store = _store.Store(str(tmp_path))
    jobs = RUN["jobs"]
    store.put(_store.job_key(jobs[0], RUN), result("j0001", "six==1.16.0", "passed"), "...")
    nested = '{"key": "k", "run": "A", "result": ' + "[" * 100000 + "]" * 100000 + "}"
    (tmp_path / "store" / f"{_store.job_key(jobs[1], RUN)}.json").write_text(nested)
    assert store.get(_store.job_key(jobs[1], RUN)) is None
    to_run, reused = _store.plan_reuse(RUN, store, None)
    # A run id that names no folder ("...") would leave the result without its origin.
    assert [j["id"] for j in to_run] == ["j0001", "j0002", "j0003"]
    assert reused == []
