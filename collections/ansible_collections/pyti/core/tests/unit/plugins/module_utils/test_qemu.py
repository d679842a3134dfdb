"""The results disk of a qemu guest, read as untrusted data: what is kept and what is refused."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from ansible_collections.pyti.core.plugins.module_utils import _config, _limits, _qemu
from ansible_collections.pyti.core.plugins.module_utils._errors import ConfigError

TASKS = ["install", "import", "test"]


def limits(**changes) -> dict:
    return {**_limits.defaults(), **changes}


def task(name: str, rc: int | None = 0, **extra) -> dict:
    entry = {
        "name": name,
        "rc": rc,
        "expired": None,
        "duration_s": 1.5,
        "output_bytes": 6,
        "limit": None,
        "vm_deadline": False,
    }
    return {**entry, **extra}


def member(tar, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def disk(tmp_path, build, size: int | None = None):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        build(tar)
    data = buffer.getvalue()
    path = tmp_path / "results.img"
    path.write_bytes(data[:size] if size is not None else data + b"\0" * 4096)
    return path


def guest(tar, tasks):
    member(tar, "guest.json", json.dumps({"boot_s": 2.0, "tasks": tasks}).encode())
    for entry in tasks:
        member(tar, f"tasks/{entry['name']}.head", b"out\n")
        member(tar, f"tasks/{entry['name']}.tail", b"end\n")


def test_tasks_and_results_come_back(tmp_path):
    def build(tar):
        guest(tar, [task("install"), task("import"), task("test", 1)])
        member(tar, "results/import.json", b'{"modules": []}')
        member(tar, "results/junit.xml", b"<testsuite/>")

    records, found = _qemu.read_disk(str(disk(tmp_path, build)), limits(), TASKS)
    assert [(r["name"], r["execution"].rc) for r in records] == [
        ("install", 0),
        ("import", 0),
        ("test", 1),
    ]
    first = records[0]["execution"]
    assert (first.duration_s, first.expired, first.limit) == (1.5, None, None)
    assert first.output.data() == b"out\nend\n"
    assert found.files == {"import.json": b'{"modules": []}', "junit.xml": b"<testsuite/>"}
    assert found.rejected == []


def test_links_fifos_and_bad_names_are_refused(tmp_path):
    def build(tar):
        guest(tar, [task("install")])
        member(tar, "results/shadow.json", kind=tarfile.SYMTYPE, link="/etc/shadow")
        member(tar, "results/hard", kind=tarfile.LNKTYPE, link="results/shadow.json")
        member(tar, "results/pipe", kind=tarfile.FIFOTYPE)
        member(tar, "results/..sneaky", b"x")
        member(tar, "results/bad\nname", b"x")
        member(tar, "elsewhere/x", b"x")

    _records, found = _qemu.read_disk(str(disk(tmp_path, build)), limits(), TASKS)
    assert found.files == {}
    assert {r["path"]: r["reason"] for r in found.rejected} == {
        "shadow.json": "not a regular file (symlink)",
        "hard": "hard link",
        "pipe": "not a regular file (fifo)",
        "..sneaky": "name with characters outside [A-Za-z0-9._+-]",
        "bad\\nname": "name with characters outside [A-Za-z0-9._+-]",
        "elsewhere/x": "outside results/",
    }


def test_caps_on_bytes_and_files(tmp_path):
    def build(tar):
        guest(tar, [task("install")])
        member(tar, "results/a", b"a" * 600)
        member(tar, "results/b", b"b" * 600)
        member(tar, "results/c", b"c")
        member(tar, "results/d", b"d")

    _records, found = _qemu.read_disk(
        str(disk(tmp_path, build)), limits(results_bytes=1024, results_files=2), TASKS
    )
    assert found.files == {"a": b"a" * 600, "c": b"c"}
    assert {r["path"]: r["reason"] for r in found.rejected} == {
        "b": "limit: results bytes (1024)",
        "d": "limit: results files (2)",
    }


def test_a_disk_cut_short_keeps_what_came_before(tmp_path):
    def build(tar):
        guest(tar, [task("install")])
        member(tar, "results/junit.xml", b"<testsuite/>")
        member(tar, "results/big", b"x" * 100_000)

    path = disk(tmp_path, build, size=20_000)
    records, found = _qemu.read_disk(str(path), limits(), TASKS)
    assert [r["name"] for r in records] == ["install"]
    assert found.files == {"junit.xml": b"<testsuite/>"}
    assert [r["path"] for r in found.rejected] == ["big", "results.img"]
    assert found.rejected[0]["reason"] == "results disk cut short"


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param([task("import")], id="out of order"),
        pytest.param([task("install", rc=None)], id="no rc and no expiry"),
        pytest.param([task("install", rc=True)], id="a bool for rc"),
        pytest.param([task("install", expired="forever", rc=None)], id="unknown expiry"),
    ],
)
def test_records_that_do_not_add_up_are_dropped(tmp_path, entries):
    path = disk(tmp_path, lambda tar: guest(tar, entries))
    records, _found = _qemu.read_disk(str(path), limits(), TASKS)
    assert records == []


def test_an_unknown_limit_and_a_lying_size_are_not_believed(tmp_path):
    entries = [task("install", limit="everything", output_bytes=-3, duration_s="long")]
    path = disk(tmp_path, lambda tar: guest(tar, entries))
    records, _found = _qemu.read_disk(str(path), limits(), TASKS)
    execution = records[0]["execution"]
    assert (execution.limit, execution.output.size, execution.duration_s) == (None, 8, 0.0)


def test_an_empty_disk_reports_nothing(tmp_path):
    path = tmp_path / "results.img"
    path.write_bytes(b"\0" * 8192)
    records, found = _qemu.read_disk(str(path), limits(), TASKS)
    assert (records, found.files) == ([], {})


def test_a_slave_without_qemu_is_named():
    slaves = {"a": {"qemu_missing": []}, "b": {"qemu_missing": ["/bin/busybox (x)"]}}
    with pytest.raises(ConfigError) as caught:
        _config.check_qemu_slaves(slaves)
    assert caught.value.msg == "pyti_driver: qemu needs on slave b: /bin/busybox (x)"
