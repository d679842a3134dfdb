# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from unittest.mock import MagicMock

import jsonschema
import pytest
import yaml
from ansible import constants as C
from ansible_collections.pyti.core.plugins.callback import report as report_plugin
from ansible_collections.pyti.core.plugins.callback.report import CallbackModule

CONFIG_NAME = "pyti_core_report_under_test"


class Host:
    def __init__(self, name):
        self._name = name

    def get_name(self):
        return self._name


def fake_display():
    return MagicMock(verbosity=0)


def task_result(host, data, name="Run the tasks", action="pyti.core.task_run"):
    """The parts of a CallbackTaskResult the callback reads."""
    task = SimpleNamespace(name=name, action=action, resolved_action=action)
    return SimpleNamespace(host=Host(host), task=task, result=data)


@pytest.fixture
def callback(tmp_path):
    plugin = CallbackModule(display=fake_display())
    plugin._report_dir = str(tmp_path / "fallback")
    return plugin


@pytest.fixture
def run_payload(run_payload, tmp_path):
    run_payload["report_dir"] = str(tmp_path / "reports")
    return run_payload


def play(callback, run_payload, localhost_results, slave2_results):
    """Feed the callback the events of a run in which j0003 never returns a result."""
    callback.v2_runner_on_ok(task_result("localhost", {"pyti_run": run_payload}, "Plan", "x"))
    callback.v2_runner_on_ok(task_result("localhost", {"pyti_results": localhost_results}))
    callback.v2_runner_on_failed(
        task_result("slave2", {"pyti_results": slave2_results, "msg": "1 job not run"})
    )
    callback.v2_playbook_on_stats(MagicMock())


def displayed(callback):
    return [call.args[0] for call in callback._display.display.call_args_list]


def test_writes_the_three_files_and_the_latest_link(
    callback, run_payload, localhost_results, slave2_results, report_schema
):
    play(callback, run_payload, localhost_results, slave2_results)

    reports = run_payload["report_dir"]
    run_dir = os.path.join(reports, run_payload["id"])
    assert sorted(os.listdir(run_dir)) == ["report.html", "report.json", "report.xml"]
    assert os.readlink(os.path.join(reports, "latest")) == run_payload["id"]

    with open(os.path.join(run_dir, "report.json"), encoding="utf-8") as stream:
        document = json.load(stream)
    jsonschema.validate(document, report_schema, cls=jsonschema.Draft202012Validator)
    ET.parse(os.path.join(run_dir, "report.xml"))
    callback._display.error.assert_not_called()


def test_report_content(callback, run_payload, localhost_results, slave2_results):
    play(callback, run_payload, localhost_results, slave2_results)
    path = os.path.join(run_payload["report_dir"], run_payload["id"], "report.json")
    with open(path, encoding="utf-8") as stream:
        document = json.load(stream)

    assert document["controller"]
    assert document["run"]["finished"].endswith("Z")
    slaves = {r["job"]: r["slave"] for r in document["results"]}
    assert slaves == {"j0001": "localhost", "j0002": "localhost", "j0003": "slave2",
                      "j0004": "slave2"}  # fmt: skip
    (missing,) = [r for r in document["results"] if r["job"] == "j0003"]
    assert missing["reason"] == "infra: task_run failed on slave slave2: 1 job not run"


def test_prints_the_summary(callback, run_payload, localhost_results, slave2_results):
    play(callback, run_payload, localhost_results, slave2_results)
    lines = displayed(callback)

    assert lines[0] == "PYTI run 20261204T161000Z-ab12cd: 4 results on 2 slaves"
    assert lines[-4].startswith("Totals: 1 passed, 1 failed, 1 error, 1 timeout")
    assert [line.rsplit("/", 1)[-1] for line in lines[-3:]] == [
        "report.json", "report.xml", "report.html",
    ]  # fmt: skip
    colours = [call.kwargs.get("color") for call in callback._display.display.call_args_list]
    assert colours[2:6] == [C.COLOR_ERROR, C.COLOR_ERROR, C.COLOR_ERROR, C.COLOR_OK]


def test_summary_can_be_switched_off(callback, run_payload, localhost_results, slave2_results):
    callback._summary = False
    play(callback, run_payload, localhost_results, slave2_results)
    assert displayed(callback) == []


