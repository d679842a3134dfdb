# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""The task runner that PYTI starts inside a VM, once per task.

It is copied into the setup and runs under the interpreter being tested, so it
must keep to the standard library of Python 3.9. Its exit status is what the
slave observes; the JSON files it writes to the results dir only add detail
(a reason, a module list), which the slave treats as untrusted.
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

RESULTS = "/vm/results"
VENV = "/vm/venv"
SRC = "/vm/src"
WHEELS = "/wheels"
NOT_STRIPPED = ("test", "tests", "testing", "docs", "doc")
NO_TESTS = 5  # pytest's own exit status for "no tests collected"


def say(*words):
    print("pyti:", *words, flush=True)


def write_result(task, data):
    with open(os.path.join(RESULTS, task + ".json"), "w") as handle:
        json.dump(data, handle)


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


def import_all(job):
    modules = [import_one(name) for name in top_level_names(job["name"])]
    write_result("import", {"modules": modules})
    return 0 if all(m["ok"] for m in modules) else 1


def import_one(name):
    """Import NAME in a fresh interpreter; its output goes straight to the slave.

    Only stderr is kept, in a scratch file read from its end, to name the error:
    a module that prints without end costs neither memory nor the verdict.
    """
    say("import", name)
    sys.stdout.flush()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.run([sys.executable, "-c", "import " + name], stderr=err, check=False)
        size = err.seek(0, os.SEEK_END)
        err.seek(max(0, size - 4096))
        text = err.read().decode("utf-8", "replace")
    sys.stdout.write(text)
    lines = [line for line in text.splitlines() if line.strip()]
    error = lines[-1][:500] if proc.returncode and lines else None
    return {"name": name, "ok": proc.returncode == 0, "error": error}


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
        write_result("test", {"no_tests": "the distribution has no sdist, so no tests"})
        say("no sdist: nothing to test")
        return NO_TESTS
    root = extract(sdist, SRC)
    removed = strip_sources(root, top_level_names(job["name"]))
    write_result("test", {"root": os.path.relpath(root, SRC), "removed": removed})
    say("testing the installed package with the tests of", os.path.basename(sdist))
    argv = [
        VENV + "/bin/python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-rfE",
        "--junitxml=" + RESULTS + "/junit.xml",
    ]
    sys.stdout.flush()
    os.chdir(root)
    os.execv(argv[0], argv)


TASKS = {"install": install, "import": import_all, "test": test}


def main():
    task, job_file = sys.argv[1], sys.argv[2]
    with open(job_file) as handle:
        job = json.load(handle)
    sys.exit(TASKS[task](job))


if __name__ == "__main__":
    main()
