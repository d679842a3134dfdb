# SPDX-License-Identifier: GPL-3.0-or-later
"""Candidate mode: conflicts read from metadata and from pip, re-runs, and pair classes."""

from __future__ import annotations

import zipfile

import pytest
from ansible_collections.pyti.core.plugins.module_utils import (
    _candidate,
    _candidate_report,
    _candidate_runs,
    _config,
)
from ansible_collections.pyti.core.plugins.module_utils._errors import ConfigError
from ansible_collections.pyti.core.plugins.module_utils._report import normalise_result

LIBX = [{"name": "libx", "version": "2.0", "sha256": "ab" * 32}]


def wheel(tmp_path, requires: list[str]) -> str:
    path = tmp_path / "dep-1.0-py3-none-any.whl"
    lines = ["Metadata-Version: 2.1", "Name: dep", "Version: 1.0"]
    lines += [f"Requires-Dist: {req}" for req in requires]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("dep-1.0.dist-info/METADATA", "\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize(
    "requires, expected",
    [
        (["libx<2"], "requires libx<2, which excludes the candidate libx 2.0"),
        (["LibX!=2.0,>=1"], "requires LibX!=2.0,>=1, which excludes the candidate libx 2.0"),
        (["libx>=1"], None),
        (["other<2"], None),
        (['libx<2; python_version < "3.0"'], None),
        (['libx<2; extra == "docs"'], None),
        (['libx<2; extra == "test"'], 'requires libx<2; extra == "test", which excludes'),
    ],
)
def test_conflict_from_the_metadata(tmp_path, requires, expected):
    found = _candidate.conflict(wheel(tmp_path, requires), "test", "3.11", LIBX)
    if expected is None:
        assert found is None
    else:
        assert found.startswith(expected)


def test_conflict_deeper_in_the_resolution_comes_from_pip():
    output = """\
ERROR: Cannot install dep==1.0 and libx 2.0 because these package versions \
have conflicting dependencies.

The conflict is caused by:
    The user requested libx 2.0 (from /prepare/cand/libx-2.0-py3-none-any.whl)
    middle 3.1 depends on libx<2

ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/
"""
    why = _candidate.resolution_conflict(output, LIBX)
    assert why == "middle 3.1 requires libx<2, which excludes the candidate"
    assert _candidate.resolution_conflict("ERROR: No matching distribution found", LIBX) is None


def test_candidate_id_depends_on_contents_only():
    one = [{"sha256": "a" * 64}, {"sha256": "b" * 64}]
    assert _candidate.candidate_id(one) == _candidate.candidate_id(one[::-1])
    assert _candidate.candidate_id(one) != _candidate.candidate_id(one[:1])


def test_check_candidates(tmp_path):
    archive = tmp_path / "libx-2.0.tar.gz"
    archive.write_bytes(b"")
    assert _config.check_candidates(None, str(tmp_path)) == []
    assert _config.check_candidates("libx-2.0.tar.gz", str(tmp_path)) == [str(archive)]
    assert _config.check_candidates(["libx == 2.0", "liby"], "/") == ["libx==2.0", "liby"]
    with pytest.raises(ConfigError) as bad:
        _config.check_candidates("./gone/libx-2.0.whl", str(tmp_path))
    assert bad.value.msg == (
        "pyti_candidate: './gone/libx-2.0.whl' looks like a path but no such file exists"
    )
    with pytest.raises(ConfigError) as bad:
        _config.check_candidates(["libx ==="], "/")
    assert bad.value.msg.startswith("pyti_candidate: 'libx ===' is not a valid requirement: ")
    assert bad.value.context == {"field": "pyti_candidate", "value": "libx ==="}


def test_candidate_jobs_pair_each_job_on_its_slave():
    jobs = [
        {"id": "j0001", "distribution": "a", "python": "3.11", "slave": "s1"},
        {"id": "j0002", "distribution": "b", "python": "3.11", "slave": "s2"},
    ]
    paired = _config.candidate_jobs(jobs)
    assert [(j["id"], j["distribution"], j["slave"], j["side"]) for j in paired] == [
        ("j0001", "a", "s1", "baseline"),
        ("j0002", "a", "s1", "candidate"),
        ("j0003", "b", "s2", "baseline"),
        ("j0004", "b", "s2", "candidate"),
    ]


def raw(job, side, status="passed", kind=None, dist="dep", not_applicable=None, failures=()):
    tasks = [{"name": "install", "status": "passed"}]
    tasks.append(
        {
            "name": "test",
            "status": status,
            "failure_kind": kind or (None if status in ("passed", "skipped") else "task"),
            "failures": [{"name": n, "message": ""} for n in failures],
            "log_tail": "line 1\nE   boom\n" if status != "passed" else None,
        }
    )
    return {
        "job": job,
        "distribution": dist,
        "spec": f"{dist}==1.0",
        "version": "1.0",
        "python": "3.11",
        "side": side,
        "status": status,
        "failure_kind": tasks[-1]["failure_kind"],
        "reason": None if status == "passed" else f"test: {status}",
        "not_applicable": not_applicable,
        "tasks": tasks,
    }


def pair_class(*results) -> str:
    normalised = [normalise_result(r, "s1") for r in results]
    report = {"run": {"id": "r1", "started": None, "tasks": ["install", "test"]}}
    report["results"] = normalised
    comparison = _candidate_report.compare(report, {"id": "c", "distributions": []})
    (entry,) = comparison["pairs"]
    return entry["class"]


