"""What a run must leave on the slave: reports, no VM process or mount, a read-only setup."""

from __future__ import annotations

import json
import os

SCENARIO = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
REPORTS = f"{SCENARIO}/reports"
WORK = f"{SCENARIO}/slave"
VM_UIDS = range(990000, 990256)


def test_reports_written(host):
    for name in ("report.json", "report.xml", "report.html"):
        assert host.file(f"{REPORTS}/latest/{name}").is_file
    report = json.loads(host.file(f"{REPORTS}/latest/report.json").content_string)
    verdicts = {r["distribution"]: r["status"] for r in report["results"]}
    assert verdicts == {"pyti-fx-pass": "passed", "pyti-fx-fail": "failed"}


def test_no_vm_process_left(host):
    uids = host.run("ps -e -o uid=").stdout.split()
    assert [u for u in uids if int(u) in VM_UIDS] == []


def test_no_mount_or_vm_dir_left(host):
    mounts = host.file("/proc/self/mounts").content_string
    assert WORK not in mounts
    assert host.run(f"ls -A {WORK}/vms").stdout.strip() == ""
    assert host.run(f"ls -A {WORK}/runs").stdout.strip() == ""


def test_setup_copy_not_writable(host):
    setup = f"{WORK}/setup"
    files = host.run(f"find {setup} -type f").stdout.split()
    assert files
    assert {host.file(f).mode for f in files} == {0o444}
    probe = host.run(f"setpriv --reuid=990000 --regid=990000 --clear-groups touch {files[0]}")
    assert probe.rc != 0
