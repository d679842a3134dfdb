"""results_fetch on its own: what reaches the controller, and what stays on the slave."""

from __future__ import annotations

import os
import sys

import pytest
import yaml
from conftest import ROOT, run_playbook

# The archive is packed by the collection's own code, as task_progress packs it.
if str(ROOT / "collections") not in sys.path:
    sys.path.insert(0, str(ROOT / "collections"))
from ansible_collections.pyti.core.plugins.module_utils import _raw_archive  # noqa: E402

RUN = "20261205T000000Z-fe7c11"


def _slave_run(tmp_path):
    """A slave's work dir holding one run's raw results: two jobs, one nested file."""
    work = tmp_path / "slave"
    raw = work / "runs" / RUN / "raw"
    (raw / "j0001" / "vm").mkdir(parents=True)
    (raw / "j0001" / "test.log").write_text("3 passed\n")
    (raw / "j0001" / "vm" / "junit.xml").write_text("<testsuites/>\n")
    (raw / "j0002").mkdir()
    (raw / "j0002" / "install.log").write_text("no wheel\n")
    return work


def _fetch(tmp_path, work, dest, **options):
    task = {"run_id": RUN, "work_dir": str(work), "dest": str(dest), **options}
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [{"name": "Fetch", "pyti.core.results_fetch": task}],
        }
    ]
    playbook = tmp_path / "fetch.yml"
    playbook.write_text(yaml.safe_dump(play))
    return run_playbook({}, tmp_path, playbook=str(playbook))


def test_a_truncated_archive_is_a_failed_fetch_that_keeps_the_raw_results(tmp_path):
    work = _slave_run(tmp_path)
    archive = _raw_archive.pack(str(work / "runs" / RUN))
    with open(archive, "r+b") as handle:
        handle.truncate(150)
    proc = _fetch(tmp_path, work, tmp_path / "controller", archive=archive)
    assert proc.returncode != 0
    assert f"they stay on the slave in {work / 'runs' / RUN}" in proc.stdout
    assert os.listdir(work / "runs") == [RUN]


def _files(folder):
    return sorted(
        os.path.relpath(os.path.join(path, name), folder)
        for path, _dirs, names in os.walk(folder)
        for name in names
    )


def test_fetched_results_leave_nothing_on_the_slave(tmp_path):
    work = _slave_run(tmp_path)
    dest = tmp_path / "controller" / "raw" / "localhost"
    proc = _fetch(tmp_path, work, dest)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _files(dest) == ["j0001/test.log", "j0001/vm/junit.xml", "j0002/install.log"]
    assert (dest / "j0001" / "test.log").read_text() == "3 passed\n"
    assert os.listdir(work / "runs") == []


def test_keep_leaves_the_run_folder_but_not_the_archive(tmp_path):
    work = _slave_run(tmp_path)
    dest = tmp_path / "controller"
    proc = _fetch(tmp_path, work, dest, keep=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert os.listdir(work / "runs") == [RUN]
    assert _files(work / "runs" / RUN / "raw") == _files(dest)


def test_a_failed_fetch_loses_no_raw_results(tmp_path):
    work = _slave_run(tmp_path)
    blocker = tmp_path / "controller"
    blocker.write_text("a file where the destination's parent should be\n")
    proc = _fetch(tmp_path, work, blocker / "raw" / "localhost")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "Fetching results failed" in out
    assert f"they stay on the slave in {work / 'runs' / RUN}" in out
    # The run's folder is whole; only the archive made for the fetch is gone.
    assert os.listdir(work / "runs") == [RUN]
    assert _files(work / "runs" / RUN) == [
        "raw/j0001/test.log",
        "raw/j0001/vm/junit.xml",
        "raw/j0002/install.log",
    ]


def test_an_archive_packed_by_task_progress_is_fetched_as_it_is(tmp_path):
    work = _slave_run(tmp_path)
    archive = _raw_archive.pack(str(work / "runs" / RUN))
    # Packed before: a file that lands in raw/ later is not part of what is fetched.
    (work / "runs" / RUN / "raw" / "j0003").mkdir()
    (work / "runs" / RUN / "raw" / "j0003" / "late.log").write_text("late\n")
    dest = tmp_path / "controller"
    proc = _fetch(tmp_path, work, dest, archive=archive)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _files(dest) == ["j0001/test.log", "j0001/vm/junit.xml", "j0002/install.log"]
    assert os.listdir(work / "runs") == []


@pytest.mark.parametrize(
    "archive",
    [
        "/etc/passwd",
        "runs/{run}.tar.gz",
        "{work}/runs/../runs/{run}.tar.gz",
        "{work}/runs/20261205T000000Z-other1.tar.gz",
        # The right shape in another folder: another slave's work dir on the same kernel.
        "{tmp}/other/runs/{run}.tar.gz",
        "/runs/{run}.tar.gz",
    ],
)
def test_an_archive_that_is_not_this_runs_is_refused_and_nothing_is_removed(tmp_path, archive):
    work = _slave_run(tmp_path)
    other = tmp_path / "other" / "runs" / RUN
    (other / "raw").mkdir(parents=True)
    (other / "keep.txt").write_text("not this run's\n")
    _raw_archive.pack(str(other))
    value = archive.format(work=work, run=RUN, tmp=tmp_path)
    proc = _fetch(tmp_path, work, tmp_path / "controller", archive=value)
    assert proc.returncode != 0
    why = f"is not the path of run {RUN}'s packed raw results in {work}"
    assert f"archive: {value!r} {why}" in proc.stdout
    assert (other / "keep.txt").is_file()
    assert _files(work / "runs") == [
        f"{RUN}/raw/j0001/test.log",
        f"{RUN}/raw/j0001/vm/junit.xml",
        f"{RUN}/raw/j0002/install.log",
    ]
