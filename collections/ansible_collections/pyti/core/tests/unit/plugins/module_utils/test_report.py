# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json
import os
import random

import jsonschema
import pytest
from ansible_collections.pyti.core.plugins.module_utils import _report
from ansible_collections.pyti.core.plugins.module_utils._report import (
    RunCollector,
    link_latest,
    normalise_result,
    summary_lines,
    to_json,
    write_report,
)
from ansible_collections.pyti.core.plugins.module_utils._report_values import PLAIN_ITEMS

FINISHED = "2026-12-04T16:20:00Z"
MEGABYTE = "x" * (1024 * 1024)


def collect(run, **results_by_slave):
    collector = RunCollector()
    collector.add_run(run)
    for slave, results in results_by_slave.items():
        collector.add_results(slave, results)
    return collector


def full_report(run, localhost, slave2):
    return collect(run, localhost=localhost, slave2=slave2).build(FINISHED, "controller")


def assert_valid(report, schema):
    jsonschema.validate(report, schema, cls=jsonschema.Draft202012Validator)
    assert json.loads(to_json(report)) == report


# ---------------------------------------------------------------------------
# Normalisation of hostile results
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("duration_s", "3.25", 3.25),
        ("duration_s", -1, 0.0),
        ("duration_s", float("nan"), 0.0),
        ("duration_s", float("inf"), 0.0),
        ("duration_s", True, 0.0),
        ("duration_s", 10**400, 0.0),
        ("duration_s", "9" * 1000, 0.0),
        ("duration_s", {"s": 1}, 0.0),
        ("no_tests", "yes", False),
        ("no_tests", True, True),
        ("source", "ftp", None),
        ("source", "local", "local"),
        ("raw_dir", "/etc", None),
        ("raw_dir", "localhost/../../etc", None),
        ("raw_dir", "localhost//j1", None),
        ("raw_dir", "local\x00host/j1", None),
        ("raw_dir", ["localhost"], None),
        ("raw_dir", "localhost/j1", "localhost/j1"),
        ("failure_kind", "meteor", "results"),
        ("tasks", "install", []),
        ("tasks", [None, 3, "x"], []),
        ("version", 1.0, "1.0"),
    ],
)
def test_result_fields_are_coerced(result_payload, field, value, expected):
    raw = result_payload("j1", "six", "1.16.0", "3.11")
    raw[field] = value
    assert normalise_result(raw, "localhost")[field] == expected


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("rc", "1", None),
        ("rc", True, None),
        ("rc", -9, -9),
        ("rc", 2**40, None),
        ("log", "../secret", None),
        ("log", "sub/install.log", None),
        ("output_bytes", -5, 0),
        ("output_bytes", 2.9, 2),
        (
            "tests",
            {"passed": "3", "failed": None},
            {"passed": 3, "failed": 0, "errors": 0, "skipped": 0},
        ),
        ("tests", [1, 2], None),
        ("failures", [{"name": "t", "message": None}, "junk"], [{"name": "t", "message": ""}]),
        ("failures", {"name": "t"}, []),
        ("name", None, "unnamed"),
    ],
)  # fmt: skip
def test_task_fields_are_coerced(result_payload, field, value, expected):
    tasks = [{"name": "install", "status": "passed", field: value}]
    raw = result_payload("j1", "six", "1.16.0", "3.11", tasks=tasks)
    assert normalise_result(raw, "localhost")["tasks"][0][field] == expected


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (None, "results: status missing"),
        ("PASSED", "results: invalid status 'PASSED'"),
        (["passed"], "results: invalid status \"['passed']\""),
    ],
)
def test_broken_status_becomes_results_error(result_payload, status, reason):
    raw = result_payload("j1", "six", "1.16.0", "3.11", status=status, reason="earlier")
    result = normalise_result(raw, "localhost")
    assert (result["status"], result["failure_kind"]) == ("error", "results")
    assert result["reason"] == f"{reason}; earlier"


def test_empty_result_gets_every_key(report_schema, run_payload):
    result = normalise_result({}, "localhost")
    assert result["distribution"] == "unknown"
    assert result["reason"] == "results: status missing"
    collector = collect(run_payload)
    report = _report.build_report(collector.run, [result], FINISHED, "c")
    assert_valid(report, report_schema)


