"""Candidate mode end to end: a new build of a library against the distributions using it.

pyti-fx-libx 1.0 is the released library, served from a local folder (pyti_find_links)
that the test builds; its candidate 2.0 renames parse() to parse_int(). Each dependent
stands for one class of the comparison.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import ROOT, load_report, run_playbook
from fixtures.sdists import make_sdist

LIBX = {
    "1.0": "def parse(text):\n    return int(text)\n\n\ndef double(x):\n    return 2 * x\n",
    "2.0": "def parse_int(text):\n    return int(text)\n\n\ndef double(x):\n    return 2 * x\n",
}
USES_LIBX = 'dependencies = ["pyti-fx-libx"]\n'
# The flaky dependent: VMs are disposable, so a test cannot count its own runs, and the
# harness must not tell a test that it is being re-run. What does differ between a run and
# its re-run, and is visible in the VM, is the VM's name (run id and job id, in PYTI_VM):
# in candidate mode the jobs of a pair are numbered baseline first, so every candidate job
# ends in an even digit, and re-runs end in "-rerun". This test depends on the name the
# way real flaky tests depend on their host or their order: it fails on the candidate's
# first run only, deterministically, and passes everywhere else.
FLAKY_TEST = """\
import os


def test_depends_on_the_vm_name():
    name = os.environ.get("PYTI_VM", "")
    assert not (name[-1:].isdigit() and int(name[-1]) % 2 == 0), name