@pytest.mark.parametrize(
    "first, again, expected",
    [
        (("passed", "passed"), None, "still passing"),
        (("failed", "failed"), None, "still failing"),
        (("failed", "passed"), None, "fixed"),
        (("passed", "failed"), ("passed", "failed"), "regressed"),
        (("passed", "failed"), ("passed", "passed"), "flaky"),
        (("passed", "failed"), ("failed", "failed"), "flaky"),
        (("passed", "failed"), ("failed", "passed"), "flaky"),
        (("passed", "failed"), None, "regressed"),
    ],
)
def test_pair_classes(first, again, expected):
    results = [raw("j0001", "baseline", first[0]), raw("j0002", "candidate", first[1])]
    if again:
        results.append(raw("j0001-rerun", "baseline", again[0]))
        results.append(raw("j0002-rerun", "candidate", again[1]))
    assert pair_class(*results) == expected


def test_infra_and_not_applicable_pairs():
    na = raw("j0002", "candidate", "skipped", not_applicable="dep 1.0 requires libx<2")
    assert pair_class(raw("j0001", "baseline"), na) == "not applicable"
    report = {"run": {"id": "r1", "started": None, "tasks": ["install", "test"]}}
    report["results"] = [normalise_result(r, "s1") for r in (raw("j0001", "baseline"), na)]
    comparison = _candidate_report.compare(report, {"id": "c"})
    assert [(e["task"], e["class"]) for e in comparison["entries"]] == [
        ("install", "not applicable"),
        ("test", "not applicable"),
    ]
    infra = raw("j0002", "candidate", "error", kind="setup")
    assert pair_class(raw("j0001", "baseline"), infra) == "infra"
    assert pair_class(raw("j0001", "baseline")) == "infra"
    rerun_infra = raw("j0002-rerun", "candidate", "error", kind="sandbox")
    results = [raw("j0001", "baseline"), raw("j0002", "candidate", "failed")]
    assert pair_class(*results, raw("j0001-rerun", "baseline"), rerun_infra) == "infra"


def test_rerun_jobs_are_both_sides_of_suspect_pairs():
    jobs = [
        {"id": f"j000{n}", "distribution": d, "python": "3.11", "slave": "s1", "side": side}
        for n, (d, side) in enumerate(
            [("a", "baseline"), ("a", "candidate"), ("b", "baseline"), ("b", "candidate")], 1
        )
    ]
    results = [
        raw("j0001", "baseline", dist="a"),
        raw("j0002", "candidate", "failed", dist="a"),
        raw("j0003", "baseline", dist="b"),
        raw("j0004", "candidate", "error", kind="sandbox", dist="b"),
    ]
    again = _candidate_runs.rerun_jobs(jobs, results)
    assert [(j["id"], j["rerun_of"], j["side"]) for j in again] == [
        ("j0001-rerun", "j0001", "baseline"),
        ("j0002-rerun", "j0002", "candidate"),
    ]


def test_regression_lists_only_new_failures_and_writers_escape():
    results = [
        raw("j0001", "baseline", "failed", failures=["t::old"]),
        raw("j0002", "candidate", "failed", failures=["t::old", "t::<new>"]),
    ]
    results[0]["status"] = "passed"  # the baseline's result passed; its task list is old
    results[0]["tasks"][-1].update(status="passed", failure_kind=None)
    results += [raw("j0001-rerun", "baseline"), raw("j0002-rerun", "candidate", "failed")]
    normalised = [normalise_result(r, "s1") for r in results]
    report = {"run": {"id": "r1", "started": None, "tasks": ["install", "test"]}}
    comparison = _candidate_report.compare({**report, "results": normalised}, {"id": "c"})
    (entry,) = comparison["pairs"]
    assert entry["class"] == "regressed"
    assert entry["new_failures"] == ["t::<new>"]
    page = _candidate_report.to_html(comparison)
    assert "t::&lt;new&gt;" in page and "<new>" not in page
    assert page.index("Regressions") < page.index('id="summary"')
    lines = [line for line, _status in _candidate_report.summary_lines(comparison)]
    assert lines[0] == "PYTI candidate candidate: 1 regressed"
    assert lines[1].startswith("REGRESSED dep 1.0 3.11: test: failed")
    assert lines[2] == "  new failing tests: t::<new>"


def test_two_versions_of_one_distribution_are_two_pairs():
    results = [
        raw("j0001", "baseline"),
        raw("j0002", "candidate"),
        raw("j0003", "baseline", "failed"),
        raw("j0004", "candidate", "failed"),
    ]
    results[2]["version"] = results[3]["version"] = "0.9"
    normalised = [normalise_result(r, "s1") for r in results]
    report = {"run": {"id": "r1", "started": None, "tasks": ["install", "test"]}}
    comparison = _candidate_report.compare({**report, "results": normalised}, {"id": "c"})
    got = sorted((e["version"], e["class"]) for e in comparison["pairs"])
    assert got == [("0.9", "still failing"), ("1.0", "still passing")]


def test_still_failing_pair_names_tests_failing_on_the_candidate_side_only():
    results = [
        raw("j0001", "baseline", "failed", failures=["t::a"]),
        raw("j0002", "candidate", "failed", failures=["t::a", "t::b"]),
    ]
    normalised = [normalise_result(r, "s1") for r in results]
    report = {"run": {"id": "r1", "started": None, "tasks": ["install", "test"]}}
    comparison = _candidate_report.compare({**report, "results": normalised}, {"id": "c"})
    (entry,) = comparison["pairs"]
    assert (entry["class"], entry["new_failures"]) == ("still failing", ["t::b"])
    assert "failing on the candidate side only: t::b |" in _candidate_report.to_markdown(comparison)