def test_the_wheelhouse_reads_names_and_versions_from_wheel_file_names(report_schema, run_payload):
    wheels = [
        "pytest-9.2.0-py3-none-any.whl",
        "Typing_Extensions-4.9.0-py3-none-any.whl",
        "markupsafe-2.1.3-1-cp311-cp311-manylinux_2_17_x86_64.whl",
        "not-a-wheel.tar.gz",
        "evil-1.0-py3-none-any.whl/../../x",
        None,
        "x" * 5000 + "-1.0-py3-none-any.whl",
    ]
    result = normalise_result({"status": "passed", "wheels": wheels}, "localhost")
    assert result["wheelhouse"] == {
        "markupsafe": "2.1.3",
        "pytest": "9.2.0",
        "typing-extensions": "4.9.0",
    }
    assert normalise_result({"wheels": "pytest-9.2.0-py3-none-any.whl"}, "h")["wheelhouse"] is None
    assert normalise_result({"wheels": []}, "h")["wheelhouse"] is None
    many = [f"d{n}-1.0-py3-none-any.whl" for n in range(2000)]
    capped = normalise_result({"status": "passed", "wheels": many}, "h")
    assert len(capped["wheelhouse"]) == _report.WHEELHOUSE_LIMIT
    report = _report.build_report(collect(run_payload).run, [result, capped], FINISHED, "c")
    assert_valid(report, report_schema)


def test_distribution_falls_back_to_the_spec():
    result = normalise_result({"spec": "six==1.16.0", "status": "passed"}, "h")
    assert (result["distribution"], result["version"]) == ("six", "1.16.0")


HOSTILE_STRINGS = [
    pytest.param("\x00\x01\x02nul", id="controls"),
    pytest.param("\udcff\ud800 surrogates", id="surrogates"),
    pytest.param("<script>alert(1)</script>&amp;]]>", id="markup"),
    pytest.param("\x1b[1;31mFAILED\x1b[0m \ufffe", id="ansi"),
    pytest.param(MEGABYTE, id="megabyte"),
]


@pytest.mark.parametrize("hostile", HOSTILE_STRINGS)
def test_hostile_strings_give_a_valid_report(report_schema, run_payload, result_payload, hostile):
    tasks = [
        {
            "name": hostile,
            "status": "failed",
            "reason": hostile,
            "log_tail": hostile,
            "failures": [{"name": hostile, "message": hostile}] * 100,
        }
    ]
    raw = result_payload(
        "j0001",
        hostile,
        hostile,
        hostile,
        "failed",
        tasks,
        reason=hostile,
        vm=hostile,
        python_path=hostile,
        started=hostile,
    )
    report = collect(run_payload, **{"local\x00host": [raw]}).build(hostile, hostile)

    assert_valid(report, report_schema)
    assert len(to_json(report)) < 200 * 1024
    to_json(report).encode("utf-8")


# fmt: skip


# ---------------------------------------------------------------------------
# The run and the summary
# ---------------------------------------------------------------------------


def test_report_document(report_schema, run_payload, localhost_results, slave2_results):
    report = full_report(run_payload, localhost_results, slave2_results)
    assert_valid(report, report_schema)

    assert report["report_version"] == 1
    assert report["pyti_version"] == "0.1.0"
    assert report["controller"] == "controller"
    assert report["run"] == {
        "id": "20261204T161000Z-ab12cd",
        "started": "2026-12-04T16:10:00Z",
        "finished": FINISHED,
        "driver": "namespace",
        "slaves": ["localhost", "slave2"],
        "tasks": ["install", "import", "test"],
        "pythons": ["3.10", "3.9"],
        "limits": {"timeout_s": 600, "memory_mb": 1024, "network": False},
        "interrupted": False,
    }


def test_results_are_sorted(run_payload, localhost_results, slave2_results):
    report = full_report(run_payload, localhost_results, slave2_results)
    order = [(r["distribution"], r["python"], r["slave"]) for r in report["results"]]
    assert order == [
        ("attrs", "3.10", "localhost"),
        ("broken", "3.9", "slave2"),
        ("six", "3.9", "slave2"),
        ("six", "3.10", "localhost"),
    ]


