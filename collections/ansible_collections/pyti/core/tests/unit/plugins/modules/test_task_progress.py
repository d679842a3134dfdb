# SPDX-License-Identifier: GPL-3.0-or-later
"""task_progress: when a background batch counts as finished, and how long a call waits."""

from __future__ import annotations

import json
import os
import tarfile
import threading
import time

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes
from ansible_collections.pyti.core.plugins.module_utils import _progress
from ansible_collections.pyti.core.plugins.modules import task_progress

RUN = "20261204T000000Z-abcdef"


def _call(monkeypatch, capsys, **params) -> dict:
    args = json.dumps({"ANSIBLE_MODULE_ARGS": params})
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", to_bytes(args))
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
    with pytest.raises(SystemExit):
        task_progress.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def batch(tmp_path):
    progress = _progress.Progress(_progress.progress_path(str(tmp_path), RUN))
    progress.start(2)
    return tmp_path, progress


def test_the_last_progress_line_does_not_finish_a_task_whose_results_are_not_written(batch):
    work, progress = batch
    progress.finish()
    results = work / "async"
    results.write_text(json.dumps({"started": 1, "finished": 0}))
    path = _progress.progress_path(str(work), RUN)
    assert task_progress.finished(path, str(results)) is False
    results.write_text(json.dumps({"started": 1, "finished": 1, "pyti_results": []}))
    assert task_progress.finished(path, str(results)) is True


def test_a_task_that_died_is_finished(batch):
    work, _progress_file = batch
    results = work / "async"
    results.write_text(json.dumps({"failed": 1, "msg": "killed"}))
    assert task_progress.finished(_progress.progress_path(str(work), RUN), str(results)) is True


def test_without_results_file_the_progress_tells(batch):
    work, progress = batch
    path = _progress.progress_path(str(work), RUN)
    assert task_progress.finished(path, None) is False
    progress.finish()
    assert task_progress.finished(path, None) is True


def test_a_call_returns_as_soon_as_the_task_ends(batch, monkeypatch, capsys):
    work, _progress_file = batch
    results = work / "async"
    results.write_text(json.dumps({"started": 1, "finished": 0}))

    def end_later():
        time.sleep(0.5)
        results.write_text(json.dumps({"started": 1, "finished": 1}))

    threading.Thread(target=end_later).start()
    started = time.monotonic()
    out = _call(
        monkeypatch, capsys, run_id=RUN, work_dir=str(work), results_file=str(results), wait=30
    )
    assert out["finished"] is True
    assert time.monotonic() - started < 10
    assert out["pyti_progress"]["total"] == 2


def test_a_call_returns_the_progress_so_far_when_its_wait_is_over(batch, monkeypatch, capsys):
    work, _progress_file = batch
    results = work / "async"
    results.write_text(json.dumps({"started": 1, "finished": 0}))
    out = _call(
        monkeypatch, capsys, run_id=RUN, work_dir=str(work), results_file=str(results), wait=0.3
    )
    assert out["finished"] is False
    assert out["pyti_progress"]["done"] == 0


def test_a_wait_out_of_range_is_refused(batch, monkeypatch, capsys):
    work, _progress_file = batch
    out = _call(monkeypatch, capsys, run_id=RUN, work_dir=str(work), wait=-1)
    assert out["failed"] is True
    assert out["msg"] == "wait must be from 0 to 600 seconds, not -1.0"


def test_the_last_call_returns_the_task_results_and_removes_its_status_file(
    batch, monkeypatch, capsys
):
    work, _progress_file = batch
    results = work / "async"
    ended = {"changed": True, "pyti_results": [{"job": "j0001"}], "raw_dir": "/x", "leftovers": []}
    results.write_text(json.dumps(ended))
    out = _call(monkeypatch, capsys, run_id=RUN, work_dir=str(work), results_file=str(results))
    assert out["finished"] is True
    assert (out["pyti_results"], out["raw_dir"], out["leftovers"]) == ([{"job": "j0001"}], "/x", [])
    assert not results.exists()


def test_a_task_that_failed_fails_the_wait_with_its_message(batch, monkeypatch, capsys):
    work, _progress_file = batch
    results = work / "async"
    results.write_text(json.dumps({"failed": 1, "msg": "Running the VMs failed on slave s1: x"}))
    out = _call(monkeypatch, capsys, run_id=RUN, work_dir=str(work), results_file=str(results))
    assert (out["failed"], out["finished"]) == (True, True)
    assert out["msg"] == "Running the VMs failed on slave s1: x"
    assert "pyti_results" not in out
    assert not results.exists()


def test_the_last_call_packs_the_raw_results_when_asked(batch, monkeypatch, capsys):
    work, _progress_file = batch
    raw = work / "runs" / RUN / "raw" / "j0001"
    raw.mkdir(parents=True)
    (raw / "test.log").write_text("2 passed\n")
    results = work / "async"
    params = {"run_id": RUN, "work_dir": str(work), "results_file": str(results)}

    results.write_text(json.dumps({"started": 1, "finished": 0}))
    assert "archive" not in _call(monkeypatch, capsys, **params, pack=True)

    results.write_text(json.dumps({"changed": True, "pyti_results": []}))
    assert "archive" not in _call(monkeypatch, capsys, **params)
    assert not (work / "runs" / f"{RUN}.tar.gz").exists()

    results.write_text(json.dumps({"changed": True, "pyti_results": []}))
    out = _call(monkeypatch, capsys, **params, pack=True)
    assert out["archive"] == str(work / "runs" / f"{RUN}.tar.gz")
    with tarfile.open(out["archive"]) as tf:
        assert tf.getnames() == ["raw", "raw/j0001", "raw/j0001/test.log"]

    # A batch that failed has nothing to fetch: no archive.
    os.remove(out["archive"])
    results.write_text(json.dumps({"failed": 1, "msg": "lost"}))
    assert "archive" not in _call(monkeypatch, capsys, **params, pack=True)
    assert not (work / "runs" / f"{RUN}.tar.gz").exists()
