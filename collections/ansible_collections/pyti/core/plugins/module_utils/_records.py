# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Check the records that a VM's recorder signed before the slave believes a word of them."""

from __future__ import annotations

import hashlib
import hmac

from ._rawresults import load_json


def sign(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def verify(files: dict, task: str, key: bytes, vm: str) -> tuple[dict | None, str | None]:
    """TASK's record from the recorder's FILES, or None and why it is not trusted."""
    payload, signature = files.get(f"{task}.json"), files.get(f"{task}.sig")
    if payload is None or signature is None:
        return None, "the recorder left no signed record of the task"
    if not hmac.compare_digest(sign(key, payload).encode(), signature.strip()):
        return None, "the record's signature does not match the VM's key"
    record = load_json(payload)
    if record is None:
        return None, "the signed record does not parse"
    if record.get("vm") != vm or record.get("task") != task:
        return None, "the signed record is of another VM or task"
    return record, None


def exit_status(rc: int) -> int:
    """The recorder's own exit status for a step that ended with RC (a signal N as 128 + N)."""
    return 128 - rc if rc < 0 else min(rc, 255)
