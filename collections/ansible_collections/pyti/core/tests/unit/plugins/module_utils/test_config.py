# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import re
from pathlib import Path

import pytest
from ansible_collections.pyti.core.plugins.module_utils import _config, _limits
from ansible_collections.pyti.core.plugins.module_utils._config import (
    check_distribution,
    check_distributions,
    check_driver,
    check_tasks,
    job_matrix,
    new_run_id,
)
from ansible_collections.pyti.core.plugins.module_utils._errors import ConfigError


def error_of(func, *args):
    with pytest.raises(ConfigError) as raised:
        func(*args)
    return raised.value


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param("six", "six", id="name"),
        pytest.param("six==1.16.0", "six==1.16.0", id="name-version"),
        pytest.param(" Six == 1.16 ", "Six==1.16", id="spaces"),
        pytest.param("attrs>=23,<24", "attrs<24,>=23", id="range"),
    ],
)
def test_check_distribution_accepts_requirements(tmp_path, spec, expected):
    assert check_distribution(spec.strip(), str(tmp_path)) == expected


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param("six[test]==1.16.0", id="extras"),
        pytest.param("six; python_version > '3'", id="marker"),
        pytest.param("six @ file:six.whl.txt", id="url-without-slash"),
    ],
)
def test_check_distribution_refuses_extras_markers_and_urls(tmp_path, spec):
    error = error_of(check_distribution, spec, str(tmp_path))
    assert error.msg == (
        f"pyti_distributions: {spec!r}: use name or name==version, without URL, marker or extras"
    )
    assert error.context == {"field": "pyti_distributions", "value": spec}


def test_check_distribution_names_the_url_of_a_url_requirement(tmp_path):
    spec = "six @ https://example.org/six-1.16.0.tar.gz"
    error = error_of(check_distribution, spec, str(tmp_path))
    assert error.msg == (
        f"pyti_distributions: {spec!r}: use name or name==version, without URL, marker or extras"
    )


def test_check_distribution_refuses_a_bad_spec(tmp_path):
    error = error_of(check_distribution, "six=1.0", str(tmp_path))
    assert error.msg.startswith(
        "pyti_distributions: 'six=1.0' is not a valid requirement: Expected semicolon "
        "(after name with no version specifier) or end"
    )
    assert error.context == {"field": "pyti_distributions", "value": "six=1.0"}


def test_check_distribution_error_for_a_bad_spec_is_one_line(tmp_path):
    assert "\n" not in error_of(check_distribution, "six=1.0", str(tmp_path)).msg


@pytest.mark.parametrize(
    "spec", ["dist/six-1.16.0.tar.gz", "six-1.16.0-py3-none-any.whl", "./six", "six.zip"]
)
def test_check_distribution_refuses_a_missing_path(tmp_path, spec):
    error = error_of(check_distribution, spec, str(tmp_path))
    assert error.msg == f"pyti_distributions: {spec!r} looks like a path but no such file exists"


def test_check_distribution_refuses_a_directory_named_like_an_archive(tmp_path):
    (tmp_path / "six.whl").mkdir()
    error = error_of(check_distribution, "six.whl", str(tmp_path))
    assert error.msg == "pyti_distributions: 'six.whl' looks like a path but no such file exists"


def test_check_distribution_resolves_an_existing_path_against_base_dir(tmp_path):
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "six-1.16.0.tar.gz").write_bytes(b"")
    expected = str(tmp_path / "dist" / "six-1.16.0.tar.gz")
    assert check_distribution("dist/six-1.16.0.tar.gz", str(tmp_path)) == expected
    assert check_distribution("./dist/../dist/six-1.16.0.tar.gz", str(tmp_path)) == expected
    assert check_distribution(expected, "elsewhere") == expected


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        pytest.param(["install"], ["install"], id="install-only"),
        pytest.param(["test", "install", "import"], ["install", "import", "test"], id="reorder"),
        pytest.param([" test ", "install", "test"], ["install", "test"], id="strip-dedupe"),
    ],
)
def test_check_tasks_puts_tasks_in_run_order(tasks, expected):
    assert check_tasks(tasks) == expected


