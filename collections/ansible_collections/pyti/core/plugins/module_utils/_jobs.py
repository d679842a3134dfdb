# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Run a batch of jobs, one disposable VM per (distribution, python), in parallel on a slave."""

from __future__ import annotations

import json
import os
import queue
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from . import _cgroup, _progress, _qemu, _qemu_image, _rawresults, _records, _sandbox, _tasks
from ._capture import Capture
from ._errors import PytiError, SandboxError
from ._sandbox import Execution
from ._tasks import TASK_NAMES
from ._vm import NamespaceVM, mounts_under, unmount

MAX_SLOTS = 256
MAX_RECORD_BYTES = 1 << 20
NO_RECORD = "the recorder left no signed record of the task"


class Slave:
    """A slave's work dir: its lock, its VM dirs, its raw results."""

    def __init__(self, work_dir: str, uid_base: int):
        self.work_dir = work_dir
        self.uid_base = uid_base
        self.lock_handle = None

    def lock(self, timeout: float = 3600) -> None:
        """Wait until no other run uses this slave's VM uids, then hold them."""
        os.makedirs(self.work_dir, mode=0o755, exist_ok=True)
        self.lock_handle = _sandbox.lock_uids(self.uid_base, "vms", timeout)

    def clear_leftovers(self) -> list[str]:
        """Remove what an earlier run that crashed left: its processes and its VM dirs."""
        last = self.uid_base + MAX_SLOTS - 1
        for _round in range(100):
            pids = _sandbox.pids_of_uid(self.uid_base, last)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
            time.sleep(0.02)
        _cgroup.clear_leftovers(_cgroup.layout(), self.cgroup_parent)
        vms = os.path.join(self.work_dir, "vms")
        left = sorted(os.listdir(vms)) if os.path.isdir(vms) else []
        if left:
            for point in mounts_under(vms):
                unmount(point)
        shutil.rmtree(vms, ignore_errors=True)
        return left

    @property
    def cgroup_parent(self) -> str:
        return f"pyti-{self.uid_base}"


class Batch:
    """The jobs of one run on one slave, their VMs and their results."""

    def __init__(
        self,
        slave: Slave,
        run_id: str,
        setup_dir: str,
        tasks: list[str],
        limits: dict,
        uv: str | None,
        heartbeat_timeout: float = 0,
        slave_name: str = "localhost",
        candidate: str | None = None,
        driver: str = "namespace",
        image_dir: str = "/var/cache/pyti/qemu",
    ):
        """CANDIDATE: the id of the candidates whose wheelhouses the candidate side uses."""
        self.slave = slave
        self.driver = driver
        self.image_dir = image_dir
        self.image: _qemu_image.Image | None = None
        self.accel: _qemu.Accel | None = None
        self.slave_name = slave_name
        self.run_id = run_id
        self.setup_dir = setup_dir
        self.tasks = tasks
        self.limits = limits
        self.uv = uv
        self.candidate = candidate
        kind = _cgroup.layout()
        self.cgroups = (kind, slave.cgroup_parent) if kind else None
        self.raw_root = os.path.join(slave.work_dir, "runs", run_id, "raw")
        self.vm_root = os.path.join(slave.work_dir, "vms", run_id)
        self.etc_dir = os.path.join(slave.work_dir, "vms", run_id + ".etc")
        self.progress = _progress.Progress(_progress.progress_path(slave.work_dir, run_id))
        self.uids: list[int] = []
        self.watchdog = _progress.Watchdog(self.progress.path, heartbeat_timeout, self._abandon)

    def _abandon(self) -> None:
        """Kill every VM of the batch; the jobs then end as infra errors."""
        for uid in self.uids:
            _sandbox.signal_uid(uid, 9)

    @property
    def abandoned(self) -> bool:
        return self.watchdog.abandoned.is_set()

    def run(self, jobs: list[dict], capacity: int) -> list[dict]:
        os.makedirs(self.vm_root, mode=0o711, exist_ok=True)
        # Even a batch without jobs has raw results to fetch: none.
        os.makedirs(self.raw_root, mode=0o755, exist_ok=True)
        self.uids = [self.slave.uid_base + n for n in range(min(capacity, MAX_SLOTS))]
        _sandbox.write_vm_etc(self.etc_dir, self.uids)
        if self.driver == "qemu":
            # What a crashed run's QEMU left, should its /proc entry hide it from the sweep.
            _qemu.kill_real_uid(self.slave.uid_base, self.slave.uid_base + MAX_SLOTS - 1)
        if self.driver == "qemu" and jobs:
            self.image = _qemu_image.ensure(self.image_dir)
            self.accel = _qemu.choose_accel(self.image_dir, self.image, self.uids[0])
        slots = queue.Queue()
        for uid in self.uids:
            slots.put(uid)
        self.progress.start(len(jobs))
        self.watchdog.start()
        try:
            with ThreadPoolExecutor(max_workers=max(1, min(capacity, len(jobs) or 1))) as pool:
                results = list(pool.map(lambda job: self._run_slot(job, slots), jobs))
            self.progress.finish()
            return results
        finally:
            self.watchdog.stop()
            shutil.rmtree(self.vm_root, ignore_errors=True)
            shutil.rmtree(self.etc_dir, ignore_errors=True)

    def _run_slot(self, job: dict, slots: queue.Queue) -> dict:
        uid = slots.get()
        try:
            result = Job(self, job, uid).run()
        finally:
            slots.put(uid)
        self.progress.add(result)
        return result