def test_summary_counts(run_payload, localhost_results, slave2_results):
    summary = full_report(run_payload, localhost_results, slave2_results)["summary"]
    assert summary == {
        "results": {"passed": 1, "failed": 1, "error": 1, "timeout": 1, "skipped": 0},
        "tasks": {"passed": 6, "failed": 1, "error": 0, "timeout": 1, "skipped": 1},
        "tests": {"passed": 15, "failed": 2, "errors": 0, "skipped": 1},
        "no_tests": 0,
        "infra": 1,
        "unverified": 0,
        "by_slave": {
            "localhost": {"passed": 1, "failed": 1, "error": 0, "timeout": 0, "skipped": 0,
                          "duration_s": 9.0, "attempts": 2, "infra": 0},
            "slave2": {"passed": 0, "failed": 0, "error": 1, "timeout": 1, "skipped": 0,
                       "duration_s": 4.5, "attempts": 2, "infra": 1},
        },
    }  # fmt: skip


def test_a_later_result_for_a_job_replaces_the_earlier(run_payload, result_payload):
    first = result_payload("j0001", "six", "1.16.0", "3.10", "failed")
    second = result_payload("j0001", "six", "1.16.0", "3.10", "passed")
    collector = collect(run_payload, localhost=[first])
    collector.add_results("localhost", [second])
    statuses = {r["job"]: r["status"] for r in collector.build(FINISHED, "c")["results"]}
    assert statuses["j0001"] == "passed"


@pytest.mark.parametrize("junk", [None, "text", 5, {"job": "j0001"}, [None, "x", 3]])
def test_junk_results_payloads_are_ignored(run_payload, junk):
    report = collect(run_payload, localhost=junk).build(FINISHED, "c")
    assert [r["failure_kind"] for r in report["results"]] == ["infra"] * 4


@pytest.mark.parametrize(
    "run",
    [None, "text", {}, {"id": 5, "jobs": "j1", "tasks": None, "limits": [1]}],
)
def test_junk_run_payloads_give_a_valid_report(report_schema, run):
    report = collect(run).build(FINISHED, "c")
    assert_valid(report, report_schema)
    assert report["results"] == []


def test_limits_become_plain_data(report_schema, run_payload):
    run_payload["limits"] = {
        "nested": {"deep": [[[[[[[[[["bottom"]]]]]]]]]]},
        5: float("nan"),
        "huge": 10**30,
        "many": list(range(1000)),
        "text": "a\x00b",
    }
    limits = collect(run_payload).build(FINISHED, "c")["run"]["limits"]
    assert limits["5"] is None
    assert limits["huge"] == str(10**30)
    assert len(limits["many"]) == PLAIN_ITEMS
    assert limits["text"] == "ab"
    assert_valid(collect(run_payload).build(FINISHED, "c"), report_schema)


# ---------------------------------------------------------------------------
# Jobs that never returned a result
# ---------------------------------------------------------------------------


def _missing_reasons(collector):
    report = collector.build(FINISHED, "c")
    return {r["job"]: r["reason"] for r in report["results"] if r["failure_kind"] == "infra"}


def test_missing_job_becomes_an_infra_error(run_payload, localhost_results, slave2_results):
    collector = collect(run_payload, localhost=localhost_results, slave2=slave2_results)
    report = collector.build(FINISHED, "c")
    (missing,) = [r for r in report["results"] if r["job"] == "j0003"]
    assert missing["status"] == "error"
    assert missing["failure_kind"] == "infra"
    assert (missing["distribution"], missing["version"]) == ("broken", "0.1")
    assert (missing["python"], missing["slave"], missing["driver"]) == (
        "3.9",
        "slave2",
        "namespace",
    )
    assert missing["reason"] == "infra: slave slave2 returned no result for job j0003"
    assert missing["tasks"] == []


def test_unreachable_slave_explains_its_jobs(run_payload, localhost_results):
    collector = collect(run_payload, localhost=localhost_results)
    collector.host_failed("slave2", "task 'Create VM'", "ignored", ignored=True)
    collector.host_unreachable("slave2", "ssh: connect to host slave2 port 22: No route\n")
    collector.host_failed("slave2", "task_run", "later failure")
    assert _missing_reasons(collector) == {
        "j0003": "infra: slave slave2 unreachable: ssh: connect to host slave2 port 22: No route",
        "j0004": "infra: slave slave2 unreachable: ssh: connect to host slave2 port 22: No route",
    }


def test_a_failure_outranks_an_ignored_failure(run_payload, localhost_results):
    collector = collect(run_payload, localhost=localhost_results)
    collector.host_failed("slave2", "task 'Clean up'", "nothing to clean", ignored=True)
    collector.host_failed("slave2", "task_run", {"rc": 2})
    collector.host_failed("slave2", "task 'Fetch'", "second failure")
    reasons = set(_missing_reasons(collector).values())
    assert reasons == {"infra: task_run failed on slave slave2: {'rc': 2}"}


