"""Run one task of PYTI's VM runner directly on the host, with the runner's VM paths
(/vm/venv, /vm/src, /vm/results, /wheels) pointed at the job's own folders.

Usage: python hostrunner.py RUNNER TASK JOB_FILE, where the job file holds, besides what
PYTI's job file holds, a "paths" mapping of the runner's path constants. The import task
is done as the VM's recorder does it: each top-level name in an interpreter of its own.
"""

import importlib.util
import json
import subprocess
import sys


def import_all(runner, job):
    names = runner.top_level_names(job["name"])
    failed = [n for n in names if subprocess.call([sys.executable, "-c", "import " + n])]
    return 1 if failed else 0


def main():
    runner_path, task, job_file = sys.argv[1:4]
    spec = importlib.util.spec_from_file_location("vm_runner", runner_path)
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    with open(job_file) as handle:
        job = json.load(handle)
    for constant, path in job["paths"].items():
        setattr(runner, constant, path)
    if task == "import":
        sys.exit(import_all(runner, job))
    sys.exit(runner.TASKS[task](job))


if __name__ == "__main__":
    main()
