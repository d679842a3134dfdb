# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""The init of a qemu guest, after the initramfs has mounted its read-only shares.

It runs as the guest's root under the interpreter being tested, so it keeps to the
standard library of Python 3.9. It makes the guest's writable space (a tmpfs of fixed
size), then runs the tasks of the job in order through the same recorder and runner as
the namespace driver: the recorder as the guest's root in a cgroup with the memory and
process limits of the run, each step of a task as the unprivileged guest user. It
enforces the task and no-output timeouts. At the end it writes, as one tar stream onto
the raw results disk, per task the recorder's exit status, duration, expiry, the limit
it hit and the head and tail of its output, then the recorder's signed records and the
results dir, and powers the guest off. The slave treats all of it as untrusted.
"""

import io
import json
import os
import select
import subprocess
import sys
import tarfile
import time

JOB = "/pyti/job/job.json"
GUEST = "/pyti/guest.json"
DISK = "/dev/vda"
KEY_DISK = "/dev/vdb"
RECORDS = "/records"
SCRATCH = "/vm"
GROUP = "/sys/fs/cgroup/task"
UID = 1000
BUSYBOX = "/bin/busybox"
LINKS = {"/setup": "/pyti/setup", "/dist": "/pyti/dist", "/wheels": "/pyti/wheels"}


def say(*words):
    print("pyti-guest:", *words, flush=True)


def sh(*argv):
    proc = subprocess.run([BUSYBOX, *argv], capture_output=True, check=False)
    if proc.returncode != 0:
        say(" ".join(argv), "failed:", proc.stderr.decode("utf-8", "replace").strip())
    return proc.returncode == 0


def write(path, text):
    with open(path, "w") as handle:
        handle.write(text)


def read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def field(text, name):
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == name:
            return int(words[1])
    return 0


def prepare(guest):
    limits = guest["limits"]
    options = (
        f"size={limits['scratch_bytes']},nr_inodes={limits['scratch_inodes']},"
        f"mode=0755,uid={UID},gid={UID},nosuid,nodev"
    )
    sh("mount", "-t", "tmpfs", "-o", options, "pyti-scratch", SCRATCH)
    for sub in ("home", "tmp", "results", ".cache"):
        os.mkdir(os.path.join(SCRATCH, sub), 0o700)
        os.chown(os.path.join(SCRATCH, sub), UID, UID)
    sh("mount", "-o", "bind", SCRATCH + "/tmp", "/tmp")
    open_mount_parents()
    for link, target in LINKS.items():
        os.symlink(target, link)
    os.symlink("/pyti/job", "/job")
    write(
        "/etc/passwd",
        f"root:x:0:0::/root:/bin/sh\npyti:x:{UID}:{UID}:pyti:/vm/home:/bin/sh\n",
    )
    write("/etc/group", f"root:x:0:\npyti:x:{UID}:\n")
    write("/etc/hosts", "127.0.0.1 localhost pyti-vm\n::1 localhost\n")
    write("/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n")
    if os.path.exists("/pyti/etc/ld.so.cache"):
        with open("/pyti/etc/ld.so.cache", "rb") as src, open("/etc/ld.so.cache", "wb") as dst:
            dst.write(src.read())
    sh("hostname", "pyti-vm")
    os.makedirs("/sys/fs/cgroup", exist_ok=True)
    sh("mount", "-t", "cgroup2", "cgroup2", "/sys/fs/cgroup")
    write("/sys/fs/cgroup/cgroup.subtree_control", "+memory +pids")
    os.mkdir(GROUP)
    write(GROUP + "/memory.max", str(limits["memory_bytes"]))
    write(GROUP + "/pids.max", str(limits["processes"]))


def open_mount_parents():
    """Let the guest user reach the shares: the kernel makes /root 0700, for one."""
    for line in read("/pyti/mounts").splitlines():
        parent = os.path.dirname(line.partition(" ")[2])
        while parent not in ("/", ""):
            try:
                os.chmod(parent, 0o755)
            except OSError:
                pass
            parent = os.path.dirname(parent)


def events():
    return {
        "oom_kill": field(read(GROUP + "/memory.events"), "oom_kill"),
        "pids_max": field(read(GROUP + "/pids.events"), "max"),
    }


def kill_group():
    """SIGKILL every process of the task group until it is empty."""
    deadline = time.monotonic() + 10
    while read(GROUP + "/cgroup.procs").split():
        write(GROUP + "/cgroup.kill", "1")
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def scratch_full():
    """Near full, not full: the task's own clean-up at exit frees a little."""
    stats = os.statvfs(SCRATCH)
    if stats.f_favail < max(64, stats.f_files // 200):
        return "inodes"
    if stats.f_bavail < max(256, stats.f_blocks // 100):
        return "disk"
    return None


class Capture:
    """The head and the tail of a stream, and its size."""

    def __init__(self, total):
        self.head_bytes = total // 4
        self.tail_bytes = total - total // 4
        self.head = bytearray()
        self.tail = bytearray()
        self.size = 0

    def feed(self, chunk):
        self.size += len(chunk)
        room = self.head_bytes - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self.tail_bytes > 0:
            self.tail += chunk
            if len(self.tail) > self.tail_bytes:
                del self.tail[: len(self.tail) - self.tail_bytes]


def enter_group():
    write(GROUP + "/cgroup.procs", str(os.getpid()))


def read_key():
    """The recorder's key, from a disk that only root can read; the device goes after."""
    with open(KEY_DISK, "rb") as handle:
        key = handle.read(32)
    os.remove(KEY_DISK)
    return key


def run_task(command, env, timeout, idle_timeout, capture, key):
    """Run one task through the recorder, which runs its steps as the guest user.

    Returns the recorder's rc (None if it expired), the expiry and the duration.
    """
    key_read, key_write = os.pipe()
    os.write(key_write, key)
    os.close(key_write)
    command = [arg.replace("{key_fd}", str(key_read)) for arg in command]
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=SCRATCH,
        env=env,
        start_new_session=True,
        pass_fds=(key_read,),
        preexec_fn=enter_group,
    )
    os.close(key_read)
    started = last = time.monotonic()
    fd = proc.stdout.fileno()
    # Readable the moment the recorder ends, so that its end is not polled for.
    ended = os.pidfd_open(proc.pid) if hasattr(os, "pidfd_open") else None
    watched = [fd] if ended is None else [fd, ended]
    expired = exited = None
    while True:
        now = time.monotonic()
        if now - started > timeout:
            expired = "timeout"
            break
        if now - last > idle_timeout:
            expired = "no-output"
            break
        # The task ends when its process does, even if a daemon it left holds the pipe:
        # what is in the pipe then is read for at most a second more.
        if exited is None and proc.poll() is not None:
            exited = now
        if exited is not None and now - exited > 1:
            break
        ready = select.select(watched, [], [], 0.2 if exited is None else 0)[0]
        if ended in ready:
            watched.remove(ended)
            continue
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            capture.feed(chunk)
            last = time.monotonic()
        elif exited is not None:
            break
    if expired:
        kill_group()
    rc = proc.wait()
    duration = time.monotonic() - started
    if ended is not None:
        os.close(ended)
    kill_group()
    proc.stdout.close()
    if rc < 0:
        # As bubblewrap reports a command killed by a signal, so that both drivers agree.
        rc = 128 - rc
    return (None if expired else rc), expired, duration


def run_tasks(guest, boot_s):
    limits = guest["limits"]
    key = read_key()
    os.mkdir(RECORDS, 0o700)
    deadline = time.monotonic() + limits["vm_timeout"]
    done = []
    for task in guest["tasks"]:
        left = deadline - time.monotonic()
        timeout = min(limits["task_timeout"], max(left, 0.001))
        capture = Capture(limits["output_bytes"])
        before = events()
        say("task", task["name"])
        rc, expired, duration = run_task(
            task["command"], guest["env"], timeout, limits["no_output_timeout"], capture, key
        )
        after = events()
        limit = None
        if after["oom_kill"] > before["oom_kill"]:
            limit = "memory"
        elif after["pids_max"] > before["pids_max"]:
            limit = "processes"
        limit = limit or scratch_full()
        record = {
            "name": task["name"],
            "rc": rc,
            "expired": expired,
            "duration_s": round(duration, 3),
            "output_bytes": capture.size,
            "limit": limit,
            "vm_deadline": left <= timeout,
        }
        say("task", task["name"], "rc", rc, "expired", expired, "limit", limit)
        done.append((record, capture))
        # The records so far, in case the slave has to power the guest off later.
        write_results(done, boot_s, with_files=False)
        if task["name"] == "install" and (rc != 0 or expired):
            break
    return done


def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(bytes(data)))


