"""playbooks/compare.yml on two real runs: exact classes, the three outputs, bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, load_report, run_playbook
from fixtures.sdists import make_sdist

ADD = "def add(a, b):\n    return a + b\n"
TESTS = """\
from pyti_fx_cmp import add

def test_add():
    assert add(1, 2) == {expected}
"""


def sdists(folder: Path, version: str, expected: int, only: str) -> list[str]:
    """pyti-fx-cmp at VERSION, whose test expects EXPECTED, and a distribution named ONLY."""
    files = {"pyti_fx_cmp/__init__.py": ADD, "tests/test_add.py": TESTS.format(expected=expected)}
    module = only.replace("-", "_")
    return [
        str(make_sdist(folder, "pyti-fx-cmp", files, version=version)),
        str(make_sdist(folder, only, {f"{module}/__init__.py": "VALUE = 1\n"})),
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cache_dir):
    tmp = tmp_path_factory.mktemp("compare")
    reports = tmp / "reports"
    ids = []
    for name, version, expected, only in (
        ("a", "1.0", 3, "pyti-fx-only-a"),
        ("b", "2.0", 4, "pyti-fx-only-b"),
    ):
        extra = {
            "pyti_distributions": sdists(tmp / name, version, expected, only),
            "pyti_report_dir": str(reports),
            "pyti_cache_dir": str(cache_dir),
            "pyti_work_dir": str(tmp / "slave"),
        }
        proc = run_playbook(extra, tmp)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        ids.append(load_report(reports)["run"]["id"])
    return {"tmp": tmp, "reports": reports, "base": ids[0], "head": ids[1]}


def compare(runs, base, head, name="compare"):
    folder = runs["tmp"] / name
    folder.mkdir(exist_ok=True)
    extra = {
        "pyti_compare_base": base,
        "pyti_compare_head": head,
        "pyti_report_dir": str(runs["reports"]),
    }
    return run_playbook(extra, folder, playbook="playbooks/compare.yml")


@pytest.fixture(scope="module")
def comparison(runs):
    proc = compare(runs, runs["base"], "latest")
    assert proc.returncode == 0, proc.stdout[-4000:]
    folder = runs["reports"] / f"compare-{runs['base']}-{runs['head']}"
    return {"dir": folder, "json": json.loads((folder / "comparison.json").read_text())}


def test_exact_classes(comparison):
    got = {(e["distribution"], e["task"]): e["class"] for e in comparison["json"]["entries"]}
    assert got == {
        ("pyti-fx-cmp", "install"): "still passing",
        ("pyti-fx-cmp", "import"): "still passing",
        ("pyti-fx-cmp", "test"): "regressed",
        ("pyti-fx-only-a", "install"): "gone",
        ("pyti-fx-only-a", "import"): "gone",
        ("pyti-fx-only-a", "test"): "gone",
        ("pyti-fx-only-b", "install"): "new",
        ("pyti-fx-only-b", "import"): "new",
        ("pyti-fx-only-b", "test"): "new",
    }
    (regressed,) = [e for e in comparison["json"]["entries"] if e["class"] == "regressed"]
    assert (regressed["base"]["version"], regressed["head"]["version"]) == ("1.0", "2.0")
    assert regressed["head"]["reason"].startswith("1 of 1 tests failed: ")
    # Both runs installed the same pytest: only the distribution's own wheel moved.
    assert regressed["wheelhouse"] == ["pyti-fx-cmp 1.0 \u2192 2.0"]


def test_markdown_and_html(comparison, runs):
    markdown = (comparison["dir"] / "comparison.md").read_text()
    assert markdown.startswith(f"# PYTI comparison {runs['base']} \u2192 {runs['head']}\n")
    assert "| 1 | 0 | 0 | 3 | 3 | 0 | 2 |" in markdown
    assert re.search(
        r"^\| regressed \| pyti-fx-cmp \| 1\.0 → 2\.0 \| \S+ \| test \| passed \| "
        r"failed \| pyti-fx-cmp 1\.0 → 2\.0 \| 1 of 1 tests failed: ",
        markdown,
        re.M,
    )
    page = (comparison["dir"] / "comparison.html").read_text()
    assert page.count('data-class="regressed"') == 1
    assert "<script" not in page


def test_same_reports_again_change_nothing(runs, comparison):
    base = runs["reports"] / runs["base"] / "report.json"
    proc = compare(runs, str(base), str(runs["reports"] / runs["head"]), name="again")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert re.search(r"localhost\s+: ok=2\s+changed=0", proc.stdout), proc.stdout[-2000:]


@pytest.mark.parametrize(
    "base, head, message",
    [
        (
            "no-such-run",
            "latest",
            "pyti_compare_base: 'no-such-run' is neither a report.json, "
            "a run directory nor a run id in ",
        ),
        ("latest", "raw", "pyti_compare_head: 'raw' is neither a report.json"),
        (None, "latest", "pyti_compare_base: missing: give a run id or the path of a report.json"),
    ],
)
def test_bad_input_is_one_line_naming_the_variable(runs, base, head, message):
    proc = compare(runs, base, head, name="bad")
    assert proc.returncode != 0
    assert message in proc.stdout


def test_broken_report_is_named(runs):
    broken = runs["tmp"] / "broken.json"
    broken.write_text('{"report_version": 7}')
    proc = compare(runs, "latest", str(broken), name="broken")
    assert proc.returncode != 0
    assert f"pyti_compare_head: '{broken}' has report_version 7, expected 1" in proc.stdout


def test_documentation_renders():
    doc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-doc"),
            "-t",
            "module",
            "pyti.core.report_compare",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert doc.returncode == 0, doc.stderr
    assert "pyti.core.report_compare" in doc.stdout
    assert "ERROR" not in doc.stderr