def test_unreachable_slave(callback, run_payload, localhost_results, tmp_path):
    callback.v2_runner_on_ok(task_result("localhost", {"pyti_run": run_payload}))
    callback.v2_runner_on_unreachable(
        task_result("slave2", {"unreachable": True, "msg": "Failed to connect\nvia ssh"})
    )
    callback.v2_runner_on_ok(task_result("localhost", {"pyti_results": localhost_results}))
    callback.v2_playbook_on_stats(MagicMock())

    report = callback._collector.build("now", "c")
    reasons = {r["job"]: r["reason"] for r in report["results"] if r["slave"] == "slave2"}
    assert reasons == {
        "j0003": "infra: slave slave2 unreachable: Failed to connect via ssh",
        "j0004": "infra: slave slave2 unreachable: Failed to connect via ssh",
    }


def test_other_failed_task_is_named(callback, run_payload, localhost_results):
    callback.v2_runner_on_ok(task_result("localhost", {"pyti_run": run_payload}))
    failed = task_result("slave2", {"msg": "no space left"}, "Create the VMs", "pyti.core.vm")
    callback.v2_runner_on_failed(failed, ignore_errors=False)
    report = callback._collector.build("now", "c")
    reasons = {r["reason"] for r in report["results"] if r["slave"] == "slave2"}
    assert reasons == {"infra: task 'Create the VMs' failed on slave slave2: no space left"}


def test_loop_results_are_read(callback, run_payload, localhost_results):
    callback.v2_runner_on_ok(task_result("localhost", {"pyti_run": run_payload}))
    items = [{"pyti_results": [result]} for result in localhost_results] + ["junk", None]
    callback.v2_runner_on_ok(task_result("localhost", {"results": items}))
    jobs = {r["job"]: r["status"] for r in callback._collector.build("now", "c")["results"]}
    assert (jobs["j0001"], jobs["j0002"]) == ("passed", "failed")


def test_nothing_is_written_without_a_run(callback, tmp_path, localhost_results):
    callback.v2_runner_on_ok(task_result("localhost", {"pyti_results": localhost_results}))
    callback.v2_runner_on_unreachable(task_result("slave2", {"msg": "down"}))
    callback.v2_playbook_on_stats(MagicMock())
    assert list(tmp_path.iterdir()) == []
    callback._display.display.assert_not_called()


def test_fallback_report_dir(callback, run_payload, localhost_results, slave2_results, tmp_path):
    del run_payload["report_dir"]
    play(callback, run_payload, localhost_results, slave2_results)
    assert (tmp_path / "fallback" / run_payload["id"] / "report.json").is_file()
    assert os.readlink(tmp_path / "fallback" / "latest") == run_payload["id"]


def test_write_failure_is_loud(
    callback, run_payload, localhost_results, slave2_results, monkeypatch
):
    registered = []
    monkeypatch.setattr(report_plugin.atexit, "register", registered.append)
    blocker = os.path.join(run_payload["report_dir"])
    with open(blocker, "w", encoding="utf-8") as stream:
        stream.write("a file where the report directory should be")

    play(callback, run_payload, localhost_results, slave2_results)

    (call,) = callback._display.error.call_args_list
    assert call.args[0].startswith(f"Writing the PYTI report to {blocker}/")
    assert callback.write_failed
    assert displayed(callback)[-1] == "Report: NOT WRITTEN, see the error above"
    assert registered == [report_plugin._exit_failed]


def test_latest_link_failure_keeps_the_report(
    callback, run_payload, localhost_results, slave2_results
):
    os.makedirs(os.path.join(run_payload["report_dir"], "latest"))
    play(callback, run_payload, localhost_results, slave2_results)

    (call,) = callback._display.error.call_args_list
    assert "latest at the run 20261204T161000Z-ab12cd failed" in call.args[0]
    assert not callback.write_failed
    assert displayed(callback)[-1].endswith("report.html")


def test_hostile_payloads_do_not_break_the_callback(callback, run_payload, report_schema):
    callback.v2_runner_on_ok(task_result("localhost", {"pyti_run": run_payload}))
    for junk in (None, "x", [None], [{"job": 5, "status": {}, "tasks": "t"}], {"a": 1}):
        callback.v2_runner_on_ok(task_result("localhost", {"pyti_results": junk}))
    callback.v2_runner_on_failed(task_result("slave2", {"msg": ["\udcff", {"x": 1}]}))
    callback.v2_playbook_on_stats(MagicMock())
    callback._display.error.assert_not_called()

    path = os.path.join(run_payload["report_dir"], run_payload["id"], "report.json")
    with open(path, encoding="utf-8") as stream:
        jsonschema.validate(json.load(stream), report_schema)