def smallest_first(folder):
    """The entries of FOLDER, smallest first: when the disk fills, the bulk is what is lost."""
    paths = [os.path.join(folder, name) for name in os.listdir(folder)]
    return sorted(paths, key=lambda path: (os.lstat(path).st_size, path))


def write_results(done, boot_s, with_files=True):
    """The task records, their output and the results dir, as one tar stream on the disk."""
    try:
        with open(DISK, "wb", buffering=0) as disk:
            with tarfile.open(fileobj=disk, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                meta = {"boot_s": boot_s, "tasks": [pair[0] for pair in done]}
                add_bytes(tar, "guest.json", json.dumps(meta).encode())
                for record, capture in done:
                    add_bytes(tar, f"tasks/{record['name']}.head", capture.head)
                    add_bytes(tar, f"tasks/{record['name']}.tail", capture.tail)
                for name in sorted(os.listdir(RECORDS)) if os.path.isdir(RECORDS) else []:
                    with open(os.path.join(RECORDS, name), "rb") as handle:
                        add_bytes(tar, "records/" + name, handle.read())
                results = os.path.join(SCRATCH, "results")
                for path in smallest_first(results) if with_files else []:
                    tar.add(path, "results/" + os.path.basename(path), recursive=True)
            disk.flush()
            os.fsync(disk.fileno())
    except OSError as exc:
        say("writing the results disk stopped:", exc)


def main():
    boot_s = float(read("/proc/uptime").split()[0] or 0)
    say("init", f"{boot_s:.2f}")
    with open(GUEST) as handle:
        guest = json.load(handle)
    done = []
    try:
        prepare(guest)
        done = run_tasks(guest, boot_s)
    except Exception as exc:  # noqa: BLE001 - whatever fails, the slave must hear of it
        import traceback

        traceback.print_exc()
        say("guest init failed:", repr(exc))
    write_results(done, boot_s)
    os.sync()
    say("power off")
    sys.stdout.flush()
    sh("poweroff", "-f")


if __name__ == "__main__":
    main()
