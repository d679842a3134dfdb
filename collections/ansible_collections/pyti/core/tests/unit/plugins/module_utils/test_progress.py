"""Progress files written while a batch runs, and the run-wide line built from them."""

from __future__ import annotations

from ansible_collections.pyti.core.plugins.module_utils import _progress


def test_progress_file_round_trip(tmp_path):
    path = tmp_path / "runs" / "r1" / "progress.jsonl"
    writer = _progress.Progress(str(path))
    writer.start(3)
    writer.add({"job": "j0001", "distribution": "six", "status": "passed", "duration_s": 1.0})
    writer.add({"job": "j0002", "distribution": "attrs", "status": "failed"})
    state = _progress.read(str(path))
    assert (state["total"], state["done"], state["ended"]) == (3, 2, False)
    assert state["by_status"] == {"passed": 1, "failed": 1, "error": 0, "timeout": 0, "skipped": 0}
    assert state["latest"] == ["six: passed", "attrs: failed"]
    writer.finish()
    assert _progress.read(str(path))["ended"] is True


def test_torn_last_line_and_missing_file_are_harmless(tmp_path):
    path = tmp_path / "progress.jsonl"
    assert _progress.read(str(path))["done"] == 0
    path.write_text('{"event": "start", "total": 2}\n{"event": "res')
    state = _progress.read(str(path))
    assert (state["total"], state["done"]) == (2, 0)


def test_board_line_adds_slaves_and_estimates_time_left():
    now = [100.0]
    board = _progress.Board(clock=lambda: now[0])
    s1 = {"total": 4, "done": 1, "by_status": {"passed": 1}, "started": 5000.0, "last": 5030.0}
    assert board.update("s1", s1)
    now[0] = 160.0
    # s2's clock is far from s1's and the controller's: each pace is read on its own clock.
    s2 = {"total": 4, "done": 3, "by_status": {"passed": 2, "error": 1}, "started": 10.0}
    assert board.update("s2", {**s2, "last": 70.0})
    assert not board.update("s2", {**s2, "last": 70.0})
    # s1: 30 s a VM, 3 to go; s2: 20 s a VM, 1 to go. The run ends with the slower.
    assert board.line() == (
        "PYTI 4/8 VMs done (3 passed, 1 error); s1 1/4, s2 3/4; 1m00s elapsed, about 1m30s left"
    )


def test_no_estimate_before_every_busy_slave_has_a_pace():
    board = _progress.Board(clock=lambda: 0.0)
    board.update("s1", {"total": 4, "done": 2, "started": 1.0, "last": 9.0})
    board.update("s2", {"total": 4, "done": 0, "started": 1.0, "last": None})
    assert board.line() == "PYTI 2/8 VMs done; s1 2/4, s2 0/4; 0m00s elapsed"
    # A finished slave needs no pace; hostile times give no estimate rather than a crash.
    board.update("s2", {"total": 4, "done": 4, "started": True, "last": "soon"})
    assert board.line().endswith("0m00s elapsed, about 0m08s left")
    board.update("s1", {"total": 4, "done": 2, "started": 9.0, "last": 1.0})
    assert board.line().endswith("0m00s elapsed")


def test_board_ignores_hostile_counts():
    board = _progress.Board(clock=lambda: 0.0)
    board.update("s1", {"total": "many", "done": -3, "by_status": {"passed": True, "evil": 9}})
    assert board.totals() == (0, 0, dict.fromkeys(_progress.STATUSES, 0))


def test_board_adds_a_slaves_second_batch_and_ends_a_lost_slaves_batch():
    board = _progress.Board(clock=lambda: 0.0)
    board.update("s1", {"started": 1.0, "total": 2, "done": 2, "by_status": {"passed": 2}})
    board.update("s2", {"started": 1.5, "total": 2, "done": 0, "by_status": {}})
    assert board.totals()[:2] == (2, 4)
    board.settle(["s1"])
    assert board.totals()[:2] == (2, 2)
    assert not board.update("s1", {"started": 9.0, "total": 2, "done": 0, "by_status": {}})
    assert board.update("s1", {"started": 9.0, "total": 2, "done": 2, "by_status": {"failed": 2}})
    assert board.line() == "PYTI 4/4 VMs done (2 passed, 2 failed); s1 4/4, s2 0/0; 0m00s elapsed"


def test_the_clock_starts_with_the_vms_not_with_the_first_progress_read():
    now = [100.0]
    board = _progress.Board(clock=lambda: now[0])
    board.start()  # the VMs start
    now[0] = 105.0  # the first read comes with the first wait's end
    board.update("s1", {"total": 2, "done": 1, "by_status": {"passed": 1}})
    now[0] = 110.0
    board.start()  # a second round's VMs: the run's clock goes on
    assert board.line() == "PYTI 1/2 VMs done (1 passed); s1 1/2; 0m10s elapsed"


def test_the_plan_shows_before_any_progress_and_gives_way_to_it():
    board = _progress.Board(clock=lambda: 0.0)
    board.plan({"s1": 3, "s2": 2})
    assert board.line() == "PYTI 0/5 VMs done; s1 0/3, s2 0/2; 0m00s elapsed"
    board.update("s1", {"started": 7.0, "total": 3, "done": 1, "by_status": {"passed": 1}})
    # s2 was lost before it said anything: its VMs run elsewhere, and it leaves the line.
    board.settle(["s1"])
    assert board.line() == "PYTI 1/3 VMs done (1 passed); s1 1/3; 0m00s elapsed"
    board.plan({"s1": 9})  # a plan read again changes nothing already seen
    assert board.totals()[:2] == (1, 3)
