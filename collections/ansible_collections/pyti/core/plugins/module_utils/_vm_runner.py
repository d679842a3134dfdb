# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""The steps of a task that run inside a VM as the code under test's identity.

The VM's recorder (vm_recorder.py) starts this script as the VM's user and
records its exit status itself; what the script has to tell beyond that (the
importable names, how the sources were laid out) it sends as events on the
socket named by PYTI_EVENTS_FD. It is copied into the setup and runs under the
interpreter being tested, so it must keep to the standard library of Python 3.9.
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

RESULTS = "/vm/results"
VENV = "/vm/venv"
SRC = "/vm/src"
WHEELS = "/wheels"
NOT_STRIPPED = ("test", "tests", "testing", "docs", "doc")
NO_TESTS = 5  # pytest's own exit status for "no tests collected"


def say(*words):
    print("pyti:", *words, flush=True)


def emit(event):
    """Send EVENT to the recorder, if it listens."""
    fd = os.environ.get("PYTI_EVENTS_FD", "")
    if fd.isdigit():
        os.write(int(fd), json.dumps(event).encode("utf-8")[:65536])


def run(argv):
    say("$", " ".join(argv))
    return subprocess.call(argv)


def install(job):
    python, uv, reqs = job["python"], job.get("uv"), job["requirements"]
    if uv:
        rc = run([uv, "venv", "--quiet", "--python", python, VENV])
        if rc == 0:
            rc = run(
                [
                    uv,
                    "pip",
                    "install",
                    "--python",
                    VENV + "/bin/python",
                    "--offline",
                    "--no-index",
                    "--find-links",
                    WHEELS,
                ]
                + reqs
            )
        return rc
    rc = run([python, "-m", "venv", VENV])
    if rc == 0:
        rc = run(
            [
                VENV + "/bin/python",
                "-m",
                "pip",
                "install",
                "--no-index",
                "--disable-pip-version-check",
                "--find-links",
                WHEELS,
            ]
            + reqs
        )
    return rc


def top_level_names(name):
    """The importable top-level names that the installed distribution provides."""
    from importlib import metadata

    dist = metadata.distribution(name)
    text = dist.read_text("top_level.txt")
    if text:
        names = [n.strip() for n in text.splitlines()]
    else:
        names = [_top_name(f.parts) for f in (dist.files or [])]
    return sorted({n for n in names if n and n.isidentifier() and n != "__pycache__"})


def _top_name(parts):
    first = parts[0]
    if first == ".." or first.endswith((".dist-info", ".data", ".egg-info")):
        return None
    if len(parts) > 1:
        return first
    if first.endswith(".py"):
        return first[:-3]
    if first.endswith((".so", ".pyd")):
        return first.split(".")[0]
    return None


def names(job):
    emit({"e": "names", "names": top_level_names(job["name"])})
    return 0


def extract(archive, dest):
    """Unpack the sdist; returns the folder that holds its files."""
    if archive.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    else:
        with tarfile.open(archive) as tf:
            if hasattr(tarfile, "data_filter"):
                tf.extractall(dest, filter="data")
            else:
                tf.extractall(dest)
    entries = os.listdir(dest)
    if len(entries) == 1 and os.path.isdir(os.path.join(dest, entries[0])):
        return os.path.join(dest, entries[0])
    return dest


def strip_sources(root, names):
    """Remove the package sources, so that the tests import the installed package."""
    removed = []
    for name in list(names) + ["src"]:
        if name in NOT_STRIPPED:
            continue
        for candidate in (name, name + ".py"):
            path = os.path.join(root, candidate)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
                removed.append(candidate)
            elif os.path.lexists(path):
                os.remove(path)
                removed.append(candidate)
    return removed


def test(job):
    sdist = job.get("sdist")
    if not sdist:
        emit({"e": "no_tests", "why": "the distribution has no sdist, so no tests"})
        say("no sdist: nothing to test")
        return NO_TESTS
    root = extract(sdist, SRC)
    removed = strip_sources(root, top_level_names(job["name"]))
    emit({"e": "setup", "root": os.path.relpath(root, SRC), "removed": removed})
    say("testing the installed package with the tests of", os.path.basename(sdist))
    argv = [
        VENV + "/bin/python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "pyti_events",
        "-rfE",
        "--junitxml=" + RESULTS + "/junit.xml",
    ]
    sys.stdout.flush()
    os.chdir(root)
    os.execv(argv[0], argv)


TASKS = {"install": install, "names": names, "test": test}


def main():
    task, job_file = sys.argv[1], sys.argv[2]
    with open(job_file) as handle:
        job = json.load(handle)
    # The VM's name (run id and job id) is the one thing that tells two runs of a job apart.
    os.environ["PYTI_VM"] = job.get("vm") or ""
    sys.exit(TASKS[task](job))


if __name__ == "__main__":
    main()
