# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from ansible_collections.pyti.core.plugins.module_utils import _rawresults
from ansible_collections.pyti.core.plugins.module_utils._rawresults import (
    MAX_DEPTH,
    collect,
    junit_counts,
    load_json,
)

# JUnit XML as pytest writes it with junit_family=xunit2.
JUNIT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="2" skipped="1" tests="6" time="0.2"
 timestamp="2026-12-04T16:10:05.000000+00:00" hostname="pyti-vm">
<testcase classname="tests.test_x" name="test_ok" time="0.001" />
<testcase classname="tests.test_x" name="test_ok[2]" time="0.001" />
<testcase classname="tests.test_x" name="test_bad" time="0.002"><failure
 message="assert 1 == 2">def test_bad():
&gt;       assert 1 == 2
E       assert 1 == 2</failure></testcase>
<testcase classname="tests.test_x" name="test_setup" time="0.000"><error
 message="failed on setup with &quot;fixture 'nope' not found&quot;">file tests/test_x.py</error>
</testcase>
<testcase classname="tests.test_x" name="test_skip" time="0.000"><skipped type="pytest.skip"
 message="not on Linux">tests/test_x.py:9: not on Linux</skipped></testcase>
<testcase classname="" name="test_bare" time="0.000"><failure message="">boom</failure>
</testcase>
</testsuite></testsuites>
"""


def write(path, data=b"data"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_regular_files_are_accepted(tmp_path):
    write(tmp_path / "junit.xml", b"<x/>")
    write(tmp_path / "sub" / "import.json", b"{}")
    write(tmp_path / "a" / "b" / "c" / "deep.txt", b"deep")
    found = collect(str(tmp_path))
    assert found.files == {
        "a/b/c/deep.txt": b"deep",
        "junit.xml": b"<x/>",
        "sub/import.json": b"{}",
    }
    assert found.rejected == []
    assert found.total == 10


def test_symlink_is_rejected_and_its_target_never_opened(tmp_path, monkeypatch):
    canary = write(tmp_path / "canary", b"CANARY")
    results = tmp_path / "results"
    results.mkdir()
    (results / "link.json").symlink_to(canary)
    (results / "dirlink").symlink_to(tmp_path)
    opened = []
    real_open = os.open

    def spy(path, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(_rawresults.os, "open", spy)
    found = collect(str(results))
    assert found.files == {}
    assert found.rejected == [
        {"path": "dirlink", "reason": "not a regular file (symlink)"},
        {"path": "link.json", "reason": "not a regular file (symlink)"},
    ]
    assert opened == [str(results)]


def test_hard_link_is_rejected(tmp_path):
    outside = write(tmp_path / "outside", b"secret")
    results = tmp_path / "results"
    results.mkdir()
    os.link(outside, results / "test.json")
    found = collect(str(results))
    assert found.files == {}
    assert found.rejected == [{"path": "test.json", "reason": "hard link"}]


def test_fifo_is_rejected_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "junit.xml")
    found = collect(str(tmp_path))
    assert found.files == {}
    assert found.rejected == [{"path": "junit.xml", "reason": "not a regular file (fifo)"}]


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        pytest.param("with space.txt", "with space.txt", id="space"),
        pytest.param("bell\x07.txt", "bell\\x07.txt", id="control-char"),
        pytest.param("esc\x1b[31m", "esc\\x1b[31m", id="escape-sequence"),
        pytest.param(".hidden", ".hidden", id="leading-dot"),
        pytest.param("caf\u00e9", "caf\\xe9", id="non-ascii"),
        pytest.param("x" * 129, "x" * 129, id="too-long"),
    ],
)
def test_unsafe_names_are_rejected_and_shown_escaped(tmp_path, name, shown):
    write(tmp_path / name)
    found = collect(str(tmp_path))
    assert found.files == {}
    assert found.rejected == [
        {"path": shown, "reason": "name with characters outside [A-Za-z0-9._+-]"}
    ]


def test_undecodable_name_is_rejected_and_shown_escaped(tmp_path):
    with open(os.path.join(os.fsencode(tmp_path), b"bad\xff.txt"), "wb") as handle:
        handle.write(b"data")
    found = collect(str(tmp_path))
    assert found.files == {}
    assert found.rejected == [
        {"path": "bad\\udcff.txt", "reason": "name with characters outside [A-Za-z0-9._+-]"}
    ]


def test_name_with_a_trailing_newline_is_rejected(tmp_path):
    write(tmp_path / "junit.xml\n")
    found = collect(str(tmp_path))
    assert found.files == {}


def test_directory_beyond_max_depth_is_rejected(tmp_path):
    parts = [f"d{i}" for i in range(MAX_DEPTH + 1)]
    write(tmp_path.joinpath(*parts) / "deep.txt")
    write(tmp_path.joinpath(*parts[:MAX_DEPTH]) / "ok.txt", b"ok")
    found = collect(str(tmp_path))
    assert found.files == {"d0/d1/d2/ok.txt": b"ok"}
    assert found.rejected == [
        {"path": "d0/d1/d2/d3", "reason": "not a regular file (directory too deep)"}
    ]


def test_files_over_max_files_are_rejected(tmp_path):
    for name in ("a", "b", "c", "d"):
        write(tmp_path / name, name.encode())
    found = collect(str(tmp_path), max_files=2)
    assert found.files == {"a": b"a", "b": b"b"}
    assert found.rejected == [
        {"path": "c", "reason": "limit: results files (2)"},
        {"path": "d", "reason": "limit: results files (2)"},
    ]


def test_bytes_over_max_bytes_are_rejected_but_smaller_files_still_fit(tmp_path):
    write(tmp_path / "a", b"123456")
    write(tmp_path / "b", b"1234567")
    write(tmp_path / "c", b"1234")
    found = collect(str(tmp_path), max_bytes=10)
    assert found.files == {"a": b"123456", "c": b"1234"}
    assert found.rejected == [{"path": "b", "reason": "limit: results bytes (10)"}]
    assert found.total == 10


def test_rejections_are_capped_at_one_hundred(tmp_path):
    for i in range(120):
        os.mkfifo(tmp_path / f"f{i:03d}")
    assert len(collect(str(tmp_path)).rejected) == 100


def test_missing_results_dir_is_one_rejection(tmp_path):
    found = collect(str(tmp_path / "nope"))
    assert found.files == {}
    assert found.rejected == [
        {"path": ".", "reason": "results dir unreadable: No such file or directory"}
    ]


def test_results_dir_that_is_a_symlink_is_not_followed(tmp_path):
    write(tmp_path / "real" / "junit.xml")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    found = collect(str(tmp_path / "link"))
    assert found.files == {}
    assert found.rejected == [{"path": ".", "reason": "results dir unreadable: Not a directory"}]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b'{"modules": []}', {"modules": []}, id="object"),
        pytest.param(None, None, id="missing"),
        pytest.param(b"{not json", None, id="bad-json"),
        pytest.param(b"", None, id="empty"),
        pytest.param(b"[1, 2]", None, id="list"),
        pytest.param(b'"text"', None, id="string"),
        pytest.param(b'{"a": "\xff"}', None, id="invalid-utf-8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, None, id="too-deep"),
    ],
)
def test_load_json(data, expected):
    assert load_json(data) == expected


def test_junit_counts_of_pytest_xunit2():
    counts, failures = junit_counts(JUNIT)
    assert counts == {"passed": 2, "failed": 2, "errors": 1, "skipped": 1}
    assert failures == [
        {"name": "tests.test_x::test_bad", "message": "assert 1 == 2", "outcome": "failed"},
        {
            "name": "tests.test_x::test_setup",
            "message": "failed on setup with \"fixture 'nope' not found\"",
            "outcome": "errors",
        },
        {"name": "test_bare", "message": "", "outcome": "failed"},
    ]


def test_junit_counts_of_a_real_pytest_run(tmp_path):
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n\n"
        "@pytest.fixture\n"
        "def broken():\n"
        "    raise RuntimeError('setup broke')\n\n"
        "@pytest.mark.parametrize('n', [1, 2])\n"
        "def test_ok(n):\n"
        "    assert n\n\n"
        "def test_bad():\n"
        "    assert 1 == 2\n\n"
        "def test_error(broken):\n"
        "    pass\n\n"
        "@pytest.mark.skip(reason='not here')\n"
        "def test_skip():\n"
        "    pass\n",
        encoding="utf-8",
    )
    options = "-q -p no:cacheprovider -o junit_family=xunit2 --junitxml=junit.xml"
    command = [sys.executable, "-m", "pytest", *options.split(), "test_sample.py"]
    subprocess.run(command, cwd=tmp_path, capture_output=True, check=False, timeout=60)
    counts, failures = junit_counts((tmp_path / "junit.xml").read_bytes())
    assert counts == {"passed": 2, "failed": 1, "errors": 1, "skipped": 1}
    assert [(f["name"], f["outcome"]) for f in failures] == [
        ("test_sample::test_bad", "failed"),
        ("test_sample::test_error", "errors"),
    ]
    assert failures[0]["message"] == "assert 1 == 2"


def test_junit_counts_keeps_the_first_fifty_failures():
    cases = b"".join(b'<testcase name="t%d"><failure/></testcase>' % i for i in range(60))
    counts, failures = junit_counts(b"<testsuite>" + cases + b"</testsuite>")
    assert counts["failed"] == 60
    assert len(failures) == 50
    assert failures[-1]["name"] == "t49"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param(b"not xml", "syntax error: line 1, column 0", id="garbage"),
        pytest.param(b"", "no element found: line 1, column 0", id="empty"),
        pytest.param(b"<testsuite><testcase>", "no element found: line 1, column 21", id="cut"),
    ],
)
def test_junit_counts_of_garbage_is_value_error(data, error):
    with pytest.raises(ValueError) as raised:
        junit_counts(data)
    assert str(raised.value) == f"JUnit XML does not parse: {error}"