@pytest.mark.parametrize(
    ("tasks", "msg"),
    [
        pytest.param(
            ["install", "lint"],
            "pyti_tasks: unknown task 'lint' (known: install, import, test)",
            id="unknown",
        ),
        pytest.param(
            ["import", "test"],
            "pyti_tasks: ['import', 'test'] lacks 'install', which every other task needs",
            id="no-install",
        ),
        pytest.param(
            [], "pyti_tasks: [] lacks 'install', which every other task needs", id="empty"
        ),
        pytest.param(
            "install", "pyti_tasks must be a list of non-empty strings, got 'install'", id="string"
        ),
        pytest.param(
            ["install", " "],
            "pyti_tasks must be a list of non-empty strings, got ['install', ' ']",
            id="blank",
        ),
        pytest.param(
            ["install", 1],
            "pyti_tasks must be a list of non-empty strings, got ['install', 1]",
            id="not-a-string",
        ),
    ],
)
def test_check_tasks_errors(tasks, msg):
    assert error_of(check_tasks, tasks).msg == msg


def test_check_driver():
    assert check_driver("namespace") == "namespace"
    error = error_of(check_driver, "docker")
    assert error.msg == "pyti_driver: unknown driver 'docker' (known: namespace, qemu)"
    assert error.context == {"field": "pyti_driver", "value": "docker"}


def test_check_distributions_removes_duplicates_in_order(tmp_path):
    specs = ["six==1.16.0", "attrs", "six == 1.16.0", " attrs ", "six"]
    assert check_distributions(specs, str(tmp_path)) == ["six==1.16.0", "attrs", "six"]


@pytest.mark.parametrize(
    ("value", "msg"),
    [
        pytest.param([], "pyti_distributions is empty: give at least one distribution", id="empty"),
        pytest.param(
            "six", "pyti_distributions must be a list of non-empty strings, got 'six'", id="string"
        ),
        pytest.param(
            ["six", ""],
            "pyti_distributions must be a list of non-empty strings, got ['six', '']",
            id="blank",
        ),
        pytest.param(
            ["six", "six=1.0"],
            "pyti_distributions: 'six=1.0' is not a valid requirement: Expected semicolon "
            "(after name with no version specifier) or end",
            id="first-bad-spec",
        ),
    ],
)
def test_check_distributions_errors(tmp_path, value, msg):
    assert error_of(check_distributions, value, str(tmp_path)).msg == msg


def test_limits_defaults():
    expected = {
        "task_timeout": 900,
        "vm_timeout": 2400,
        "no_output_timeout": 300,
        "output_bytes": 1048576,
        "results_bytes": 33554432,
        "results_files": 64,
        "memory_bytes": 2147483648,
        "processes": 512,
        "scratch_bytes": 2147483648,
        "scratch_inodes": 200000,
        "vm_cpus": 1,
    }
    assert _limits.check(None) == expected
    assert _limits.check({}) == expected
    assert _limits.check({"task_timeout": 60}) == {**expected, "task_timeout": 60}
    assert _limits.check({"output_bytes": 1024})["output_bytes"] == 1024


@pytest.mark.parametrize(
    ("limits", "msg"),
    [
        pytest.param(
            {"cpus": 2},
            "pyti_limits.cpus is not a known limit (known: memory_bytes, no_output_timeout, "
            "output_bytes, processes, results_bytes, results_files, scratch_bytes, "
            "scratch_inodes, task_timeout, vm_cpus, vm_timeout)",
            id="unknown",
        ),
        pytest.param(
            {"task_timeout": -5},
            "pyti_limits.task_timeout must be an integer >= 1, got -5",
            id="negative",
        ),
        pytest.param(
            {"vm_timeout": 0}, "pyti_limits.vm_timeout must be an integer >= 1, got 0", id="zero"
        ),
        pytest.param(
            {"task_timeout": True},
            "pyti_limits.task_timeout must be an integer >= 1, got True",
            id="bool",
        ),
        pytest.param(
            {"task_timeout": "60"},
            "pyti_limits.task_timeout must be an integer >= 1, got '60'",
            id="string",
        ),
        pytest.param(
            {"task_timeout": 1.5},
            "pyti_limits.task_timeout must be an integer >= 1, got 1.5",
            id="float",
        ),
        pytest.param(
            {"task_timeout": None},
            "pyti_limits.task_timeout must be an integer >= 1, got None",
            id="none",
        ),
        pytest.param(
            {"output_bytes": 1023},
            "pyti_limits.output_bytes must be an integer >= 1024, got 1023",
            id="below-minimum",
        ),
        pytest.param(
            [("task_timeout", 60)],
            "pyti_limits must be a mapping, got [('task_timeout', 60)]",
            id="not-a-mapping",
        ),
    ],
)
def test_limits_errors(limits, msg):
    assert error_of(_limits.check, limits).msg == msg


