# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""The recorder: the one process of a VM whose word the slave believes.

PYTI starts it as the VM's root, with no capability but the two it needs to
start processes under another uid: once per task in a qemu guest, once per VM
in a namespace VM, where it serves the tasks that the slave asks for on a socket
of its own (--serve). It runs every step of each
task as the VM's user (the code under test's identity), watches each step's
exit status and time itself, takes the structured events of the step from a
socket on which the kernel names the sending process, and writes the task's
record to a folder that the VM's user can neither read nor write, signed with
a key that it alone received, on a file descriptor, from the slave.

It runs under the interpreter being tested, isolated (python -I -S), so it
must keep to the standard library of Python 3.6 and import nothing that the
code under test can write.
"""

# The C module itself: the socket module's enums would double the recorder's start.
import _socket as socket
import os
import select
import struct
import sys
import time

RECORDS = "/records"
RUNNER = "/setup/runner/vm_runner.py"
EVENTS_PLUGIN_DIR = "/setup/runner"
VENV_PYTHON = "/vm/venv/bin/python"
MAX_MESSAGE = 65536
MAX_EVENTS = 100000
MAX_FAILURES = 50
MAX_NAMES = 200
TAIL_BYTES = 4096
CRED = struct.Struct("iII")
OUTCOMES = ("passed", "failed", "errors", "skipped")


def say(*words):
    print("pyti-recorder:", *words, flush=True)


class Step:
    """One process started as the VM's user, and what the recorder saw of it."""

    def __init__(self, argv, uid, events=False, keep_stderr=False, env=None):
        self.argv = argv
        self.uid = uid
        self.events = [] if events else None
        self.foreign = 0
        self.dropped = 0
        self.stderr_tail = b""
        self.keep_stderr = keep_stderr
        self.env = env
        self.rc = None
        self.duration_s = 0.0

    def run(self):
        env = dict(os.environ)
        env.update(self.env or {})
        pass_fds, ours = (), None
        if self.events is not None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            env["PYTI_EVENTS_FD"] = str(theirs.fileno())
            pass_fds = (theirs.fileno(),)
        started = time.monotonic()
        proc = Child(as_user(self.uid, self.argv), env, pass_fds, self.keep_stderr)
        if ours is not None:
            theirs.close()
        self._follow(proc, ours)
        self.duration_s = round(time.monotonic() - started, 3)
        self.rc = proc.returncode
        if ours is not None:
            ours.close()
        return self

    def _follow(self, proc, ours):
        """Read events and stderr until the process ends, then what it left in the socket."""
        poller, watched = select.poll(), {}
        ended = exit_descriptor(proc)
        if ended is not None:
            watched[ended] = "exit"
        if ours is not None:
            ours.setblocking(False)
            watched[ours.fileno()] = "events"
        if proc.stderr is not None:
            os.set_blocking(proc.stderr.fileno(), False)
            watched[proc.stderr.fileno()] = "stderr"
        for fd in watched:
            poller.register(fd, select.POLLIN)
        while proc.poll() is None:
            for fd, _mask in poller.poll(100 if ended is not None else 10):
                what = watched.get(fd)
                if what == "events":
                    done = not self._receive(ours, proc.pid)
                elif what == "stderr":
                    done = not self._relay(proc.stderr)
                else:
                    continue
                if done:
                    poller.unregister(fd)
                    del watched[fd]
        # Every message the process sent before it ended is queued by now; whatever
        # its descendants send from here on is not part of the step.
        if ours is not None:
            self._receive(ours, proc.pid)
        if proc.stderr is not None:
            self._relay(proc.stderr)
            proc.stderr.close()
        if ended is not None:
            os.close(ended)

    def _receive(self, ours, pid):
        """Take the queued messages; False once the other end is closed by all."""
        while True:
            try:
                data, ancillary, _flags, _addr = ours.recvmsg(
                    MAX_MESSAGE, socket.CMSG_SPACE(CRED.size)
                )
            except (BlockingIOError, InterruptedError):
                return True
            if not data and not ancillary:
                return False
            sender = sender_pid(ancillary)
            if sender != pid:
                self.foreign += 1
            elif len(self.events) >= MAX_EVENTS:
                self.dropped += 1
            else:
                self.events.append(parse_event(data))

    def _relay(self, stream):
        try:
            chunk = os.read(stream.fileno(), 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
        self.stderr_tail = (self.stderr_tail + chunk)[-TAIL_BYTES:]
        return True


class Child:
    """A process started by fork and exec, in a session of its own, stdin from /dev/null.

    The recorder has a single thread, so fork is safe here, and the subprocess module
    would double the time that the recorder takes to start.
    """

    def __init__(self, argv, env, pass_fds=(), stderr_pipe=False):
        self.returncode = None
        self.stderr = None
        failed_read, failed_write = os.pipe()
        child_stderr = None
        if stderr_pipe:
            stderr_read, child_stderr = os.pipe()
            self.stderr = os.fdopen(stderr_read, "rb", 0)
        self.pid = os.fork()
        if self.pid == 0:
            self._exec(argv, env, pass_fds, child_stderr, failed_write)
        os.close(failed_write)
        if child_stderr is not None:
            os.close(child_stderr)
        with os.fdopen(failed_read, "rb") as failed:
            error = failed.read()
        if error:
            self.wait()
            raise OSError(int(error), f"starting {argv[0]} failed: {os.strerror(int(error))}")

    @staticmethod
    def _exec(argv, env, pass_fds, child_stderr, failed_write):
        """In the child: set up its descriptors and exec ARGV; report an errno if it fails."""
        try:
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            if child_stderr is not None:
                os.dup2(child_stderr, 2)
            keep = {0, 1, 2, failed_write} | set(pass_fds)
            for name in os.listdir("/proc/self/fd"):
                if int(name) not in keep:
                    try:
                        os.close(int(name))
                    except OSError:
                        pass
            for fd in pass_fds:
                os.set_inheritable(fd, True)
            os.execvpe(argv[0], argv, env)
        except BaseException as exc:  # noqa: BLE001 - the child must never return
            os.write(failed_write, str(getattr(exc, "errno", None) or 1).encode())
        finally:
            os._exit(127)

    def poll(self):
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self._set(status)
        return self.returncode

    def wait(self):
        if self.returncode is None:
            self._set(os.waitpid(self.pid, 0)[1])
        return self.returncode

    def _set(self, status):
        if os.WIFSIGNALED(status):
            self.returncode = -os.WTERMSIG(status)
        else:
            self.returncode = os.WEXITSTATUS(status)


def exit_descriptor(proc):
    """A descriptor that turns readable the moment PROC ends, where the system has them.

    Without one, the step's end is polled for, which adds up to the poll's period to it.
    """
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return None
    try:
        return pidfd_open(proc.pid)
    except OSError:
        return None


def as_user(uid, argv):
    """ARGV run as UID, with no capability and no way to gain one."""
    return [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ] + list(argv)


def sender_pid(ancillary):
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            if len(data) >= CRED.size:
                return CRED.unpack(data[: CRED.size])[0]
    return None


def parse_event(data):
    import json

    try:
        event = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {"e": "malformed"}
    return event if isinstance(event, dict) else {"e": "malformed"}


def text(value, limit):
    return str(value)[:limit] if value is not None else None


def runner_step(task, job, uid, python, events=True, env=None, flags=()):
    argv = [python, *flags, RUNNER, task, job]
    return Step(argv, uid, events=events, env=env).run()


def task_install(job, uid):
    # Before the venv exists the runner needs the standard library alone: no site-packages.
    # The recorder runs under the job's interpreter.
    step = runner_step("install", job, uid, sys.executable, events=False, flags=("-I", "-S"))
    return step, {}


def task_import(job, uid):
    names_step = runner_step("names", job, uid, VENV_PYTHON)
    if names_step.rc != 0:
        return names_step, {"modules": None}
    names = []
    for event in names_step.events:
        if event.get("e") == "names" and isinstance(event.get("names"), list):
            names = [n for n in event["names"] if isinstance(n, str) and n.isidentifier()]
    modules, spent = [], names_step.duration_s
    for name in sorted(set(names))[:MAX_NAMES]:
        say("import", name)
        step = Step([VENV_PYTHON, "-c", "import " + name], uid, keep_stderr=True).run()
        spent += step.duration_s
        modules.append({"name": name, "ok": step.rc == 0, "error": last_line(step)})
    names_step.duration_s = round(spent, 3)
    names_step.rc = 0 if all(m["ok"] for m in modules) else 1
    return names_step, {"modules": modules}


def last_line(step):
    if step.rc == 0:
        return None
    lines = [ln for ln in step.stderr_tail.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1][:500] if lines else f"exit {step.rc}"


def task_test(job, uid):
    env = {"PYTHONPATH": EVENTS_PLUGIN_DIR}
    step = runner_step("test", job, uid, VENV_PYTHON, env=env)
    return step, {"pytest": summarize(step.events)}


def summarize(events):
    """What pytest told about its session: counts, first failures, and whether it ended."""
    summary = {
        "collected": None,
        "finished": False,
        "exitstatus": None,
        "counts": dict.fromkeys(OUTCOMES, 0),
        "cases": 0,
        "failures": [],
        "setup": None,
        "no_tests": None,
        "malformed": 0,
    }
    for event in events:
        kind = event.get("e")
        if kind == "setup":
            removed = event.get("removed")
            summary["setup"] = {
                "root": text(event.get("root"), 300),
                "removed": [text(r, 100) for r in removed[:20]]
                if isinstance(removed, list)
                else [],
            }
        elif kind == "no_tests":
            summary["no_tests"] = text(event.get("why"), 300)
        elif kind == "collected" and isinstance(event.get("n"), int):
            summary["collected"] = event["n"]
        elif kind == "case" and event.get("outcome") in OUTCOMES:
            add_case(summary, event)
        elif kind == "finish" and isinstance(event.get("exitstatus"), int):
            summary["finished"] = True
            summary["exitstatus"] = event["exitstatus"]
        else:
            summary["malformed"] += 1
    return summary


def add_case(summary, event):
    outcome = event["outcome"]
    summary["counts"][outcome] += 1
    if event.get("test"):
        summary["cases"] += 1
    if outcome in ("failed", "errors") and len(summary["failures"]) < MAX_FAILURES:
        summary["failures"].append(
            {
                "name": text(event.get("id"), 500),
                "message": text(event.get("message"), 1000) or "",
                "outcome": outcome,
            }
        )


TASKS = {"install": task_install, "import": task_import, "test": task_test}


def read_key(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    key = b"".join(chunks)
    if len(key) < 32:
        raise SystemExit(f"pyti-recorder: no signing key on fd {fd}")
    return key


def sign(key, payload):
    # Imported once the steps are done: hashlib is slow to load.
    import hashlib
    import hmac

    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def write_record(task, record, key):
    import json

    payload = json.dumps(record, sort_keys=True).encode("utf-8")
    for name, data in ((task + ".json", payload), (task + ".sig", sign(key, payload).encode())):
        path = os.path.join(RECORDS, name)
        fd = os.open(path + ".part", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(path + ".part", path)


def exit_status(rc):
    """The recorder's own exit status: the step's, with a signal N as 128 + N."""
    return 128 - rc if rc < 0 else min(rc, 255)


def record_task(task, job, uid, key, vm):
    """Run TASK's steps, write its signed record; the recorder's exit status for it."""
    step, detail = TASKS[task](job, uid)
    record = {
        "vm": vm,
        "task": task,
        "rc": step.rc,
        "duration_s": step.duration_s,
        "foreign_events": step.foreign,
        "dropped_events": step.dropped,
    }
    record.update(detail)
    write_record(task, record, key)
    return exit_status(step.rc)


def serve(job, uid, key, vm, control):
    """Run the tasks that the slave asks for on CONTROL, one at a time, until it hangs up.

    Each request is a task's name with, attached, the write end of a pipe: the task's
    output goes there and nowhere else. The reply, once the record is written, is
    "done TASK STATUS"; the task's output pipe is closed by then.
    """
    while True:
        data, ancillary, _flags, _addr = control.recvmsg(256, socket.CMSG_SPACE(4))
        fds = received_fds(ancillary)
        if not data:
            return
        task = data.decode("ascii", "replace")
        if len(fds) != 1 or task not in TASKS:
            for fd in fds:
                os.close(fd)
            control.send(b"refused " + data[:64])
            continue
        status = serve_one(task, job, uid, key, vm, fds[0])
        control.send(f"done {task} {status}".encode())


def serve_one(task, job, uid, key, vm, output):
    sys.stdout.flush()
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    try:
        return record_task(task, job, uid, key, vm)
    except Exception:  # noqa: BLE001 - the task fails, unrecorded; the next one may run
        import traceback

        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)


def received_fds(ancillary):
    fds = []
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(data) - len(data) % 4
            fds.extend(struct.unpack(f"{usable // 4}i", data[:usable]))
    return fds


def main():
    """recorder TASK JOB UID KEY_FD VM: run one task and exit with its status.
    recorder --serve JOB UID KEY_FD VM CONTROL_FD: run tasks as the slave asks (serve).

    JOB is the job file's path, for the runner: the recorder itself needs nothing of it.
    """
    if sys.argv[1] == "--serve":
        job, uid, key_fd, vm, control_fd = sys.argv[2:7]
        key = read_key(int(key_fd))
        control = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, 0, int(control_fd))
        serve(job, int(uid), key, vm, control)
        return
    task, job, uid, key_fd, vm = sys.argv[1:6]
    key = read_key(int(key_fd))
    sys.exit(record_task(task, job, int(uid), key, vm))


if __name__ == "__main__":
    main()
