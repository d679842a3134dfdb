"""Shared helpers of the end-to-end suites: run the main job like a user does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


SLOW_TEST = """\
import time


def test_slow():
    for _ in range(600):
        print("working", flush=True)
        time.sleep(1)
"""


def _playbook_command(
    extra_vars: dict, vars_file: Path, playbook: str, inventory: Path | None = None
) -> tuple[list, dict]:
    vars_file.write_text(yaml.safe_dump(extra_vars))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), playbook, "-e", f"@{vars_file}"]
    if inventory is not None:
        argv += ["-i", str(inventory)]
    return argv, env


def run_playbook(
    extra_vars: dict,
    tmp_path: Path,
    playbook: str = "playbooks/run_tests.yml",
    inventory: Path | None = None,
):
    """Run a playbook from the repository root with EXTRA_VARS; returns the finished process."""
    argv, env = _playbook_command(extra_vars, tmp_path / "run.yml", playbook, inventory)
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200, check=False
    )


class Controller:
    """The main job running in the background, to be interrupted or killed by a test."""

    def __init__(self, extra_vars: dict, tmp_path: Path):
        self.vars_file = tmp_path / "background.yml"
        argv, env = _playbook_command(extra_vars, self.vars_file, "playbooks/run_tests.yml")
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def interrupt(self, timeout: float = 60) -> None:
        """Ctrl-C, as a terminal sends it to the whole foreground group."""
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the controller and its workers, which Ansible puts in sessions of their own."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        subprocess.run(["pkill", "-KILL", "-f", str(self.vars_file)], check=False)


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def processes_mentioning(text: str, uid: int | None = None) -> list[str]:
    """Command lines of the processes that name TEXT (and run as UID, when given).

    Other runs on a shared machine may use the same VM uids at the same time; a run's own
    VM processes name its work dir in their arguments (QEMU its shares, bubblewrap its
    binds), which tells them apart.
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            args = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if uid is not None and os.stat(f"/proc/{entry}").st_uid != uid:
                continue
        except (OSError, UnicodeDecodeError):
            continue
        if text in args:
            found.append(f"{entry} {args[:300]}")
    return found


def load_report(report_dir: Path) -> dict:
    return json.loads((report_dir / "latest" / "report.json").read_text())


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """A setup cache kept between test sessions, so that reruns download nothing."""
    path = ROOT / ".cache" / "tests"
    path.mkdir(parents=True, exist_ok=True)
    return path
