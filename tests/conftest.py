"""Shared helpers of the end-to-end suites: run the main job like a user does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def run_playbook(extra_vars: dict, tmp_path: Path, playbook: str = "playbooks/run_tests.yml"):
    """Run a playbook from the repository root with EXTRA_VARS; returns the finished process."""
    vars_file = tmp_path / "run.yml"
    vars_file.write_text(yaml.safe_dump(extra_vars))
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), playbook, "-e", f"@{vars_file}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def load_report(report_dir: Path) -> dict:
    return json.loads((report_dir / "latest" / "report.json").read_text())


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """A setup cache kept between test sessions, so that reruns download nothing."""
    path = ROOT / ".cache" / "tests"
    path.mkdir(parents=True, exist_ok=True)
    return path
