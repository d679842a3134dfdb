# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""A pytest plugin that tells the VM's recorder, event by event, how the session goes.

The recorder loads it in the pytest process of the test task (``-p pyti_events``)
and reads its events from the socket named by PYTI_EVENTS_FD. Each test case
is counted the way pytest's JUnit XML counts it, so that the two can be compared.
"""

import json
import os

_state = {"fd": None, "open": {}}


def _send(event):
    if _state["fd"] is None:
        return
    try:
        os.write(_state["fd"], json.dumps(event).encode("utf-8")[:65536])
    except OSError:
        _state["fd"] = None


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)[:1000]
    lines = [ln for ln in str(report.longrepr or "").splitlines() if ln.strip()]
    errors = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
    return (errors or lines or [""])[-1][:1000]


def pytest_configure(config):
    fd = os.environ.pop("PYTI_EVENTS_FD", "")
    if fd.isdigit():
        _state["fd"] = int(fd)


def pytest_collectreport(report):
    if report.failed:
        _send_case(report.nodeid, "errors", _message(report))
    elif report.skipped:
        _send_case(report.nodeid, "skipped")


def pytest_collection_finish(session):
    _send({"e": "collected", "n": len(session.items)})


# JUnit XML gives a test case the worst of the outcomes of its reports (subtests and
# skips in teardown included), but a second case to an error in the teardown of a test
# that failed. The first case of each test is marked, to count the tests that ran.
RANK = {"passed": 0, "skipped": 1, "failed": 2, "errors": 3}


def pytest_runtest_logreport(report):
    case = _state["open"].setdefault(report.nodeid, {"outcome": "passed", "message": None})
    if report.failed and report.when == "teardown" and case["outcome"] == "failed":
        case["extra"] = _message(report)
    elif report.failed:
        _worse(case, "failed" if report.when == "call" else "errors", _message(report))
    elif report.skipped:
        _worse(case, "skipped", None)
    if report.when == "teardown":
        del _state["open"][report.nodeid]
        _send_case(report.nodeid, case["outcome"], case["message"], test=True)
        if "extra" in case:
            _send_case(report.nodeid, "errors", case["extra"])


def _worse(case, outcome, message):
    if RANK[outcome] > RANK[case["outcome"]]:
        case.update(outcome=outcome, message=message)


def _send_case(nodeid, outcome, message=None, test=False):
    event = {"e": "case", "id": nodeid[:1000], "outcome": outcome, "test": test}
    _send(dict(event, message=message[:1000] if message else message))


def pytest_sessionfinish(session, exitstatus):
    _send({"e": "finish", "exitstatus": int(exitstatus)})
