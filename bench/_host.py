"""The default corpus without PYTI: the same tasks straight on the host, and through tox.

Both use the wheelhouse and requirements that PYTI prepared (its dist.json files), the
same interpreter and the same parallelism; each job gets fresh folders and a fresh venv.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _synthetic
from _common import PARALLEL, RUNNER, VENV_BIN, Clock, log, module_utils, plugin_dir

HOST_RUNNER = Path(__file__).resolve().parent / "hostrunner.py"
TASKS = ("install", "import", "test")


def jobs_from_cache(cache_dir: Path, specs: list[str], python: dict, folder: Path) -> list[dict]:
    """One job per prepared distribution: its requirements, sdist and a flat wheelhouse."""
    store = module_utils("_prepare").Store(str(cache_dir), 990000)
    # The cache is warm: this only finds each spec's key, local archives included.
    keys = _synthetic.prepare(cache_dir, specs, python)
    jobs = []
    for spec in specs:
        dist = store.read_dist(keys[spec])
        prepared = dist["pythons"].get(python["series"]) or {}
        if dist.get("error") or prepared.get("error"):
            continue
        wheelhouse = folder / "wheelhouses" / dist["key"]
        wheelhouse.mkdir(parents=True)
        for wheel in prepared["wheels"]:
            os.symlink(Path(store.setup) / wheel, wheelhouse / Path(wheel).name)
        sdist = dist.get("sdist")
        jobs.append(
            {
                "key": dist["key"],
                "name": dist["name"],
                "python": python["executable"],
                "requirements": prepared["requirements"],
                "sdist": str(Path(store.dist_dir(dist["key"])) / sdist) if sdist else None,
                "wheelhouse": str(wheelhouse),
            }
        )
    return jobs


@contextlib.contextmanager
def ram_folder(keep: bool):
    """A fresh folder on a tmpfs of its own, unmounted after unless KEEP."""
    folder = Path(tempfile.mkdtemp(prefix="pyti-bench-ram-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8g", "pyti-bench", str(folder)], check=True)
    try:
        yield folder
    finally:
        if keep:
            log(f"kept the host runs' folders in {folder} (a tmpfs: umount it when done)")
        else:
            subprocess.run(["umount", str(folder)], check=False)
            folder.rmdir()


def write_job_file(job: dict, folder: Path, venv: Path, uv: str | None) -> Path:
    paths = {"VENV": str(venv), "SRC": str(folder / "src"), "RESULTS": str(folder / "results")}
    paths["WHEELS"] = job["wheelhouse"]
    (folder / "results").mkdir(parents=True)
    path = folder / "job.json"
    path.write_text(json.dumps({**job, "uv": uv, "paths": paths}))
    return path


def run_all(jobs: list[dict], one) -> dict:
    """Run ONE(job) for every job, PARALLEL at a time; the wall time and each job's record."""
    with Clock() as clock, ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        records = list(pool.map(one, jobs))
    return {"wall_s": clock.seconds, "jobs": records}


def baseline(jobs: list[dict], folder: Path) -> dict:
    """PYTI's tasks, by PYTI's runner, with uv from the bench venv, in fresh venvs on the host."""
    log(f"baseline: {len(jobs)} distributions on the host")
    outcome = run_all(jobs, lambda job: _baseline_job(job, folder / job["key"]))
    outcome["task_s"] = _task_totals(outcome["jobs"])
    log(f"baseline: {outcome['wall_s']} s")
    return outcome


def _baseline_job(job: dict, folder: Path) -> dict:
    venv = folder / "venv"
    job_file = write_job_file(job, folder, venv, str(VENV_BIN / "uv"))
    env = _baseline_env(folder, venv)
    record = {"key": job["key"], "tasks": {}, "rc": {}}
    with Clock() as clock:
        for task in TASKS:
            python = job["python"] if task == "install" else str(venv / "bin" / "python")
            started = time.monotonic()
            rc = _call([python, str(HOST_RUNNER), str(RUNNER), task, str(job_file)], env, folder)
            record["tasks"][task] = round(time.monotonic() - started, 3)
            record["rc"][task] = rc
            if task == "install" and rc != 0:
                break
        shutil.rmtree(folder)
    record["wall_s"] = clock.seconds
    return record


def _baseline_env(folder: Path, venv: Path) -> dict:
    """The environment of a PYTI VM (see _vm.VM_ENV), with the job's folders for the VM's."""
    env = dict(module_utils("_vm").VM_ENV)
    for sub in ("home", "tmp"):
        (folder / sub).mkdir()
    env.update(
        HOME=str(folder / "home"),
        TMPDIR=str(folder / "tmp"),
        PATH=f"{venv}/bin:/usr/local/bin:/usr/bin:/bin",
        UV_CACHE_DIR=str(folder / "uv-cache"),
        PYTHONPATH=str(plugin_dir()),
    )
    return env


def _call(argv: list[str], env: dict, folder: Path) -> int:
    with open(folder / "log.txt", "ab") as out:
        return subprocess.call(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=folder)


def _task_totals(records: list[dict]) -> dict:
    totals: dict[str, float] = {}
    for record in records:
        for task, seconds in record["tasks"].items():
            totals[task] = round(totals.get(task, 0) + seconds, 3)
    return totals
