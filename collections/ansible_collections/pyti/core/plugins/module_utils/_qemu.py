# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""One disposable QEMU VM per job: its read-only shares, its results disk, its boot, its removal.

QEMU runs in a bubblewrap sandbox that sees only /usr, the guest image, the VM's share and
the interpreter's prefix, with no network, in the VM's cgroup. It starts as root in there
with no capability but CAP_SETUID and CAP_SETGID, opens /dev/kvm when KVM is used, and then
drops to the VM's uid (-runas) before the guest starts, so that the slave finds and kills
it by uid like a namespace VM. Nothing is shared writable with the guest: setup and
runtime reach it through 9p with readonly=on, and results leave it on a raw disk of fixed
size that the slave reads once QEMU is gone.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tarfile
import threading
import time

# _guest_init is imported so that Ansible ships it with the module; its source goes to the guest.
from . import _cgroup, _guest_init, _qemu_image, _rawresults, _sandbox, _vm
from ._capture import Capture
from ._errors import SandboxError
from ._sandbox import Execution

RECORDER = "/setup/runner/vm_recorder.py"
GUEST_UV = "/pyti/bin/uv"
# Guest memory beyond the tasks' own limit: the kernel, the init and the page cache.
GUEST_OVERHEAD = 256 << 20
# Host memory for QEMU itself beyond the guest's: its code, the TCG translation cache.
QEMU_OVERHEAD = 512 << 20
QEMU_THREADS = 256
# Seconds the slave allows beyond vm_timeout: the boot and the writing of the results disk.
BOOT_ALLOWANCE_S = 180
PROBE_TIMEOUT_S = 30
# Bytes of the results disk beyond the results and the kept output: tar headers.
DISK_SLACK = 1 << 20
INIT_MARK = b"pyti-guest: init "
QEMU_SANDBOX = "on,obsolete=deny,spawn=deny,resourcecontrol=deny"
GUEST_ENV = dict(_vm.VM_ENV)


def qemu_argv(
    image, accel: str, memory_bytes: int, cpus: int, extra: list[str], cpu: str = "host"
) -> list[str]:
    """The QEMU command line inside the sandbox: no network, no devices but those given."""
    if accel == "kvm":
        accel_args = ["-accel", "kvm", "-cpu", cpu]
    else:
        accel_args = ["-accel", "tcg,tb-size=128", "-cpu", "max"]
    return [
        _qemu_image.QEMU,
        "-sandbox",
        QEMU_SANDBOX,
        *accel_args,
        "-m",
        f"{max(64, memory_bytes >> 20)}M",
        "-smp",
        str(cpus),
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "stdio",
        "-nic",
        "none",
        "-no-reboot",
        "-kernel",
        "/pyti-image/vmlinuz",
        "-initrd",
        "/pyti-image/initrd.img",
        *extra,
    ]


def _kernel_args(extra: str = "") -> list[str]:
    return ["-append", f"console=ttyS0 quiet panic=-1 {extra}".strip()]


def _sandbox_for(
    uid: int, image, ro: list[tuple[str, str]], accel: str, rw: list[tuple[str, str]] = ()
) -> list[str]:
    """bwrap argv prefix that runs QEMU as root with no capability but the uid ones.

    QEMU then drops to UID itself (-runas) once it has opened its devices and files.
    """
    box = _sandbox.Sandbox(
        uid=uid, ro=[(image.folder, "/pyti-image"), *ro], rw=list(rw), chdir="/", drop_uid=False
    )
    # Its options, without the "--" that ends them: more follow.
    argv = box.argv([], bwrap=_sandbox.find_bwrap())[:-1]
    if accel == "kvm":
        argv += ["--dev-bind", "/dev/kvm", "/dev/kvm"]
    return argv + ["--"]


class Accel:
    """KVM when a bounded boot probe proved it works, TCG otherwise; cached per versions."""

    def __init__(self, name: str, reason: str, probe_s: float | None, cached: bool):
        self.name = name
        self.reason = reason
        self.probe_s = probe_s
        self.cached = cached

    def as_dict(self) -> dict:
        return {"name": self.name, "reason": self.reason, "probe_s": self.probe_s}


