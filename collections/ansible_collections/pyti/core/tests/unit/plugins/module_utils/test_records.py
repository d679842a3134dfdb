# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json

import pytest
from ansible_collections.pyti.core.plugins.module_utils import _vm_recorder
from ansible_collections.pyti.core.plugins.module_utils._records import (
    exit_status,
    sign,
    verify,
)

KEY = bytes(range(32))
RECORD = {"vm": "vm-3", "task": "test", "rc": 0, "duration_s": 2.5, "pytest": {"cases": 4}}


def signed(record=None, key=KEY, task="test") -> dict:
    """The files that the recorder leaves for one task, signed as the recorder signs them."""
    payload = json.dumps(RECORD if record is None else record, sort_keys=True).encode()
    return {f"{task}.json": payload, f"{task}.sig": sign(key, payload).encode()}


def test_a_signed_record_verifies():
    assert verify(signed(), "test", KEY, "vm-3") == (RECORD, None)


def test_the_signature_may_end_with_a_newline():
    files = signed()
    files["test.sig"] += b"\n"
    assert verify(files, "test", KEY, "vm-3") == (RECORD, None)


def test_the_slave_checks_what_the_recorder_signs():
    payload = b'{"rc": 0}'
    assert sign(KEY, payload) == _vm_recorder.sign(KEY, payload)
    assert sign(KEY, payload) != sign(KEY[::-1], payload)


NOT_SIGNED = "the recorder left no signed record of the task"
BAD_SIGNATURE = "the record's signature does not match the VM's key"


def tampered_payload(files):
    files["test.json"] = files["test.json"].replace(b'"rc": 0', b'"rc": 1')


def tampered_signature(files):
    last = files["test.sig"][-1:]
    files["test.sig"] = files["test.sig"][:-1] + (b"b" if last == b"a" else b"a")


def payload_removed(files):
    del files["test.json"]


def signature_removed(files):
    del files["test.sig"]


def emptied_signature(files):
    files["test.sig"] = b""


@pytest.mark.parametrize(
    "tamper, why",
    [
        (tampered_payload, BAD_SIGNATURE),
        (tampered_signature, BAD_SIGNATURE),
        (emptied_signature, BAD_SIGNATURE),
        (payload_removed, NOT_SIGNED),
        (signature_removed, NOT_SIGNED),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_a_changed_or_missing_file_is_not_trusted(tamper, why):
    files = signed()
    tamper(files)
    assert verify(files, "test", KEY, "vm-3") == (None, why)


def test_another_key_is_not_trusted():
    assert verify(signed(key=b"k" * 32), "test", KEY, "vm-3") == (None, BAD_SIGNATURE)


def test_no_files_at_all():
    assert verify({}, "install", KEY, "vm-3") == (None, NOT_SIGNED)


def test_the_record_of_another_task_is_not_trusted():
    files = signed(task="test") | signed({**RECORD, "task": "import"}, task="import")
    assert verify(files, "install", KEY, "vm-3") == (None, NOT_SIGNED)
    # A record of the import task renamed to the test task's files.
    renamed = {"test.json": files["import.json"], "test.sig": files["import.sig"]}
    assert verify(renamed, "test", KEY, "vm-3") == (
        None,
        "the signed record is of another VM or task",
    )


def test_the_record_of_another_vm_is_not_trusted():
    assert verify(signed(), "test", KEY, "vm-4") == (
        None,
        "the signed record is of another VM or task",
    )


@pytest.mark.parametrize("payload", [b'{"vm": "vm-3", "task"', b"[1, 2]", b"\xff\xfe", b""])
def test_a_signed_payload_that_is_no_json_object_is_not_trusted(payload):
    files = {"test.json": payload, "test.sig": sign(KEY, payload).encode()}
    assert verify(files, "test", KEY, "vm-3") == (None, "the signed record does not parse")


@pytest.mark.parametrize(
    "rc, status",
    [(0, 0), (1, 1), (5, 5), (255, 255), (300, 255), (-9, 137), (-11, 139), (-15, 143)],
)
def test_exit_status_of_a_step(rc, status):
    assert exit_status(rc) == status
    assert _vm_recorder.exit_status(rc) == status
