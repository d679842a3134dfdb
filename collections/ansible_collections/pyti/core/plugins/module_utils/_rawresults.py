# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Read what a VM wrote as untrusted input: regular files only, capped while reading."""

from __future__ import annotations

import json
import os
import re
import stat
import xml.etree.ElementTree as ET

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
MAX_DEPTH = 3
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
DIR_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY


class Collected:
    """The files accepted from a results dir, and the entries refused with why."""

    def __init__(self, max_files: int, max_bytes: int):
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.files: dict[str, bytes] = {}
        self.rejected: list[dict] = []
        self.total = 0
        # The recorder's signed records, when they come the same way (a qemu results disk).
        self.records: dict[str, bytes] = {}

    def reject(self, path: str, reason: str) -> None:
        if len(self.rejected) < 100:
            self.rejected.append({"path": _printable(path), "reason": reason})


def _printable(text: str) -> str:
    return text.encode("unicode_escape", "replace").decode("ascii")[:200]


def collect(root: str, max_files: int = 64, max_bytes: int = 32 << 20) -> Collected:
    """Read every acceptable file under ROOT without following any link."""
    found = Collected(max_files, max_bytes)
    try:
        fd = os.open(root, DIR_FLAGS)
    except OSError as exc:
        found.reject(".", f"results dir unreadable: {exc.strerror}")
        return found
    try:
        _walk(fd, "", found, 0)
    finally:
        os.close(fd)
    return found


def _walk(dir_fd: int, prefix: str, found: Collected, depth: int) -> None:
    for name in sorted(os.listdir(dir_fd)):
        path = prefix + name
        if not SAFE_NAME.fullmatch(name):
            found.reject(path, "name with characters outside [A-Za-z0-9._+-]")
            continue
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode) and depth < MAX_DEPTH:
            sub = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
            try:
                _walk(sub, path + "/", found, depth + 1)
            finally:
                os.close(sub)
        elif not stat.S_ISREG(info.st_mode):
            found.reject(path, f"not a regular file ({_kind(info.st_mode)})")
        elif info.st_nlink != 1:
            found.reject(path, "hard link")
        else:
            _read(dir_fd, name, path, found)


def _kind(mode: int) -> str:
    for test, word in (
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISDIR, "directory too deep"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "device"),
        (stat.S_ISBLK, "device"),
    ):
        if test(mode):
            return word
    return "unknown type"


def _read(dir_fd: int, name: str, path: str, found: Collected) -> None:
    if len(found.files) >= found.max_files:
        found.reject(path, f"limit: results files ({found.max_files})")
        return
    room = found.max_bytes - found.total
    fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            found.reject(path, "not a regular file")
            return
        data = _read_capped(fd, room + 1)
    finally:
        os.close(fd)
    if len(data) > room:
        found.reject(path, f"limit: results bytes ({found.max_bytes})")
        return
    found.files[path] = data
    found.total += len(data)


def _read_capped(fd: int, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit:
        chunk = os.read(fd, min(1 << 20, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def load_json(data: bytes | None) -> dict | None:
    """A JSON object from raw results, or None when it is missing or malformed."""
    if data is None:
        return None
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def junit_counts(data: bytes) -> tuple[dict, list[dict]]:
    """Test counts and the first failures from pytest's JUnit XML; ValueError if unreadable."""
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, RecursionError) as exc:
        raise ValueError(f"JUnit XML does not parse: {exc}") from None
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failures = []
    for case in root.iter("testcase"):
        outcome = _outcome(case)
        counts[outcome] += 1
        if outcome in ("failed", "errors") and len(failures) < 50:
            failures.append(_failure(case, outcome))
    return counts, failures


def _outcome(case) -> str:
    tags = {child.tag for child in case}
    if "error" in tags:
        return "errors"
    if "failure" in tags:
        return "failed"
    if "skipped" in tags:
        return "skipped"
    return "passed"


def _failure(case, outcome: str) -> dict:
    node = case.find("error" if outcome == "errors" else "failure")
    classname = case.get("classname", "")
    name = f"{classname}::{case.get('name', '')}" if classname else case.get("name", "")
    message = node.get("message", "") if node is not None else ""
    if node is not None and message in ("", "collection failure"):
        message = _last_error_line(node.text or "") or message
    return {"name": name[:500], "message": message[:1000], "outcome": outcome}


def _last_error_line(text: str) -> str:
    """The last 'E   ...' line of a pytest traceback, which names the exception."""
    lines = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
    return lines[-1] if lines else ""