class Job:
    """One (distribution, python): its VM, its tasks in order, its raw results."""

    def __init__(self, batch: Batch, job: dict, uid: int):
        self.batch = batch
        self.job = job
        self.uid = uid
        self.python = job["python"]
        self.dist = _load_dist(batch.setup_dir, job["key"])
        self.raw_dir = os.path.join(batch.raw_root, job["id"])
        self.rejected: list[dict] = []
        self.not_applicable: str | None = None
        self.guest: dict | None = None
        self.wheels: list[str] = []

    def run(self) -> dict:
        started = time.monotonic()
        result = self._result_base()
        try:
            result["tasks"] = self._tasks()
        except OSError as exc:
            # The slave's own files failed it (a full disk, a lost mount): not a verdict.
            result["tasks"] = self._setup_failure(_slave_fault(self.batch.slave_name, exc))
        result["not_applicable"] = self.not_applicable
        result["guest"] = self.guest
        result["wheels"] = self.wheels
        result["duration_s"] = round(time.monotonic() - started, 3)
        result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        result["rejected"] = self.rejected
        return _conclude(result)

    def _tasks(self) -> list[dict]:
        os.makedirs(self.raw_dir, mode=0o755, exist_ok=True)
        prepared = self._prepared()
        self.wheels = sorted(os.path.basename(w) for w in prepared.get("wheels", []))
        error = self.dist.get("error") or prepared.get("error")
        if self.batch.abandoned:
            return self._setup_failure(ABANDONED)
        if prepared.get("not_applicable"):
            self.not_applicable = prepared["not_applicable"]
            return self._not_applicable(prepared["not_applicable"])
        if error:
            return self._setup_failure(error)
        if self.batch.driver == "qemu":
            tasks, self.guest = self._run_qemu(prepared)
        else:
            tasks = self._run_vm(prepared)
        if self.batch.abandoned:
            tasks = [_abandoned(t) for t in tasks]
        return tasks

    def _prepared(self) -> dict:
        """The wheelhouse of the job's side: the released dependencies or the candidate's."""
        series = self.python["series"]
        if self.job.get("side") != "candidate":
            return self.dist.get("pythons", {}).get(series, {})
        variants = (self.dist.get("candidates") or {}).get(self.batch.candidate)
        if variants is None or series not in variants:
            base = self.dist.get("pythons", {}).get(series, {})
            return {"error": base.get("error") or NO_CANDIDATE_SETUP}
        return variants[series]

    def _not_applicable(self, why: str) -> list[dict]:
        reason = f"not applicable: {why}"
        return [_tasks.skipped(t, reason) for t in self.batch.tasks]

    def _result_base(self) -> dict:
        return {
            "job": self.job["id"],
            "distribution": self.dist.get("name"),
            "version": self.dist.get("version"),
            "spec": self.job.get("spec") or self.dist.get("spec"),
            "source": self.dist.get("source"),
            "python": self.python["name"],
            "python_version": self.python["version"],
            "python_path": self.python["executable"],
            "driver": self.batch.driver,
            "guest": None,
            "vm": f"{self.batch.run_id}-{self.job['id']}",
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "raw_dir": f"{self.batch.slave_name}/{self.job['id']}",
            "side": self.job.get("side"),
            "not_applicable": None,
        }

    def _setup_failure(self, error: dict) -> list[dict]:
        first = _tasks.task_record(
            "install", error.get("status", "error"), error.get("reason"), error.get("kind", "setup")
        )
        return [first] + [_tasks.skipped(t, "install did not pass") for t in self.batch.tasks[1:]]

    def _binds(self, prepared: dict) -> list[tuple[str, str]]:
        setup = self.batch.setup_dir
        binds = [(self.python["prefix"], self.python["prefix"])]
        exe_dir = os.path.dirname(self.python["executable"])
        if not exe_dir.startswith(self.python["prefix"].rstrip("/") + "/"):
            binds.append((exe_dir, exe_dir))
        binds.append((os.path.join(setup, "runner"), "/setup/runner"))
        binds.append((os.path.join(setup, "dists", self.job["key"]), "/dist"))
        for wheel in prepared.get("wheels", []):
            binds.append((os.path.join(setup, wheel), "/wheels/" + os.path.basename(wheel)))
        if self.batch.uv:
            binds.append((self.batch.uv, "/opt/pyti/bin/uv"))
        return [(src, dest) for src, dest in binds if not dest.startswith("/usr/")]

    def _job_data(self, prepared: dict) -> dict:
        sdist = self.dist.get("sdist")
        return {
            "name": self.dist["name"],
            "python": self.python["executable"],
            "requirements": prepared.get("requirements", []),
            "uv": "/opt/pyti/bin/uv" if self.batch.uv else None,
            "sdist": f"/dist/{sdist}" if sdist else None,
            "vm": f"{self.batch.run_id}-{self.job['id']}",
        }

    def _run_vm(self, prepared: dict) -> list[dict]:
        name = f"{self.batch.run_id}-{self.job['id']}"
        base = os.path.join(self.batch.vm_root, self.job["id"])
        vm = NamespaceVM(name, base, self.uid, self._binds(prepared), self.batch.limits)
        records = []
        try:
            vm.create(self._job_data(prepared), self.batch.etc_dir, self.batch.cgroups)
        except PytiError as exc:
            # A VM that did not start is the slave's fault: the job may run on another.
            reason = f"infra: the VM did not start: {exc.msg}"
            records.append(_tasks.task_record(self.batch.tasks[0], "error", reason, "infra"))
        else:
            try:
                records = self._run_tasks(vm)
            except PytiError as exc:
                records.append(
                    _tasks.task_record(
                        self._next_task(records), "error", f"sandbox: {exc.msg}", "sandbox"
                    )
                )
        finally:
            try:
                files = self._collect(vm)
                evidence = self._verify(vm)
            finally:
                destroy_error = _destroy(vm)
        records = self._fill_skipped(records)
        if destroy_error:
            records[-1].update(
                status="error", reason=f"sandbox: {destroy_error}", failure_kind="sandbox"
            )
        return self._judge_files(records, files, evidence)

    def _run_qemu(self, prepared: dict) -> tuple[list[dict], dict]:
        """One boot runs every task; the guest's records come back on the results disk."""
        batch = self.batch
        name = f"{batch.run_id}-{self.job['id']}"
        base = os.path.join(batch.vm_root, self.job["id"])
        vm = _qemu.QemuVM(name, base, self.uid, self.python, batch.limits, batch.image, batch.accel)
        records, files, failure, evidence = [], {}, None, {}
        try:
            vm.create(
                self._setup_files(prepared),
                self._qemu_job_data(prepared),
                batch.tasks,
                batch.cgroups,
            )
            boot = vm.run_all_tasks()
            records, found = vm.results(batch.tasks)
            files, self.rejected = found.files, found.rejected
            evidence = self._check_records(found.records, vm)
            records, failure = self._after_boot(vm, boot, records)
        except PytiError as exc:
            failure = f"sandbox: {exc.msg}"
        finally:
            self._write_console(vm)
            destroy_error = _destroy(vm)
        self._save_files(files)
        for record in records:
            self._write_log(record["name"], record["execution"].output)
        if failure:
            records.append(
                _tasks.task_record(self._next_task(records), "error", failure, "sandbox")
            )
        records = self._fill_after(records)
        if destroy_error:
            records[-1].update(
                status="error", reason=f"sandbox: {destroy_error}", failure_kind="sandbox"
            )
        guest = {
            "accel": batch.accel.name,
            "accel_reason": batch.accel.reason,
            "kernel": batch.image.version,
            "image": batch.image.name,
            "boot_s": vm.boot_s,
            "console_log": "console.log",
        }
        return self._judge_files(records, files, evidence), guest

    def _after_boot(self, vm, boot: dict, records: list[dict]) -> tuple[list[dict], str | None]:
        """Records for what the guest could not report: a VM timeout or a guest that died."""
        ended = len(records) == len(self.batch.tasks) or (
            records and records[0]["name"] == "install" and _failed(records[0]["execution"])
        )
        if ended:
            return records, None
        if boot["expired"]:
            running = self._next_task(records)
            capture = _new_capture(self.batch.limits)
            capture.feed(b"pyti: the VM timeout powered the guest off during this task\n")
            execution = Execution(None, boot["duration_s"], "timeout", capture)
            records.append({"name": running, "execution": execution, "vm_deadline": True})
            return records, None
        last = vm.console.tail_text(_tasks.TAIL_BYTES).strip().splitlines()[-1:] or ["no output"]
        if vm.boot_s is None:
            return (
                records,
                f"sandbox: the guest did not boot (qemu exited {boot['rc']}): {last[0][:300]}",
            )
        return records, f"sandbox: the guest stopped before reporting this task: {last[0][:300]}"

    def _fill_after(self, records: list[dict]) -> list[dict]:
        if records and "execution" in records[0] and _failed(records[0]["execution"]):
            for name in self.batch.tasks[len(records) :]:
                records.append(_tasks.skipped(name, "install did not pass"))
        return self._fill_skipped(records)

    def _setup_files(self, prepared: dict) -> dict:
        setup = self.batch.setup_dir
        return {
            "runner": os.path.join(setup, "runner"),
            "dist": os.path.join(setup, "dists", self.job["key"]),
            "wheels": [os.path.join(setup, w) for w in prepared.get("wheels", [])],
            "uv": self.batch.uv,
        }

    def _qemu_job_data(self, prepared: dict) -> dict:
        data = self._job_data(prepared)
        data["uv"] = _qemu.GUEST_UV if self.batch.uv else None
        return data

    def _write_console(self, vm) -> None:
        with open(os.path.join(self.raw_dir, "console.log"), "wb") as handle:
            handle.write(vm.console.data())

    def _save_files(self, files: dict) -> None:
        out = os.path.join(self.raw_dir, "vm")
        os.makedirs(out, mode=0o755, exist_ok=True)
        for path, data in files.items():
            target = os.path.join(out, path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)

    def _next_task(self, records):
        return self.batch.tasks[len(records)] if len(records) < len(self.batch.tasks) else "test"

    def _fill_skipped(self, records):
        for name in self.batch.tasks[len(records) :]:
            records.append(_tasks.skipped(name, "the VM failed before this task"))
        return records

    def _run_tasks(self, vm: NamespaceVM) -> list[dict]:
        limits = self.batch.limits
        deadline = time.monotonic() + limits["vm_timeout"]
        records, install_ok = [], True
        for name in self.batch.tasks:
            if not install_ok or self.batch.abandoned:
                why = "the run was abandoned" if self.batch.abandoned else "install did not pass"
                records.append(_tasks.skipped(name, why))
                continue
            left = deadline - time.monotonic()
            timeout = min(limits["task_timeout"], max(left, 0.001))
            execution = vm.run(
                name,
                self.python["executable"],
                timeout,
                limits["no_output_timeout"],
                _new_capture(limits),
            )
            record = {"name": name, "execution": execution, "vm_deadline": left <= timeout}
            records.append(record)
            self._write_log(name, execution.output)
            if name == "install" and (execution.rc != 0 or execution.expired):
                install_ok = False
        return records

    def _write_log(self, task: str, capture: Capture) -> None:
        with open(os.path.join(self.raw_dir, f"{task}.log"), "wb") as handle:
            handle.write(capture.data())

    def _collect(self, vm: NamespaceVM) -> dict:
        limits = self.batch.limits
        found = _rawresults.collect(
            vm.results_dir, limits["results_files"], limits["results_bytes"]
        )
        out = os.path.join(self.raw_dir, "vm")
        os.makedirs(out, mode=0o755, exist_ok=True)
        for path, data in found.files.items():
            target = os.path.join(out, path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)
        self.rejected = found.rejected
        return found.files

    def _verify(self, vm: NamespaceVM) -> dict:
        found = _rawresults.collect(vm.records_dir, 2 * len(TASK_NAMES), 4 * MAX_RECORD_BYTES)
        return self._check_records(found.files, vm)

    def _check_records(self, files: dict, vm) -> dict:
        """Each task's signed record, checked with the VM's key, kept beside the raw results."""
        out = os.path.join(self.raw_dir, "records")
        os.makedirs(out, mode=0o755, exist_ok=True)
        for path, data in files.items():
            if _rawresults.SAFE_NAME.fullmatch(path):
                with open(os.path.join(out, path), "wb") as handle:
                    handle.write(data)
        return {task: _records.verify(files, task, vm.key, vm.name) for task in TASK_NAMES}

    def _judge_files(self, records: list[dict], files: dict, evidence: dict) -> list[dict]:
        judged = []
        for record in records:
            if "execution" not in record:
                judged.append(record)
                continue
            execution = record["execution"]
            task = _tasks.judge(
                record["name"],
                execution,
                files,
                self.batch.limits,
                record["vm_deadline"],
                evidence.get(record["name"], (None, NO_RECORD)),
            )
            task["log"] = f"{record['name']}.log"
            if task["status"] != "passed":
                task["log_tail"] = execution.output.tail_text(_tasks.TAIL_BYTES)
            judged.append(task)
        return judged