"""


def dependent(folder: Path, name: str, test: str, extra: str = USES_LIBX) -> str:
    module = name.replace("-", "_")
    files = {f"{module}/__init__.py": "VALUE = 1\n", "tests/test_it.py": test}
    return str(make_sdist(folder, name, files, extra=extra))


def corpus(folder: Path) -> list[str]:
    return [
        dependent(
            folder,
            "pyti-fx-uses-parse",
            "from pyti_fx_libx import parse\n\n\ndef test_parse():\n    assert parse('3') == 3\n",
        ),
        dependent(
            folder,
            "pyti-fx-steady",
            "from pyti_fx_libx import double\n\n\ndef test_double():\n    assert double(2) == 4\n",
        ),
        dependent(
            folder,
            "pyti-fx-broken",
            "from pyti_fx_libx import double\n\n\ndef test_double():\n    assert double(2) == 5\n",
        ),
        dependent(folder, "pyti-fx-flaky", FLAKY_TEST),
        dependent(
            folder,
            "pyti-fx-old",
            "from pyti_fx_libx import parse\n\n\ndef test_parse():\n    assert parse('3') == 3\n",
            extra='dependencies = ["pyti-fx-libx<2"]\n',
        ),
    ]


@pytest.fixture(scope="module")
def run(tmp_path_factory, cache_dir):
    tmp = tmp_path_factory.mktemp("candidate")
    index = tmp / "index"
    make_sdist(index, "pyti-fx-libx", {"pyti_fx_libx/__init__.py": LIBX["1.0"]})
    candidate = make_sdist(
        tmp / "candidate", "pyti-fx-libx", {"pyti_fx_libx/__init__.py": LIBX["2.0"]}, "2.0"
    )
    reports = tmp / "reports"
    extra = {
        "pyti_distributions": corpus(tmp / "dependents"),
        "pyti_candidate": str(candidate),
        "pyti_find_links": [str(index)],
        "pyti_report_dir": str(reports),
        "pyti_cache_dir": str(cache_dir),
        "pyti_work_dir": str(tmp / "slave"),
    }
    proc = run_playbook(extra, tmp)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-4000:]
    report = load_report(reports)
    folder = reports / report["run"]["id"]
    return {
        "proc": proc,
        "report": report,
        "candidate": candidate,
        "dir": folder,
        "comparison": json.loads((folder / "comparison.json").read_text()),
    }


def classes(comparison: dict) -> dict[str, str]:
    return {e["distribution"]: e["class"] for e in comparison["pairs"]}


def test_exact_classes(run):
    assert classes(run["comparison"]) == {
        "pyti-fx-uses-parse": "regressed",
        "pyti-fx-steady": "still passing",
        "pyti-fx-broken": "still failing",
        "pyti-fx-flaky": "flaky",
        "pyti-fx-old": "not applicable",
    }
    summary = run["comparison"]["summary"]
    assert summary == {
        "regressed": 1,
        "flaky": 1,
        "not applicable": 1,
        "infra": 0,
        "fixed": 0,
        "still failing": 1,
        "still passing": 1,
    }


def pair(run, name: str) -> dict:
    (entry,) = [e for e in run["comparison"]["pairs"] if e["distribution"] == name]
    return entry


def test_regression_was_run_again_and_names_the_new_failures(run):
    entry = pair(run, "pyti-fx-uses-parse")
    assert (entry["baseline"]["status"], entry["candidate"]["status"]) == ("passed", "error")
    assert entry["candidate"]["failure_kind"] == "task"
    assert entry["rerun"]["baseline"]["status"] == "passed"
    assert entry["rerun"]["candidate"]["status"] == "error"
    assert entry["new_failures"] == ["tests/test_it.py"]
    assert "cannot import name 'parse' from 'pyti_fx_libx'" in entry["log_tail"]


def test_flaky_pair_disagreed_on_its_rerun(run):
    """The flaky dependent fails on the candidate's first run only, and so is not regressed.

    Its test reads the VM's name (PYTI_VM, see FLAKY_TEST): a real value that differs
    between a job and its re-run, rather than a counter, which a disposable VM cannot keep,
    or a random draw, which would make the class itself random. The harness tells the test
    nothing about re-runs; the class follows from what the four runs really did.
    """
    entry = pair(run, "pyti-fx-flaky")
    first = (entry["baseline"]["status"], entry["candidate"]["status"])
    again = (entry["rerun"]["baseline"]["status"], entry["rerun"]["candidate"]["status"])
    assert (first, again) == (("passed", "failed"), ("passed", "passed"))


def test_only_regressed_pairs_run_again(run):
    jobs = sorted(r["job"] for r in run["report"]["results"] if r["job"].endswith("-rerun"))
    by_job = {r["job"]: r for r in run["report"]["results"]}
    assert len(jobs) == 4
    assert {by_job[j]["distribution"] for j in jobs} == {"pyti-fx-uses-parse", "pyti-fx-flaky"}
    assert sorted(by_job[j]["side"] for j in jobs) == ["baseline", "baseline"] + ["candidate"] * 2
    assert len(run["report"]["results"]) == 10 + 4


def test_not_applicable_names_the_requirement(run):
    entry = pair(run, "pyti-fx-old")
    assert entry["not_applicable"] == (
        "pyti-fx-old 1.0 requires pyti-fx-libx<2, which excludes the candidate pyti-fx-libx 2.0"
    )
    assert entry["baseline"]["status"] == "passed"
    assert entry["candidate"]["status"] == "skipped"


def test_both_sides_ran_on_the_same_slave_and_python(run):
    results = [r for r in run["report"]["results"] if not r["job"].endswith("-rerun")]
    sides = {}
    for result in results:
        sides.setdefault(result["distribution"], {})[result["side"]] = result
    assert len(sides) == 5
    for pair_ in sides.values():
        base, cand = pair_["baseline"], pair_["candidate"]
        assert (base["slave"], base["python_version"]) == (cand["slave"], cand["python_version"])


def test_report_records_the_candidate_and_validates(run):
    import hashlib

    import jsonschema

    (dist,) = run["report"]["candidate"]["distributions"]
    digest = hashlib.sha256(run["candidate"].read_bytes()).hexdigest()
    assert (dist["name"], dist["version"], dist["sha256"]) == ("pyti-fx-libx", "2.0", digest)
    assert run["report"]["candidate"]["summary"] == run["comparison"]["summary"]
    schema = ROOT / "collections/ansible_collections/pyti/core/meta/report.schema.json"
    jsonschema.validate(run["report"], json.loads(schema.read_text()))


def test_summary_and_page_open_with_the_regression(run):
    out = run["proc"].stdout
    opening = out[out.index("PYTI candidate pyti-fx-libx 2.0: ") :]
    assert opening.startswith(
        "PYTI candidate pyti-fx-libx 2.0: 1 regressed, 1 flaky, 1 not applicable, "
        "1 still failing, 1 still passing\n"
    )
    regressed = re.search(r"^REGRESSED pyti-fx-uses-parse 1\.0 \S+: test: .*$", opening, re.M)
    assert regressed and regressed.start() < opening.index("PYTI run ")
    assert "  new failing tests: tests/test_it.py" in opening
    page = (run["dir"] / "comparison.html").read_text()
    assert page.index('<h2 id="regressions">Regressions</h2>') < page.index('id="summary"')
    assert "cannot import name &#x27;parse&#x27;" in page
    assert page.count('data-class="regressed"') == 1
    assert "<script" not in page
    report_page = (run["dir"] / "report.html").read_text()
    assert report_page.index('<h2 id="regressions">') < report_page.index('id="summary"')
    assert report_page.count("pyti-fx-uses-parse (candidate, re-run)") == 1
    markdown = (run["dir"] / "comparison.md").read_text()
    assert "| 1 | 1 | 1 | 0 | 0 | 1 | 1 |" in markdown


@pytest.mark.parametrize(
    "candidate, message",
    [
        (
            "./no/such/libx-2.0.tar.gz",
            "pyti_candidate: './no/such/libx-2.0.tar.gz' looks like a path but no such file exists",
        ),
        ("libx >>= 2", "pyti_candidate: 'libx >>= 2' is not a valid requirement: "),
    ],
)
def test_bad_candidate_is_one_line_naming_the_variable(tmp_path, candidate, message):
    extra = {
        "pyti_distributions": ["six==1.16.0"],
        "pyti_candidate": candidate,
        "pyti_report_dir": str(tmp_path / "reports"),
    }
    proc = run_playbook(extra, tmp_path)
    assert proc.returncode != 0
    assert message in proc.stdout
    assert not (tmp_path / "reports").exists() or not list((tmp_path / "reports").iterdir())