def choose_accel(cache_dir: str, image, uid: int) -> Accel:
    """Probe KVM once per (kernel, qemu, host kernel), never trusting the device's presence."""
    if not os.path.exists("/dev/kvm"):
        return Accel("tcg", "/dev/kvm does not exist", None, False)
    key = "\n".join(
        [image.version, image.info["digest"], _qemu_image.qemu_version(), os.uname().release]
    )
    path = os.path.join(cache_dir, f"accel-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json")
    try:
        with open(path, encoding="utf-8") as handle:
            found = json.load(handle)
        return Accel(found["name"], found["reason"], found.get("probe_s"), True)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    accel = probe_kvm(image, uid, PROBE_TIMEOUT_S)
    with open(path + ".part", "w", encoding="utf-8") as handle:
        json.dump(accel.as_dict(), handle)
    os.replace(path + ".part", path)
    return accel


def probe_kvm(image, uid: int, timeout: float, cpu: str = "host") -> Accel:
    """Boot the guest with KVM to its init; a guest that does not get there is killed."""
    extra = ["-runas", f"{uid}:{uid}", *_kernel_args("pyti.probe")]
    argv = _sandbox_for(uid, image, [], "kvm") + qemu_argv(image, "kvm", 128 << 20, 1, extra, cpu)
    capture = Capture(head_bytes=16384, tail_bytes=16384)
    started = time.monotonic()
    execution = _sandbox.execute(argv, uid, timeout, timeout, capture)
    kill_real_uid(uid, uid)
    took = round(time.monotonic() - started, 2)
    text = capture.data().decode("utf-8", "replace")
    if _qemu_image.PROBE_MARK in text:
        return Accel("kvm", f"KVM probe booted in {took} s", took, False)
    if execution.expired:
        why = f"KVM probe: the guest did not boot within {int(timeout)} s and was killed"
    else:
        lines = [ln for ln in text.splitlines() if ln.strip()] or ["no output"]
        why = f"KVM probe: qemu exited {execution.rc}: {lines[-1].strip()[:200]}"
    return Accel("tcg", why, took, False)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