def test_failure_without_message(run_payload, localhost_results):
    collector = collect(run_payload, localhost=localhost_results)
    collector.host_failed("slave2", "task_run", None)
    assert set(_missing_reasons(collector).values()) == {
        "infra: task_run failed on slave slave2: no message"
    }


# ---------------------------------------------------------------------------
# Randomised payloads
# ---------------------------------------------------------------------------

_ATOMS = [None, True, 0, -1, 2**70, 1.5, float("nan"), "", "passed", "failed", "\udcff",
          "\x00", "a/b", "../x", "test", "install", "infra", MEGABYTE[:70000]]  # fmt: skip
_KEYS = ["job", "distribution", "version", "status", "tasks", "tests", "failures", "name",
         "reason", "failure_kind", "log", "log_tail", "raw_dir", "duration_s", "rc", "passed",
         "message", "no_tests", "python", "output_bytes"]  # fmt: skip


def _random_value(rng, depth=0):
    roll = rng.random()
    if depth > 4 or roll < 0.5:
        return rng.choice(_ATOMS)
    if roll < 0.75:
        return [_random_value(rng, depth + 1) for _item in range(rng.randrange(4))]
    keys = rng.sample(_KEYS, rng.randrange(len(_KEYS)))
    return {key: _random_value(rng, depth + 1) for key in keys}


@pytest.mark.parametrize("seed", range(40))
def test_random_payloads_give_a_valid_report(report_schema, run_payload, seed):
    rng = random.Random(seed)
    raw_results = [_random_value(rng, 1) for _item in range(6)]
    raw_results += [{key: _random_value(rng, 2) for key in _KEYS} for _item in range(3)]
    collector = collect(run_payload, localhost=raw_results)
    collector.host_failed("slave2", _random_value(rng), _random_value(rng))
    assert_valid(collector.build(FINISHED, "c"), report_schema)


# ---------------------------------------------------------------------------
# Terminal summary
# ---------------------------------------------------------------------------


def test_summary_lines(run_payload, localhost_results, slave2_results):
    report = full_report(run_payload, localhost_results, slave2_results)
    lines = summary_lines(report, ["reports/x/report.html"])
    texts = [text for text, _status in lines]
    statuses = [status for _text, status in lines]

    assert texts[0] == "PYTI run 20261204T161000Z-ab12cd: 4 results on 2 slaves"
    assert texts[1].split() == "distribution python slave status tests p/f/e/s reason".split()
    assert texts[2].split() == (
        "attrs 23.1.0 3.10.7 localhost failed 5/2/0/0 test: 2 of 7 tests failed".split()
    )
    assert texts[3].split()[:6] == ["broken", "0.1", "3.9", "slave2", "error", "-"]
    assert statuses[2:6] == ["failed", "error", "timeout", "passed"]
    assert texts[-2] == (
        "Totals: 1 passed, 1 failed, 1 error, 1 timeout, 0 skipped; tests p/f/e/s 15/2/0/1; "
        "1 not the package's fault (setup, sandbox, infra or results)"
    )
    assert texts[-1] == "Report: reports/x/report.html"


def test_summary_reason_is_one_short_line(run_payload, result_payload):
    raw = result_payload("j0001", "six", "1", "3.10", "failed", reason="a\nb\x1b[31m" + MEGABYTE)
    lines = summary_lines(collect(run_payload, localhost=[raw]).build(FINISHED, "c"))
    (row,) = [text for text, status in lines if status == "failed"]
    assert "\n" not in row and "\x1b" not in row
    assert len(row) < 200


def test_summary_names_a_reused_result_and_counts_in_the_singular(run_payload, result_payload):
    raw = result_payload("j0001", "six", "1", "3.10", "passed")
    raw["reused_from"] = "20261203T101010Z-aaaaaa"
    run = {**run_payload, "slaves": ["localhost"], "jobs": run_payload["jobs"][:1]}
    lines = summary_lines(collect(run, localhost=[raw]).build(FINISHED, "c"))
    texts = [text for text, _status in lines]
    assert texts[0] == "PYTI run 20261204T161000Z-ab12cd: 1 result on 1 slave"
    (row,) = [text for text, status in lines if status == "passed"]
    assert row.endswith("  reused from run 20261203T101010Z-aaaaaa")


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def test_write_report_and_latest_link(tmp_path):
    run_dir = tmp_path / "run-1"
    paths = write_report(str(run_dir), {"a.json": "{}\n", "b.html": "\udcff<p>"})
    link = link_latest(str(tmp_path), "run-1")

    assert paths == [str(run_dir / "a.json"), str(run_dir / "b.html")]
    assert (run_dir / "b.html").read_text(encoding="utf-8") == "?<p>"
    assert sorted(os.listdir(run_dir)) == ["a.json", "b.html"]
    assert os.readlink(link) == "run-1"
    assert oct((run_dir / "a.json").stat().st_mode & 0o777) == "0o644"


