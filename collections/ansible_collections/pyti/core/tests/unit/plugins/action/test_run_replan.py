"""The run_replan action: its checks of the run and the slaves, and its one-line summary."""

from __future__ import annotations

import pytest
from ansible_collections.pyti.core.plugins.action import run_replan
from ansible_collections.pyti.core.plugins.module_utils._errors import ConfigError

RUN = {
    "id": "R1",
    "jobs": [],
    "slaves": ["a", "b"],
    "tasks": ["install"],
    "driver": "namespace",
    "report_dir": "/r",
}


def test_a_run_that_run_config_did_not_plan_is_named():
    with pytest.raises(ConfigError) as caught:
        run_replan._check({"id": "R1", "jobs": []}, ["a"])
    assert caught.value.msg == (
        "run: not a run planned by pyti.core.run_config (lacks slaves, tasks, driver, report_dir)"
    )
    assert caught.value.context["field"] == "run"


def test_a_healthy_slave_outside_the_run_is_named():
    with pytest.raises(ConfigError) as caught:
        run_replan._check(RUN, ["a", "zz"])
    assert caught.value.msg == "slaves: 'zz' is not a slave of run R1 (its slaves: a, b)"
    assert (caught.value.context["field"], caught.value.context["value"]) == ("slaves", "zz")


def test_task_run_results_are_read_from_what_async_status_registered():
    hostvars = {
        "a": {"pyti_task_results": {"pyti_results": [{"job": "j0001"}]}},
        "b": {"pyti_task_results": {"failed": True, "pyti_results": [{"job": "j0002"}]}},
        "c": {"pyti_task_results": "junk"},
    }
    assert run_replan._task_run_results(hostvars, "a") == [{"job": "j0001"}]
    assert [run_replan._task_run_results(hostvars, name) for name in "bcd"] == [[], [], []]


def test_the_summary_says_what_runs_again_and_what_stays():
    retry = {
        "jobs": [{"id": "j1", "slave": "b"}, {"id": "j2", "slave": "a"}],
        "unplaced": [
            {"id": "j3", "slave": "c", "reason": "no other healthy slave has python 3.12"}
        ],
    }
    assert run_replan._summary(retry) == (
        "3 jobs without a verdict: 2 run again on a, b;"
        " 1 stay as they are (no other healthy slave has python 3.12)"
    )
    assert run_replan._summary({"jobs": [], "unplaced": []}) == (
        "Every job has a verdict: nothing to run again"
    )
