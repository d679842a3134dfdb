"""Failover: which jobs of a run get another attempt, and on which slave."""

from __future__ import annotations

import pytest
from ansible_collections.pyti.core.plugins.module_utils import _failover, _store

PY311 = {"name": "3.11", "version": "3.11.7", "executable": "/usr/bin/python3.11"}
PY312 = {"name": "3.12", "version": "3.12.1", "executable": "/usr/bin/python3.12"}


def job(ident: str, slave: str, python: str = "3.11") -> dict:
    info = PY311 if python == "3.11" else PY312
    return {
        "id": ident,
        "distribution": f"dist-{ident}==1.0",
        "python": python,
        "slave": slave,
        "python_info": info,
    }


def slave(capacity: int = 1, pythons=("3.11",)) -> dict:
    infos = {"3.11": {**PY311, "executable": "/opt/py311/bin/python3.11"}, "3.12": PY312}
    return {"pythons": {name: infos[name] for name in pythons}, "capacity": capacity}


def verdict(ident: str, status: str = "passed", kind=None) -> dict:
    return {"job": ident, "status": status, "failure_kind": kind}


RUN = {
    "id": "R1",
    "tasks": ["install", "import", "test"],
    "driver": "namespace",
    "jobs": [job("j0001", "a"), job("j0002", "b"), job("j0003", "b"), job("j0004", "c")],
}


def retried(retries: list[dict]) -> list[tuple]:
    return [(r["id"], r["retry_of"], r["slave"], r["attempt"]) for r in retries]


def test_a_lost_slaves_unfinished_jobs_go_to_the_slaves_left_by_capacity():
    results = {"j0001": verdict("j0001"), "j0004": verdict("j0004", "failed", "task")}
    slaves = {"a": slave(capacity=2), "c": slave(capacity=1)}
    retries, unplaced = _failover.plan_retries(RUN["jobs"], slaves, results)
    assert retried(retries) == [("j0002", "b", "a", 2), ("j0003", "b", "c", 2)]
    assert unplaced == []


def test_a_retry_takes_the_interpreter_of_its_new_slave():
    retries, _unplaced = _failover.plan_retries([job("j0001", "b")], {"a": slave()}, {})
    assert retries[0]["python_info"]["executable"] == "/opt/py311/bin/python3.11"
    assert retries[0]["distribution"] == "dist-j0001==1.0"


def test_an_infra_fault_on_a_healthy_slave_moves_to_another_one():
    jobs = [job("j0001", "a"), job("j0002", "a")]
    results = {
        "j0001": verdict("j0001", "error", "infra"),
        "j0002": verdict("j0002", "error", "setup"),
    }
    retries, unplaced = _failover.plan_retries(jobs, {"a": slave(), "b": slave()}, results)
    assert retried(retries) == [("j0001", "a", "b", 2)]
    assert unplaced == []


@pytest.mark.parametrize(
    "kind, again", [("infra", True), (None, False), ("task", False), ("setup", False)]
)
def test_only_missing_results_and_infra_faults_run_again(kind, again):
    result = verdict("j0001", "passed" if kind is None else "error", kind)
    assert _failover.needs_retry(result) is again
    assert _failover.needs_retry(None) is True


def test_a_job_with_no_other_slave_keeps_its_result_and_says_why():
    jobs = [job("j0001", "a"), job("j0002", "b", python="3.12")]
    results = {"j0001": verdict("j0001", "error", "infra")}
    retries, unplaced = _failover.plan_retries(jobs, {"a": slave()}, results)
    assert retries == []
    assert unplaced == [
        {"id": "j0001", "slave": "a", "reason": "no healthy slave other than a is left"},
        {"id": "j0002", "slave": "b", "reason": "no other healthy slave has python 3.12"},
    ]


def test_a_second_attempt_is_the_last():
    second = {**job("j0001", "b"), "attempt": 2}
    retries, unplaced = _failover.plan_retries([second], {"a": slave()}, {})
    assert retries == []
    assert unplaced == [{"id": "j0001", "slave": "b", "reason": "job j0001 had its 2 attempts"}]


def test_no_healthy_slave_at_all():
    retries, unplaced = _failover.plan_retries(RUN["jobs"][:1], {}, {})
    assert (retries, [u["reason"] for u in unplaced]) == (
        [],
        ["no healthy slave other than a is left"],
    )


def test_known_results_take_the_store_for_lost_slaves_and_task_run_for_the_rest(tmp_path):
    store = _store.Store(str(tmp_path))
    jobs = RUN["jobs"]
    store.put(_store.job_key(jobs[1], RUN), verdict("j0002", "failed", "task"), "R1")
    # Entries of another run, or of another job with the same key, are not this job's.
    store.put(_store.job_key(jobs[2], RUN), verdict("j0003"), "R0")
    store.put(_store.job_key(jobs[3], RUN), verdict("j0009"), "R1")
    store.put(_store.job_key(jobs[0], RUN), verdict("j0001", "error", "infra"), "R1")
    reported = {"a": [verdict("j0001"), verdict("j0099"), "junk"], "c": None}
    found = _failover.known_results(RUN, store, reported)
    assert found == {"j0001": verdict("j0001"), "j0002": verdict("j0002", "failed", "task")}


def test_known_results_without_a_store():
    assert _failover.known_results(RUN, None, {"a": [verdict("j0004")]}) == {
        "j0004": verdict("j0004")
    }
