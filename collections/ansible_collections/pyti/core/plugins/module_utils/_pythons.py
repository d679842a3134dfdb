# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Find the interpreters a run asks for on a slave, resolved to their real prefix."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess

# Runs under the interpreter being probed, which may be old: keep it 2.7-proof.
PROBE = (
    "import json, os, sys, platform\n"
    "print(json.dumps({'executable': os.path.realpath(sys.executable),"
    " 'version': platform.python_version(),"
    " 'implementation': platform.python_implementation(),"
    " 'prefix': os.path.realpath(sys.base_prefix if hasattr(sys, 'base_prefix') else sys.prefix),"
    " 'major': sys.version_info[0], 'minor': sys.version_info[1]}))\n"
)
VERSION_NAME = re.compile(r"^(?:python)?(\d+)(?:\.(\d+))?$")
SYSTEM_DIRS = ("/usr/local/bin", "/usr/bin")


def probe(executable: str) -> dict | None:
    """Run the interpreter once and return what it says of itself, or None if it fails."""
    try:
        proc = subprocess.run(
            [executable, "-c", PROBE],
            capture_output=True,
            timeout=20,
            check=False,
            stdin=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        info = json.loads(proc.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return info if isinstance(info, dict) else None


def pyenv_roots() -> list[str]:
    """Where pyenv keeps interpreters for the user running the module."""
    roots = [os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv")]
    return [r for r in dict.fromkeys(roots) if r and os.path.isdir(os.path.join(r, "versions"))]


def candidates(name: str) -> list[str]:
    """Executables that could be the interpreter called NAME, best first."""
    if os.path.isabs(name):
        return [name]
    match = VERSION_NAME.match(name)
    binary = name if name.startswith("python") else f"python{name}"
    found = [shutil.which(binary)]
    found += [os.path.join(d, binary) for d in SYSTEM_DIRS]
    for root in pyenv_roots():
        if match and match.group(2):
            pattern = f"{root}/versions/{match.group(1)}.{match.group(2)}*/bin/{binary}"
        else:
            pattern = f"{root}/versions/*/bin/{binary}"
        found += sorted(glob.glob(pattern), reverse=True)
    return [f for f in dict.fromkeys(found) if f and os.access(f, os.X_OK)]


def matches(name: str, info: dict) -> bool:
    """Whether a probed interpreter is the version that NAME asks for."""
    match = VERSION_NAME.match(name)
    if not match:
        return True
    if info.get("major") != int(match.group(1)):
        return False
    return match.group(2) is None or info.get("minor") == int(match.group(2))


def resolve(name: str) -> dict | None:
    """Resolve one interpreter name or path; None when this host has no such python."""
    for executable in candidates(name):
        info = probe(executable)
        if info and matches(name, info):
            info["name"] = name
            info["series"] = f"{info['major']}.{info['minor']}"
            return info
    return None


def resolve_all(names: list[str]) -> tuple[list[dict], list[str]]:
    """Resolve every name: the interpreters found, and the names this host lacks."""
    found, missing = [], []
    for name in names:
        info = resolve(name)
        if info is None:
            missing.append(name)
        else:
            found.append(info)
    return found, missing