def test_limits_error_names_the_field():
    error = error_of(_limits.check, {"task_timeout": 60, "vm_timeout": -1})
    assert error.context == {"field": "pyti_limits.vm_timeout", "value": -1}


def slave(capacity, *pythons):
    return {"capacity": capacity, "pythons": {p: {"path": f"python{p}"} for p in pythons}}


def placement(jobs):
    return [(j["id"], j["distribution"], j["python"], j["slave"]) for j in jobs]


def test_job_matrix_weights_slaves_by_capacity():
    slaves = {"big": slave(3, "3.11"), "small": slave(1, "3.11")}
    jobs, lacking = job_matrix(["a", "b", "c", "d", "e", "f", "g", "h"], ["3.11"], slaves)
    assert [j["slave"] for j in jobs] == [
        "big",
        "small",
        "big",
        "big",
        "big",
        "small",
        "big",
        "big",
    ]
    assert [j["id"] for j in jobs] == [f"j000{i}" for i in range(1, 9)]
    assert lacking == []


def test_job_matrix_gives_a_python_only_to_slaves_that_have_it():
    slaves = {"s1": slave(2, "3.11"), "s2": slave(1, "3.11", "3.12")}
    jobs, lacking = job_matrix(["six", "attrs"], ["3.12", "3.9", "3.11"], slaves)
    assert placement(jobs) == [
        ("j0001", "six", "3.12", "s2"),
        ("j0002", "attrs", "3.12", "s2"),
        ("j0003", "six", "3.11", "s1"),
        ("j0004", "attrs", "3.11", "s1"),
    ]
    assert jobs[0]["python_info"] == {"path": "python3.12"}
    assert lacking == ["3.9"]


def test_job_matrix_with_no_slave_having_any_python():
    jobs, lacking = job_matrix(["six"], ["3.9", "3.8"], {"s1": slave(1, "3.11")})
    assert (jobs, lacking) == ([], ["3.9", "3.8"])


def test_job_matrix_ids_have_four_digits_and_go_on():
    jobs, _lacking = job_matrix([f"d{i}" for i in range(10001)], ["3.11"], {"s": slave(0, "3.11")})
    assert [j["id"] for j in jobs[-2:]] == ["j10000", "j10001"]
    assert jobs[8]["id"] == "j0009"


def test_new_run_id_shape():
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", new_run_id())


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("pyti_distribution", "pyti_distributions"),
        ("pyti_python", "pyti_pythons"),
        ("pyti_workdir", "pyti_work_dir"),
        ("pyti_capcity", "pyti_capacity"),
        ("pyti_resum", "pyti_resume"),
        ("pyti_dirver", "pyti_driver"),
        ("pyti_cachedir", "pyti_cache_dir"),
    ],
)
def test_a_misspelled_variable_is_named_with_what_it_looks_like(typo, meant):
    with pytest.raises(ConfigError) as caught:
        _config.check_variable_names(["pyti_pythons", typo, "ansible_host", 42])
    assert caught.value.msg == f"{typo} is not a PYTI variable: did you mean {meant}?"
    assert caught.value.context == {"field": typo, "value": meant}


def test_the_projects_own_variables_and_unrelated_ones_pass():
    """Every pyti_ name the playbooks, Molecule scenarios and inventories use, and names
    that look like no PYTI variable (a user's own), pass."""
    root = Path(__file__).resolve().parents[8]
    used = set()
    for folder in ("playbooks", "molecule", "inventories"):
        for path in (root / folder).rglob("*.yml"):
            used.update(re.findall(r"\bpyti_[a-z_]+", path.read_text(encoding="utf-8")))
    assert "pyti_distributions" in used and "pyti_scenario_dir" in used
    # A user's own names, even long ones built on a PYTI variable's, are not typos.
    own = ["pyti_my_own_setting", "pyti_", "pyti_extra_distributions", "pyti_report_url"]
    own += ["pyti_heartbeat_timeout_s", "pyti_reporter", "pyti_reuse", "pyti_candidate_dir"]
    _config.check_variable_names(sorted(used) + own)