NO_CANDIDATE_SETUP = {
    "status": "error",
    "kind": "setup",
    "reason": "setup: the setup has no wheelhouse with the candidate for this distribution",
}
ABANDONED = {
    "status": "error",
    "kind": "infra",
    "reason": "infra: the controller stopped following the run, so the slave abandoned it",
}


def _slave_fault(slave: str, exc: OSError) -> dict:
    return {"status": "error", "kind": "infra", "reason": f"infra: slave {slave}: {exc}"}


def _abandoned(task: dict) -> dict:
    """A task cut short because the run was abandoned is an infra error, not a verdict."""
    if task["status"] in ("passed", "skipped"):
        return task
    task.update(status="error", reason=ABANDONED["reason"], failure_kind="infra")
    return task


def _failed(execution: Execution) -> bool:
    return execution.rc != 0 or bool(execution.expired)


def _new_capture(limits: dict) -> Capture:
    total = limits["output_bytes"]
    return Capture(head_bytes=total // 4, tail_bytes=total - total // 4)


def _destroy(vm) -> str | None:
    try:
        vm.destroy()
    except SandboxError as exc:
        return exc.msg
    return None


def _load_dist(setup_dir: str, key: str) -> dict:
    path = os.path.join(setup_dir, "dists", key, "dist.json")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        return {
            "name": key,
            "error": {
                "status": "error",
                "kind": "setup",
                "reason": f"setup: {path} unreadable: {exc}",
            },
        }


def _conclude(result: dict) -> dict:
    """The result's status: that of its first task that neither passed nor was skipped."""
    result.update(status="passed", reason=None, failure_kind=None, no_tests=False)
    for task in result["tasks"]:
        if task.get("no_tests"):
            result.update(no_tests=True, reason=f"{task['name']}: {task['reason']}")
        if task["status"] not in ("passed", "skipped"):
            result.update(
                status=task["status"],
                reason=f"{task['name']}: {task['reason']}",
                failure_kind=task["failure_kind"],
            )
            break
    if all(t["status"] == "skipped" for t in result["tasks"]):
        result.update(status="skipped", reason=result["tasks"][0]["reason"])
    checked = [t.get("verified") for t in result["tasks"] if t.get("verified") is not None]
    result["verified"] = all(checked) if checked else None
    return result