class QemuVM:
    """A VM of the qemu driver: a share dir, a results disk and a QEMU process as its own uid."""

    driver = "qemu"

    def __init__(self, name: str, base: str, uid: int, python: dict, limits: dict, image, accel):
        self.name = name
        self.base = base
        self.uid = uid
        self.python = python
        self.limits = limits
        self.image = image
        self.accel = accel
        self.share = os.path.join(base, "share")
        self.disk = os.path.join(base, "results.img")
        # The recorder's key reaches the guest on a disk of its own, which only the guest's
        # root can read; the guest's init reads it, then removes the device.
        self.key = secrets.token_bytes(32)
        self.key_disk = os.path.join(base, "key.img")
        self.cgroup: _cgroup.Cgroup | None = None
        self.console = Capture(
            head_bytes=limits["output_bytes"] // 4,
            tail_bytes=limits["output_bytes"] - limits["output_bytes"] // 4,
        )
        self.boot_s: float | None = None
        self.guest_boot_s: float | None = None
        self.ro: list[tuple[str, str]] = []
        self.mounts: list[tuple[str, str]] = []

    @property
    def disk_bytes(self) -> int:
        return self.limits["results_bytes"] + 3 * self.limits["output_bytes"] + DISK_SLACK

    def create(self, setup: dict, job_data: dict, tasks: list[str], cgroups) -> None:
        """Make the VM's share, its results disk and its cgroup.

        SETUP maps a share path (runner, dist, wheels, uv) to the slave files it holds.
        """
        try:
            os.makedirs(self.base, mode=0o755)
            self._make_share(setup, job_data, tasks)
            # Root's own: QEMU opens it before it drops to the VM's uid.
            with open(self.disk, "wb") as handle:
                handle.truncate(self.disk_bytes)
            os.chmod(self.disk, 0o600)
            fd = os.open(self.key_disk, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(self.key.ljust(512, b"\0"))
        except OSError as exc:
            raise SandboxError(f"Creating VM {self.name} failed: {exc}", vm=self.name) from exc
        if cgroups:
            kind, parent = cgroups
            self.cgroup = _cgroup.Cgroup(
                parent, self.name, self.guest_memory + QEMU_OVERHEAD, QEMU_THREADS, kind
            )
            self.cgroup.create()

    @property
    def guest_memory(self) -> int:
        return self.limits["memory_bytes"] + GUEST_OVERHEAD

    def _make_share(self, setup: dict, job_data: dict, tasks: list[str]) -> None:
        # Here, not at the top: _prepare brings the controller's packaging code, which a
        # slave's modules need only for this list.
        from . import _prepare

        share = self.share
        os.makedirs(os.path.join(share, "setup", "runner"))
        for name in _prepare.RUNNER_FILES:
            _link_or_copy(
                os.path.join(setup["runner"], name), os.path.join(share, "setup", "runner", name)
            )
        shutil.copytree(setup["dist"], os.path.join(share, "dist"), copy_function=_link_or_copy)
        os.makedirs(os.path.join(share, "wheels"))
        for wheel in setup["wheels"]:
            _link_or_copy(wheel, os.path.join(share, "wheels", os.path.basename(wheel)))
        if setup.get("uv"):
            os.makedirs(os.path.join(share, "bin"))
            _link_or_copy(setup["uv"], os.path.join(share, "bin", "uv"))
        os.makedirs(os.path.join(share, "etc"))
        if os.path.isfile("/etc/ld.so.cache"):
            shutil.copy("/etc/ld.so.cache", os.path.join(share, "etc", "ld.so.cache"))
        _write_bytes(os.path.join(share, "guest_init.py"), guest_init_source())
        os.makedirs(os.path.join(share, "job"))
        _write_json(os.path.join(share, "job", "job.json"), job_data)
        _write_json(os.path.join(share, "guest.json"), self._guest_data(tasks))
        self.mounts = self._runtime_mounts()
        lines = "".join(f"{tag} {path}\n" for tag, path in self.mounts)
        _write_text(os.path.join(share, "mounts"), lines)
        _write_text(os.path.join(share, "python"), self.python["executable"] + "\n")
        for folder, dirs, _files in os.walk(share):
            for name in dirs:
                os.chmod(os.path.join(folder, name), 0o755)

    def _runtime_mounts(self) -> list[tuple[str, str]]:
        """The slave's folders the guest mounts read-only: /usr, the interpreter's prefix."""
        paths = ["/usr", self.python["prefix"]]
        exe_dir = os.path.dirname(self.python["executable"])
        if not exe_dir.startswith(self.python["prefix"].rstrip("/") + "/"):
            paths.append(exe_dir)
        mounts, seen = [], set()
        for path in paths:
            if path in seen or (path != "/usr" and path.startswith("/usr/")):
                continue
            if any(c.isspace() for c in path):
                raise OSError(f"the guest cannot mount {path!r}, which has white space")
            seen.add(path)
            mounts.append((f"ro{len(mounts)}", path))
        return mounts

    def _guest_data(self, tasks: list[str]) -> dict:
        """Each task, run by the recorder as the guest's root; {key_fd} is the key's pipe."""
        python, uid = self.python["executable"], str(_guest_init.UID)
        commands = [
            {
                "name": name,
                "command": [python, "-I", "-S", RECORDER, name, "/job/job.json", uid]
                + ["{key_fd}", self.name],
            }
            for name in tasks
        ]
        return {"tasks": commands, "limits": self.limits, "env": GUEST_ENV}

    def run_all_tasks(self) -> dict:
        """Boot the guest, which runs every task, and wait until QEMU ends.

        Returns how it ended (rc, expired, duration_s); results() then reads what the
        guest reported of each task.
        """
        extra = ["-runas", f"{self.uid}:{self.uid}", *_kernel_args()]
        extra += [
            "-virtfs",
            f"local,path={self.share},mount_tag=pyti,security_model=none,readonly=on",
        ]
        for tag, path in self.mounts:
            extra += [
                "-virtfs",
                f"local,path={path},mount_tag={tag},security_model=none,readonly=on,"
                "multidevs=remap",
            ]
        extra += ["-drive", f"file={self.disk},format=raw,if=virtio,cache=unsafe"]
        extra += ["-drive", f"file={self.key_disk},format=raw,if=virtio,readonly=on"]
        ro = [(self.share, self.share), (self.key_disk, self.key_disk)]
        ro += [(p, p) for _t, p in self.mounts if p != "/usr"]
        rw = [(self.disk, self.disk)]
        argv = _sandbox_for(self.uid, self.image, ro, self.accel.name, rw)
        argv += qemu_argv(
            self.image, self.accel.name, self.guest_memory, self.limits["vm_cpus"], extra
        )
        if self.cgroup:
            argv = _sandbox.in_cgroup(argv, self.cgroup.procs_files())
        timeout = self.limits["vm_timeout"] + BOOT_ALLOWANCE_S
        return self._boot(argv, timeout)

    def _boot(self, argv: list[str], timeout: float):
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        reader = threading.Thread(target=self._drain, args=(proc.stdout, started), daemon=True)
        reader.start()
        try:
            proc.wait(timeout=timeout)
            expired = False
        except subprocess.TimeoutExpired:
            expired = True
            proc.kill()
            kill_real_uid(self.uid, self.uid)
            proc.wait()
        reader.join(timeout=5)
        proc.stdout.close()
        return {"rc": proc.returncode, "expired": expired, "duration_s": time.monotonic() - started}

    def _drain(self, stream, started: float) -> None:
        fd = stream.fileno()
        pending = b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            self.console.feed(chunk)
            pending = (pending + chunk)[-4096:]
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                self._marker(line.strip(), started)

    def _marker(self, line: bytes, started: float) -> None:
        if line.startswith(INIT_MARK) and self.boot_s is None:
            self.boot_s = round(time.monotonic() - started, 3)

    def results(self, tasks: list[str]) -> tuple[list[dict], _rawresults.Collected]:
        """The records of the tasks that the guest ran, and the results files it wrote."""
        return read_disk(self.disk, self.limits, tasks)

    def destroy(self) -> None:
        """Kill whatever is left of QEMU and remove its files; SandboxError if it cannot."""
        killed = kill_real_uid(self.uid, self.uid)
        if not killed or (self.cgroup and not self.cgroup.kill()):
            raise SandboxError(
                f"Removing VM {self.name} failed: processes of uid {self.uid} survived SIGKILL",
                vm=self.name,
            )
        if self.cgroup:
            self.cgroup.remove()
        for _attempt in range(3):
            shutil.rmtree(self.base, ignore_errors=True)
            if not os.path.lexists(self.base):
                return
            time.sleep(0.1)
        raise SandboxError(
            f"Removing VM {self.name} failed: {self.base} could not be deleted", vm=self.name
        )


def pids_of_real_uid(first: int, last: int) -> list[int]:
    """Processes whose real uid is in FIRST..LAST, read from their status files.

    QEMU changes its own uid (-runas). A process that does so may be left undumpable, and
    then its /proc entry stays root's: the owner of /proc/<pid> would miss it.
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as handle:
                for line in handle:
                    if line.startswith("Uid:"):
                        if first <= int(line.split()[1]) <= last:
                            found.append(int(entry))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return found


def kill_real_uid(first: int, last: int, timeout: float = 5.0) -> bool:
    """SIGKILL, by pid, every process of those real uids until none is left."""
    deadline = time.monotonic() + timeout
    while True:
        pids = pids_of_real_uid(first, last)
        if not pids:
            return True
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def guest_init_source() -> bytes:
    """The guest init's source, also when the module runs from Ansible's zipped payload."""
    spec = _guest_init.__spec__
    try:
        return spec.loader.get_data(spec.origin)
    except (AttributeError, OSError) as exc:
        raise OSError(f"the guest init's source is not readable: {exc}") from exc


def _write_bytes(path: str, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o444)


def _write_json(path: str, data: dict) -> None:
    _write_text(path, json.dumps(data))


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o444)


TASK_KEYS = {"rc", "expired", "duration_s", "output_bytes", "limit", "vm_deadline"}
LIMITS_KNOWN = (None, "memory", "processes", "disk", "inodes")


def read_disk(
    path: str, limits: dict, tasks: list[str]
) -> tuple[list[dict], _rawresults.Collected]:
    """Parse the results disk as untrusted data: a tar stream of regular files within caps.

    Returns one dict per task the guest reports (name, execution, vm_deadline) in task
    order, and the accepted results files with what was refused and why.
    """
    found = _rawresults.Collected(limits["results_files"], limits["results_bytes"])
    meta, outputs = None, {}
    out_cap = limits["output_bytes"]
    try:
        fd = os.open(path, _rawresults.READ_FLAGS)
        stream = os.fdopen(fd, "rb")
    except OSError as exc:
        found.reject(".", f"results disk unreadable: {exc.strerror}")
        return [], found
    with stream:
        try:
            tar = tarfile.open(
                fileobj=_Capped(stream, os.fstat(stream.fileno()).st_size), mode="r|"
            )
            for member in tar:
                _member(tar, member, found, outputs, out_cap)
                if member.name == "guest.json" and member.isreg() and member.size < 1 << 20:
                    meta = _rawresults.load_json(outputs.pop("guest.json", None))
        except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
            found.reject("results.img", f"results disk cut short: {str(exc)[:200]}")
    found.records = {
        k[len("records/") :]: v for k, v in outputs.items() if k.startswith("records/")
    }
    return _records(meta, outputs, limits, tasks), found


class _Capped:
    """A read-only file object that never reads past SIZE."""

    def __init__(self, stream, size: int):
        self.stream = stream
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.stream.read(n)
        self.left -= len(data)
        return data


def _member(tar, member, found, outputs: dict, out_cap: int) -> None:
    name = member.name
    if name == "guest.json" or name.startswith(("tasks/", "records/")):
        if member.isreg() and member.size <= out_cap and name.count("/") <= 1:
            outputs[name] = tar.extractfile(member).read(out_cap)
        return
    if not name.startswith("results/"):
        found.reject(name, "outside results/")
        return
    rel = name[len("results/") :]
    parts = rel.split("/")
    if not all(_rawresults.SAFE_NAME.fullmatch(p) for p in parts):
        found.reject(rel, "name with characters outside [A-Za-z0-9._+-]")
    elif member.isdir():
        return
    elif len(parts) > _rawresults.MAX_DEPTH + 1:
        found.reject(rel, "not a regular file (directory too deep)")
    elif member.issym():
        found.reject(rel, "not a regular file (symlink)")
    elif member.islnk():
        found.reject(rel, "hard link")
    elif member.isfifo():
        found.reject(rel, "not a regular file (fifo)")
    elif member.ischr() or member.isblk():
        found.reject(rel, "not a regular file (device)")
    elif not member.isreg():
        found.reject(rel, "not a regular file (unknown type)")
    elif len(found.files) >= found.max_files:
        found.reject(rel, f"limit: results files ({found.max_files})")
    elif member.size > found.max_bytes - found.total:
        found.reject(rel, f"limit: results bytes ({found.max_bytes})")
    else:
        try:
            data = tar.extractfile(member).read(member.size)
        except (tarfile.TarError, OSError):
            data = b""
        if len(data) != member.size:
            found.reject(rel, "results disk cut short")
            raise EOFError("the results disk ends inside a file")
        found.files[rel] = data
        found.total += len(data)


def _records(meta, outputs: dict, limits: dict, tasks: list[str]) -> list[dict]:
    reported = meta.get("tasks") if isinstance(meta, dict) else None
    if not isinstance(reported, list):
        return []
    records = []
    for name, entry in zip(tasks, reported, strict=False):
        if not isinstance(entry, dict) or entry.get("name") != name:
            break
        rc, expired = entry.get("rc"), entry.get("expired")
        if not (rc is None or (isinstance(rc, int) and not isinstance(rc, bool))):
            break
        if expired not in (None, "timeout", "no-output") or (rc is None) != (expired is not None):
            break
        capture = Capture(
            head_bytes=limits["output_bytes"] // 4,
            tail_bytes=limits["output_bytes"] - limits["output_bytes"] // 4,
        )
        capture.head += outputs.get(f"tasks/{name}.head", b"")[: capture.head_bytes]
        capture.tail += (
            outputs.get(f"tasks/{name}.tail", b"")[-capture.tail_bytes :]
            if capture.tail_bytes
            else b""
        )
        size = entry.get("output_bytes")
        kept = len(capture.head) + len(capture.tail)
        capture.size = size if isinstance(size, int) and size >= kept else kept
        duration = entry.get("duration_s")
        duration = float(duration) if isinstance(duration, (int, float)) and duration >= 0 else 0.0
        limit = entry.get("limit") if entry.get("limit") in LIMITS_KNOWN else None
        execution = Execution(rc, duration, expired, capture, limit)
        records.append(
            {"name": name, "execution": execution, "vm_deadline": entry.get("vm_deadline") is True}
        )
    return records
