"""The default corpus through tox: one tox.ini and one env per distribution."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from _common import RUNNER, VENV_BIN, Clock, log, plugin_dir
from _host import HOST_RUNNER, run_all, write_job_file

TOX_INI = """\
[tox]
env_list = bench
work_dir = {folder}/.tox
skip_missing_interpreters = false

[testenv:bench]
package = skip
base_python = {python}
install_command = python -I -m pip install --no-index -f {wheelhouse} {{opts}} {{packages}}
deps =
{deps}
change_dir = {folder}
set_env = PYTHONPATH={plugin_dir}
commands =
    python {host_runner} {runner} import {job_file}
    python {host_runner} {runner} test {job_file}
"""


def run_tox(jobs: list[dict], folder: Path) -> dict:
    """tox -e bench per distribution, PARALLEL at a time, each in a fresh folder."""
    log(f"tox: {len(jobs)} distributions")
    outcome = run_all(jobs, lambda job: _tox_job(job, folder / job["key"]))
    log(f"tox: {outcome['wall_s']} s")
    return outcome


def _tox_job(job: dict, folder: Path) -> dict:
    job_file = write_job_file(job, folder, folder / ".tox" / "bench", None)
    ini = folder / "tox.ini"
    ini.write_text(
        TOX_INI.format(
            folder=folder,
            python=job["python"],
            wheelhouse=job["wheelhouse"],
            deps="\n".join(f"    {r}" for r in job["requirements"]),
            host_runner=HOST_RUNNER,
            runner=RUNNER,
            job_file=job_file,
            plugin_dir=plugin_dir(),
        )
    )
    with Clock() as clock:
        with open(folder / "tox.log", "wb") as out:
            rc = subprocess.call(
                [str(VENV_BIN / "tox"), "-c", str(ini), "-e", "bench"],
                env=_tox_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=folder,
            )
        shutil.rmtree(folder / ".tox")
    return {"key": job["key"], "rc": rc, "wall_s": clock.seconds}


def _tox_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "TOX_", "UV_"))}
    env.update(
        PATH=f"{VENV_BIN}:{env['PATH']}",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        VIRTUALENV_NO_PERIODIC_UPDATE="1",
    )
    return env