# ---------------------------------------------------------------------------
# Options, resolved by Ansible's configuration manager from DOCUMENTATION
# ---------------------------------------------------------------------------


@pytest.fixture
def configured():
    options = yaml.safe_load(report_plugin.DOCUMENTATION)["options"]
    C.config.initialize_plugin_configuration_definitions("callback", CONFIG_NAME, options)
    plugin = CallbackModule(display=fake_display())
    plugin._load_name = CONFIG_NAME
    return plugin


def test_documentation_header():
    doc = yaml.safe_load(report_plugin.DOCUMENTATION)
    assert (doc["name"], doc["type"]) == ("report", "aggregate")
    assert CallbackModule.CALLBACK_NAME == "pyti.core.report"
    assert CallbackModule.CALLBACK_TYPE == "aggregate"
    assert CallbackModule.CALLBACK_NEEDS_ENABLED is True


def test_option_defaults(configured, monkeypatch):
    monkeypatch.delenv("PYTI_REPORT_DIR", raising=False)
    monkeypatch.delenv("PYTI_REPORT_SUMMARY", raising=False)
    configured.set_options()
    assert os.path.basename(configured._report_dir) == "reports"
    assert configured._summary is True


def test_options_from_the_environment(configured, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTI_REPORT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("PYTI_REPORT_SUMMARY", "false")
    configured.set_options()
    assert configured._report_dir == str(tmp_path / "elsewhere")
    assert configured._summary is False


def _reused_run(run_payload, first, rerun_report=None):
    """The payload of a run planned after FIRST: every job of it taken from the store."""
    from ansible_collections.pyti.core.plugins.module_utils import _store

    store = _store.Store(run_payload["report_dir"])
    _to_run, reused = _store.plan_reuse(first, store, rerun_report)
    return {**first, "id": "20261205T090000Z-cd34ef", "jobs": [], "reused": reused}


@pytest.mark.parametrize("how", ["resume", "rerun"])
def test_reused_results_keep_their_slave_and_wheelhouse(
    callback, run_payload, localhost_results, how
):
    wheels = ["six-1.16.0-py2.py3-none-any.whl", "pytest-9.2.0-py3-none-any.whl"]
    passed = [
        {**result, "wheels": wheels} for result in localhost_results if result["job"] == "j0001"
    ]
    # As run_config plans it: the job knows its interpreter's exact version.
    job = {**run_payload["jobs"][0], "python_info": {"version": "3.10.7", "series": "3.10"}}
    first = {**run_payload, "jobs": [job]}
    callback.v2_runner_on_ok(task_result("localhost", {"pyti_run": first}, "Plan", "x"))
    callback.v2_runner_on_ok(task_result("localhost", {"pyti_results": passed}))
    callback.v2_playbook_on_stats(MagicMock())
    report_file = os.path.join(run_payload["report_dir"], first["id"], "report.json")
    with open(report_file, encoding="utf-8") as stream:
        first_report = json.load(stream)

    second = _reused_run(run_payload, first, first_report if how == "rerun" else None)
    again = CallbackModule(display=fake_display())
    again.v2_runner_on_ok(task_result("localhost", {"pyti_run": second}, "Plan", "x"))
    again.v2_playbook_on_stats(MagicMock())
    with open(os.path.join(run_payload["report_dir"], second["id"], "report.json")) as stream:
        (result,) = json.load(stream)["results"]
    assert result["reused_from"] == first["id"]
    assert result["slave"] == "localhost"
    assert result["wheelhouse"] == {"pytest": "9.2.0", "six": "1.16.0"}


def test_a_stored_result_without_its_slave_takes_it_from_its_last_attempt():
    attempts = [{"slave": "slave2", "status": "error"}, {"slave": "localhost", "status": "passed"}]
    assert report_plugin._slave_of({"attempts": attempts}) == "localhost"
    assert report_plugin._slave_of({"slave": "s3", "attempts": attempts}) == "s3"
    assert report_plugin._slave_of({"attempts": "x"}) is None