def test_latest_link_is_replaced(tmp_path):
    for run_id in ("run-1", "run-2"):
        write_report(str(tmp_path / run_id), {"report.json": run_id})
        link_latest(str(tmp_path), run_id)
    assert os.readlink(tmp_path / "latest") == "run-2"
    assert (tmp_path / "latest" / "report.json").read_text() == "run-2"
    assert sorted(os.listdir(tmp_path)) == ["latest", "run-1", "run-2"]


def test_latest_link_refuses_to_replace_a_directory(tmp_path):
    (tmp_path / "latest").mkdir()
    with pytest.raises(OSError):
        link_latest(str(tmp_path), "run-1")
    assert os.listdir(tmp_path) == ["latest"]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    write_report(str(tmp_path), {"report.json": "old"})

    def refuse(source, target):
        raise PermissionError(13, "Permission denied", target)

    monkeypatch.setattr(_report.os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_report(str(tmp_path), {"report.json": "new"})
    assert os.listdir(tmp_path) == ["report.json"]
    assert (tmp_path / "report.json").read_text() == "old"


def test_interrupted_run_names_the_jobs_it_never_finished(run_payload):
    collector = RunCollector()
    collector.add_run(run_payload)
    collector.interrupted = True
    report = collector.build(finished=FINISHED, controller="controller")
    assert report["run"]["interrupted"] is True
    reasons = {r["reason"] for r in report["results"]}
    assert reasons == {"infra: the run was interrupted before this job finished"}


# ---------------------------------------------------------------------------
# Attempts: jobs that ran again on another slave
# ---------------------------------------------------------------------------

UNREACHABLE = "ssh: connect to host slave2 port 22: Connection refused"


def _moved(run_payload, job_id, slave="localhost"):
    (job,) = [j for j in run_payload["jobs"] if j["id"] == job_id]
    return {**job, "slave": slave, "retry_of": job["slave"], "attempt": 2}


def test_a_lost_slaves_job_that_ran_elsewhere_records_both_attempts(
    report_schema, run_payload, localhost_results, result_payload
):
    collector = collect(run_payload, localhost=localhost_results)
    collector.host_unreachable("slave2", UNREACHABLE)
    collector.add_retries([_moved(run_payload, "j0003"), _moved(run_payload, "j0004")])
    again = [
        result_payload("j0003", "broken", "0.1", "3.9", finished="2026-12-04T16:15:00+00:00"),
        result_payload("j0004", "six", "1.16.0", "3.9", "failed", failure_kind="task"),
    ]
    collector.add_results("localhost", again)
    report = collector.build(FINISHED, "c")
    assert_valid(report, report_schema)

    results = {r["job"]: r for r in report["results"]}
    assert len(results) == 4
    first, second = results["j0003"]["attempts"]
    assert (first["slave"], first["status"], first["failure_kind"], first["reason"]) == (
        "slave2",
        "error",
        "infra",
        f"infra: slave slave2 unreachable: {UNREACHABLE}",
    )
    assert first["time"].endswith("+00:00")
    assert second == {
        "slave": "localhost",
        "status": "passed",
        "reason": None,
        "failure_kind": None,
        "time": "2026-12-04T16:15:00+00:00",
        "duration_s": 4.5,
    }
    assert (results["j0003"]["slave"], results["j0003"]["status"]) == ("localhost", "passed")
    assert results["j0004"]["status"] == "failed"
    assert [len(r["attempts"]) for r in report["results"]] == [1, 2, 2, 1]

    by_slave = report["summary"]["by_slave"]
    assert by_slave["slave2"] == {
        "passed": 0, "failed": 0, "error": 0, "timeout": 0, "skipped": 0,
        "duration_s": 0, "attempts": 2, "infra": 2,
    }  # fmt: skip
    assert (by_slave["localhost"]["attempts"], by_slave["localhost"]["passed"]) == (4, 2)
    assert report["summary"]["infra"] == 0


def test_an_infra_fault_that_repeats_elsewhere_gives_the_evidence_of_both(
    report_schema, run_payload, result_payload
):
    fault = "infra: the VM did not start: bwrap: Can't mkdir /vm/home: No space left on device"
    first = result_payload("j0004", "six", "1.16.0", "3.9", "error", tasks=[])
    first.update(reason=fault, failure_kind="infra")
    collector = collect(run_payload, slave2=[first])
    collector.add_retries([_moved(run_payload, "j0004")])
    again = {**first, "reason": "infra: slave localhost: [Errno 28] No space left on device"}
    collector.add_results("localhost", [again])
    collector.add_results("localhost", [again])  # the same result twice counts once

    report = collector.build(FINISHED, "c")
    assert_valid(report, report_schema)
    (result,) = [r for r in report["results"] if r["job"] == "j0004"]
    assert (result["slave"], result["status"], result["failure_kind"]) == (
        "localhost",
        "error",
        "infra",
    )
    assert result["reason"] == (
        f"infra: slave localhost: [Errno 28] No space left on device (earlier, on slave2: {fault})"
    )
    assert [(a["slave"], a["reason"]) for a in result["attempts"]] == [
        ("slave2", fault),
        ("localhost", "infra: slave localhost: [Errno 28] No space left on device"),
    ]
    assert report["summary"]["infra"] == 4  # j0004, and j0001 to j0003 that never came


def test_a_retry_whose_second_slave_is_lost_too(run_payload, localhost_results):
    collector = collect(run_payload, localhost=localhost_results)
    collector.host_unreachable("slave2", UNREACHABLE)
    collector.add_retries([_moved(run_payload, "j0003")])
    collector.host_failed("localhost", "task_run", "killed")
    report = collector.build(FINISHED, "c")
    (result,) = [r for r in report["results"] if r["job"] == "j0003"]
    assert result["slave"] == "localhost"
    assert [(a["slave"], a["failure_kind"]) for a in result["attempts"]] == [
        ("slave2", "infra"),
        ("localhost", "infra"),
    ]
    assert result["reason"] == (
        "infra: task_run failed on slave localhost: killed"
        f" (earlier, on slave2: infra: slave slave2 unreachable: {UNREACHABLE})"
    )


def test_a_retry_that_stays_on_its_slave_or_names_no_job_is_ignored(run_payload, localhost_results):
    collector = collect(run_payload, localhost=localhost_results)
    collector.add_retries([_moved(run_payload, "j0001", slave="localhost"), {"x": 1}, "junk"])
    collector.add_retries("junk")
    results = collector.build(FINISHED, "c")["results"]
    assert [len(r["attempts"]) for r in results] == [1, 1, 1, 1]


def test_the_summary_shows_each_slaves_counts_and_time(run_payload, localhost_results):
    collector = collect(run_payload, localhost=localhost_results)
    collector.host_unreachable("slave2", UNREACHABLE)
    lines = [line for line, _status in summary_lines(collector.build(FINISHED, "c"))]
    assert "  localhost: 1 passed, 1 failed in 9.0 s of VMs" in lines
    assert "  slave2: 2 error in 0.0 s of VMs; 2 of its 2 attempts were infra faults" in lines


def test_a_reused_result_brings_its_attempts_but_they_and_its_time_count_in_its_own_run(
    run_payload, result_payload
):
    earlier = [
        {"slave": "slave2", "status": "error", "failure_kind": "infra", "reason": "lost"},
        {"slave": "localhost", "status": "passed"},
    ]
    reused = result_payload("j0001@R0", "six", "1.16.0", "3.10", reused_from="R0")
    reused["attempts"] = earlier
    collector = collect({**run_payload, "jobs": []}, localhost=[reused])
    report = collector.build(FINISHED, "c")
    (result,) = [r for r in report["results"] if r["job"] == "j0001@R0"]
    assert [(a["slave"], a["status"]) for a in result["attempts"]] == [
        ("slave2", "error"),
        ("localhost", "passed"),
    ]
    assert report["summary"]["by_slave"] == {
        "localhost": {
            "passed": 1, "failed": 0, "error": 0, "timeout": 0, "skipped": 0,
            "duration_s": 0, "attempts": 0, "infra": 0,
        }
    }  # fmt: skip
