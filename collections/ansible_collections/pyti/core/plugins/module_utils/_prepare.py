# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Prepare the setup on the controller: archives, built wheels and a wheelhouse per python.

Every step that may run code of a distribution (sdist metadata, builds, dependency
resolution) runs in a sandbox with network, as its own uid, writing only to a
work dir that the controller then reads as untrusted. Results are cached in the
store by content, so a second run of a pinned corpus downloads nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

from . import _archives, _candidate, _cgroup, _sandbox

try:
    from packaging.requirements import InvalidRequirement, Requirement
except ImportError:  # ansible-core brings packaging; without it a spec names itself
    Requirement = None
from ._capture import Capture
from ._errors import PrepareError

PIP_ENV_KEYS = re.compile(
    r"^(PIP_(?!FIND_LINKS)[A-Z_]+|https?_proxy|HTTPS?_PROXY|no_proxy|"
    r"NO_PROXY|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE)$"
)
STEP_LIMITS = {
    "task_timeout": 900,
    "no_output_timeout": 300,
    "memory_bytes": 4 << 30,
    "processes": 1024,
}
PINNED = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*===?\s*([A-Za-z0-9.!+_-]+)\s*$")


class StepFailed(Exception):
    def __init__(self, rc, tail: str, output: str = ""):
        super().__init__(tail)
        self.rc = rc
        self.tail = tail
        self.output = output


def _last_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith("ERROR:") or "error" in line.lower():
            return line[:400]
    return lines[-1][:400] if lines else "no output"


class Workspace:
    """A throw-away dir that one prepare sandbox may write, owned by that sandbox's uid."""

    def __init__(self, store: Store, uid: int, limits: dict, find_links: tuple = ()):
        """FIND_LINKS: local folders of archives that pip looks in besides the index."""
        self.store = store
        self.uid = uid
        self.limits = limits
        self.find_links = list(find_links)
        self.path = tempfile.mkdtemp(prefix="work-", dir=store.tmp)
        os.chmod(self.path, 0o755)
        for sub in ("dl", "built", "wh", "cand", "whc", "home", "tmp"):
            os.mkdir(os.path.join(self.path, sub))
        for root, dirs, _files in os.walk(self.path):
            for d in [root] + [os.path.join(root, x) for x in dirs]:
                os.chown(d, uid, uid)
        self.cgroup = self._make_cgroup()

    def _make_cgroup(self) -> _cgroup.Cgroup | None:
        """Memory and process limits for the builds, as for a VM; None without cgroups."""
        kind = _cgroup.layout()
        if kind is None:
            return None
        group = _cgroup.Cgroup(
            f"pyti-{self.store.uid_base}-prepare",
            os.path.basename(self.path),
            self.limits["memory_bytes"],
            self.limits["processes"],
            kind,
        )
        group.create()
        return group

    def pip(self, python: dict, args: list[str]) -> str:
        """Run pip for PYTHON in a sandbox with network; StepFailed with pip's error."""
        sandbox = _sandbox.Sandbox(
            uid=self.uid,
            network=True,
            whole_etc=True,
            chdir="/prepare",
            env=self._env(),
            ro=self._ro(python) + [(p, f"/find-links/{n}") for n, p in enumerate(self.find_links)],
            rw=[(self.path, "/prepare"), (self.store.pip_cache(self.uid), "/prepare-cache")],
        )
        links = [
            arg for n in range(len(self.find_links)) for arg in ("--find-links", f"/find-links/{n}")
        ]
        command = [sys.executable, "-m", "pip", "--python", python["executable"]]
        command += args[:1] + links + args[1:]
        capture = Capture(64 << 10, 192 << 10)
        argv = sandbox.argv(command, bwrap=_sandbox.find_bwrap())
        before = self.cgroup.events() if self.cgroup else None
        if self.cgroup:
            argv = _sandbox.in_cgroup(argv, self.cgroup.procs_files())
        done = _sandbox.execute(
            argv,
            self.uid,
            self.limits["task_timeout"],
            self.limits["no_output_timeout"],
            capture,
        )
        text = capture.data().decode("utf-8", "replace")
        if self.cgroup:
            self.cgroup.kill()
            limit = _cgroup.which_limit_hit(before, self.cgroup.events())
            if limit:
                raise StepFailed(done.rc, f"limit: {limit} of the prepare sandbox")
        if done.expired or done.rc != 0:
            why = f"timed out ({done.expired})" if done.expired else _last_error(text)
            raise StepFailed(done.rc, why, text)
        return text

    def _env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if PIP_ENV_KEYS.match(k)}
        env.update(
            HOME="/prepare/home",
            TMPDIR="/prepare/tmp",
            PATH="/usr/bin:/bin",
            LANG="C.UTF-8",
            PIP_CACHE_DIR="/prepare-cache",
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PIP_NO_INPUT="1",
            PIP_CONFIG_FILE="/dev/null",
        )
        return env

    def _ro(self, python: dict) -> list[tuple[str, str]]:
        paths = {
            os.path.realpath(sys.prefix),
            os.path.realpath(sys.base_prefix),
            python["prefix"],
            os.path.dirname(python["executable"]),
        }
        return [
            (p, p) for p in sorted(paths) if not p.startswith(("/usr/", "/etc/")) and p != "/usr"
        ]

    def remove(self) -> None:
        _sandbox.kill_uid(self.uid)
        if self.cgroup:
            self.cgroup.kill()
            self.cgroup.remove()
        shutil.rmtree(self.path, ignore_errors=True)


class Store:
    """The controller's cache: setup files by content, and what each spec resolved to."""

    def __init__(self, root: str, uid_base: int):
        self.root = os.path.abspath(root)
        self.setup = os.path.join(self.root, "setup")
        self.tmp = os.path.join(self.root, "tmp")
        self.uid_base = uid_base
        self.lock = threading.Lock()
        for path in (self.setup, self.tmp, os.path.join(self.root, "acquired")):
            os.makedirs(path, mode=0o755, exist_ok=True)

    def pip_cache(self, uid: int) -> str:
        path = os.path.join(self.root, "pip-cache", str(uid))
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.chown(path, uid, uid)
        return path

    def add_wheel(self, path: str) -> str:
        """Store a wheel by its hash; returns its path relative to the setup."""
        digest = _archives.sha256_of(path)
        rel = os.path.join("wheels", digest[:24], os.path.basename(path))
        target = os.path.join(self.setup, rel)
        if not os.path.exists(target):
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)

            def copy(handle):
                with open(path, "rb") as src:
                    shutil.copyfileobj(src, handle)

            replace_atomically(target, copy, 0o444)
        return rel

    def dist_dir(self, key: str) -> str:
        return os.path.join(self.setup, "dists", key)

    def read_dist(self, key: str) -> dict | None:
        try:
            with open(os.path.join(self.dist_dir(key), "dist.json"), encoding="utf-8") as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return None

    def write_dist(self, dist: dict) -> None:
        folder = self.dist_dir(dist["key"])
        os.makedirs(folder, mode=0o755, exist_ok=True)
        text = json.dumps(dist, indent=1, sort_keys=True)
        replace_atomically(os.path.join(folder, "dist.json"), lambda h: h.write(text.encode()))

    def acquired(self, spec: str) -> dict | None:
        if not PINNED.match(spec):
            return None
        path = os.path.join(
            self.root,
            "acquired",
            _archives.hashlib.sha256(spec.encode()).hexdigest()[:32] + ".json",
        )
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def remember(self, spec: str, key: str) -> None:
        path = os.path.join(
            self.root,
            "acquired",
            _archives.hashlib.sha256(spec.encode()).hexdigest()[:32] + ".json",
        )
        text = json.dumps({"spec": spec, "key": key})
        replace_atomically(path, lambda handle: handle.write(text.encode()))


def replace_atomically(target: str, fill, mode: int = 0o644) -> None:
    """Write TARGET with FILL(handle) through a temporary file of this writer's own.

    Preparation runs in parallel, and two distributions often need the same wheel: each
    writer gets its own partial file, and the last rename wins with the same content.
    """
    fd, part = tempfile.mkstemp(
        dir=os.path.dirname(target), prefix=os.path.basename(target) + ".", suffix=".part"
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
        os.chmod(part, mode)
        os.replace(part, target)
    except BaseException:
        if os.path.lexists(part):
            os.unlink(part)
        raise


def _error(status: str, kind: str, reason: str) -> dict:
    return {"status": status, "kind": kind, "reason": reason}


def _spec_name(spec: str) -> str:
    """The distribution a spec asks for (idna for idna==99.0); a path's file name."""
    if os.path.isabs(spec):
        return os.path.basename(spec)
    if Requirement is None:
        return spec
    try:
        return Requirement(spec).name
    except InvalidRequirement:
        return spec


class Preparer:
    """Turn distribution specs into dist entries of the store, one sandbox per spec."""

    def __init__(
        self,
        store: Store,
        pythons: list[dict],
        workers: int = 3,
        limits: dict | None = None,
        find_links: tuple = (),
    ):
        """LIMITS bound each sandboxed step: the timeouts, memory and processes of a VM.

        FIND_LINKS are local folders of archives that every pip step looks in too.
        """
        self.store = store
        self.pythons = pythons
        self.workers = workers
        self.limits = {**STEP_LIMITS, **(limits or {})}
        self.find_links = tuple(find_links)
        self.downloads = 0
        self.prepared = 0
        self.candidates: list[dict] = []
        self.candidate_id: str | None = None

    def prepare(self, specs: list[str], candidates: list[str] = ()) -> dict[str, str]:
        """Prepare every spec; returns spec -> dist key (failures are recorded in the dist).

        With CANDIDATES, first builds each candidate once, then gives every distribution a
        second wheelhouse per python in which the candidates replace their released versions.
        """
        uids = list(range(self.store.uid_base + 1000, self.store.uid_base + 1000 + self.workers))
        free = _UidPool(uids)
        with _sandbox.lock_uids(self.store.uid_base, "prepare", timeout=3600):
            if candidates:
                self.candidates = [free.run(self._candidate, spec) for spec in candidates]
                self.candidate_id = _candidate.candidate_id(self.candidates)
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                keys = list(pool.map(lambda spec: free.run(self._one, spec), specs))
        return dict(zip(specs, keys, strict=True))

    def _candidate(self, spec: str, uid: int) -> dict:
        """Build one candidate's wheel per python; PrepareError when it cannot be built.

        A pinned spec that was acquired before and whose wheels are in the store is reused.
        """
        known = self.store.acquired(spec)
        dist = self.store.read_dist(known["key"]) if known else None
        wheels = dict((dist or {}).get("candidate_wheels") or {})
        if dist and all(p["series"] in wheels for p in self.pythons):
            return _candidate_entry(spec, dist, wheels)
        ws = self._workspace(uid)
        try:
            dist = dist or self._known_or_fresh(self._acquire(spec, ws))
            if dist.get("error"):
                raise PrepareError(
                    f"pyti_candidate: {spec!r} cannot be used: {dist['error']['reason']}",
                    field="pyti_candidate",
                    value=spec,
                )
            wheels.update(dist.get("candidate_wheels") or {})
            self._copy_archive(dist, ws)
            for python in self.pythons:
                if python["series"] not in wheels:
                    wheels[python["series"]] = self._candidate_wheel(spec, dist, ws, python)
        finally:
            ws.remove()
        with self.store.lock:
            dist["candidate_wheels"] = wheels
            self.store.write_dist(dist)
            self.store.remember(spec, dist["key"])
        return _candidate_entry(spec, dist, wheels)

    def _candidate_wheel(self, spec: str, dist: dict, ws: Workspace, python: dict) -> str:
        for entry in os.listdir(os.path.join(ws.path, "built")):
            os.remove(os.path.join(ws.path, "built", entry))
        try:
            return self.store.add_wheel(self._wheel_of(dist, ws, python))
        except StepFailed as exc:
            raise PrepareError(
                f"pyti_candidate: building {spec!r} for Python {python['series']} "
                f"failed: {exc.tail}",
                field="pyti_candidate",
                value=spec,
            ) from None

    def _copy_archive(self, dist: dict, ws: Workspace) -> None:
        archive = os.path.join(ws.path, "dl", dist["archive"])
        if not os.path.exists(archive):
            shutil.copyfile(
                os.path.join(self.store.dist_dir(dist["key"]), dist["archive"]), archive
            )

    def _workspace(self, uid: int) -> Workspace:
        return Workspace(self.store, uid, self.limits, self.find_links)

    def _one(self, spec: str, uid: int) -> str:
        known = self.store.acquired(spec)
        dist = self.store.read_dist(known["key"]) if known else None
        if dist and not self._missing(dist):
            return dist["key"]
        ws = self._workspace(uid)
        try:
            dist = dist or self._known_or_fresh(self._acquire(spec, ws))
            todo = self._missing(dist) if not dist.get("error") else []
            self._build_all(dist, ws)
        finally:
            ws.remove()
        with self.store.lock:
            self.store.write_dist(dist)
            if not dist.get("error"):
                self.store.remember(spec, dist["key"])
            if todo and not dist.get("error") and not self._missing(dist):
                self.prepared += 1
        return dist["key"]

    def _known_or_fresh(self, fresh: dict) -> dict:
        """The stored entry of the same archive when there is one, else the fresh entry."""
        if fresh.get("error"):
            return fresh
        stored = self.store.read_dist(fresh["key"])
        if stored and stored.get("sha256") == fresh.get("sha256"):
            return stored
        return fresh

    def _missing(self, dist: dict) -> list[dict]:
        """The pythons whose wheelhouse (or, in candidate mode, candidate wheelhouse) is due."""
        done = dist.get("pythons", {})
        variants = (dist.get("candidates") or {}).get(self.candidate_id) or {}
        return [
            p
            for p in self.pythons
            if p["series"] not in done
            or done[p["series"]].get("error")
            or (self.candidate_id and not done[p["series"]].get("wheel"))
            or (self.candidate_id and _unfinished(variants.get(p["series"])))
        ]

    def _acquire(self, spec: str, ws: Workspace) -> dict:
        try:
            if os.path.isabs(spec):
                path, source = self._copy_local(spec, ws), "local"
            else:
                path, source = self._download(spec, ws), "pypi"
            name, version, kind = _archives.identify(path)
        except PrepareError as exc:
            return self._failed_dist(spec, _error("error", "setup", exc.msg))
        key = f"{name}-{version}"
        if source == "local":
            key += "-" + _archives.sha256_of(path)[:12]
        return self._store_archive(spec, path, key, name, version, kind, source)

    def _failed_dist(self, spec: str, error: dict) -> dict:
        """The record of a spec that gave no archive: named as the spec names it, so that a
        comparison matches it with the same distribution in another run."""
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", spec)[-60:].strip("_") or "spec"
        key = "invalid-" + slug + "-" + _archives.hashlib.sha256(spec.encode()).hexdigest()[:8]
        return {
            "key": key,
            "name": _spec_name(spec),
            "version": None,
            "spec": spec,
            "source": "local" if os.path.isabs(spec) else "pypi",
            "sdist": None,
            "archive": None,
            "error": error,
            "pythons": {},
        }

    def _store_archive(self, spec, path, key, name, version, kind, source) -> dict:
        folder = self.store.dist_dir(key)
        os.makedirs(folder, mode=0o755, exist_ok=True)
        filename = os.path.basename(path)
        shutil.copyfile(path, os.path.join(folder, filename))
        os.chmod(os.path.join(folder, filename), 0o444)
        return {
            "key": key,
            "name": name,
            "version": version,
            "spec": spec,
            "source": source,
            "archive": filename,
            "sdist": filename if kind == "sdist" else None,
            "sha256": _archives.sha256_of(path),
            "error": None,
            "pythons": {},
        }

    def _copy_local(self, spec: str, ws: Workspace) -> str:
        if not os.path.isfile(spec):
            raise PrepareError(f"no such distribution archive: {spec}", path=spec)
        target = os.path.join(ws.path, "dl", os.path.basename(spec))
        shutil.copyfile(spec, target)
        return target

    def _download(self, spec: str, ws: Workspace) -> str:
        base = ["download", "--no-deps", "--dest", "/prepare/dl", spec]
        self.downloads += 1
        try:
            ws.pip(self.pythons[0], base[:2] + ["--no-binary", ":all:"] + base[2:])
        except StepFailed as first:
            try:
                ws.pip(self.pythons[0], base[:2] + ["--only-binary", ":all:"] + base[2:])
            except StepFailed:
                raise PrepareError(_download_reason(first.tail), spec=spec) from None
        files = os.listdir(os.path.join(ws.path, "dl"))
        if len(files) != 1:
            raise PrepareError(f"download of {spec} gave {len(files)} files, expected one")
        return os.path.join(ws.path, "dl", files[0])

    def _build_all(self, dist: dict, ws: Workspace) -> None:
        if dist.get("error"):
            return
        self._copy_archive(dist, ws)
        for python in self._missing(dist):
            series = python["series"]
            base = dist["pythons"].get(series)
            if not base or base.get("error") or not base.get("wheel"):
                base = dist["pythons"][series] = self._build(dist, ws, python)
            if self.candidate_id and not base.get("error"):
                variants = dist.setdefault("candidates", {}).setdefault(self.candidate_id, {})
                variants[series] = self._build_candidate(dist, ws, python, base)

    def _build_candidate(self, dist: dict, ws: Workspace, python: dict, base: dict) -> dict:
        """The wheelhouse in which the candidates replace their released versions."""
        own = os.path.join(self.store.setup, base["wheel"])
        why = _candidate.conflict(own, base["extra"], python["series"], self.candidates)
        if why:
            return {"error": None, "not_applicable": f"{dist['name']} {dist['version']} {why}"}
        for sub in ("built", "cand", "whc"):
            for entry in os.listdir(os.path.join(ws.path, sub)):
                os.remove(os.path.join(ws.path, sub, entry))
        shutil.copyfile(own, os.path.join(ws.path, "built", os.path.basename(own)))
        paths = []
        for cand in self.candidates:
            wheel = cand["wheels"][python["series"]]
            shutil.copyfile(
                os.path.join(self.store.setup, wheel),
                os.path.join(ws.path, "cand", os.path.basename(wheel)),
            )
            paths.append("/prepare/cand/" + os.path.basename(wheel))
        extra = base["extra"]
        target = "/prepare/built/" + os.path.basename(own) + (f"[{extra}]" if extra else "")
        args = ["wheel", "--wheel-dir", "/prepare/whc", "--find-links", "/prepare/built"]
        try:
            ws.pip(python, args + [target, "pytest", *paths])
        except StepFailed as exc:
            why = _candidate.resolution_conflict(exc.output, self.candidates)
            if why:
                return {"error": None, "not_applicable": why}
            return {
                "error": _error("error", "setup", f"dependencies with the candidate: {exc.tail}")
            }
        wheels = [
            self.store.add_wheel(w) for w in _archives.safe_wheels(os.path.join(ws.path, "whc"))
        ]
        pins = [f"{c['name']}=={c['version']}" for c in self.candidates]
        return {"error": None, "wheels": wheels, "requirements": base["requirements"] + pins}

    def _build(self, dist: dict, ws: Workspace, python: dict) -> dict:
        for sub in ("built", "wh"):
            for entry in os.listdir(os.path.join(ws.path, sub)):
                os.remove(os.path.join(ws.path, sub, entry))
        try:
            wheel = self._wheel_of(dist, ws, python)
        except StepFailed as exc:
            return {"error": _error("failed", "task", f"build failed: {exc.tail}")}
        extra = _archives.test_extra(wheel)
        target = f"/prepare/built/{os.path.basename(wheel)}" + (f"[{extra}]" if extra else "")
        try:
            ws.pip(
                python,
                [
                    "wheel",
                    "--wheel-dir",
                    "/prepare/wh",
                    "--find-links",
                    "/prepare/built",
                    target,
                    "pytest",
                ],
            )
        except StepFailed as exc:
            return {"error": _error("error", "setup", f"dependencies: {exc.tail}")}
        wheels = [
            self.store.add_wheel(w) for w in _archives.safe_wheels(os.path.join(ws.path, "wh"))
        ]
        requirement = f"{dist['name']}[{extra}]" if extra else dist["name"]
        return {
            "error": None,
            "extra": extra,
            "wheel": self.store.add_wheel(wheel),
            "wheels": wheels,
            "requirements": [f"{requirement}=={dist['version']}", "pytest"],
        }

    def _wheel_of(self, dist: dict, ws: Workspace, python: dict) -> str:
        archive = os.path.join(ws.path, "dl", dist["archive"])
        if not dist.get("sdist"):
            target = os.path.join(ws.path, "built", dist["archive"])
            shutil.copyfile(archive, target)
            return target
        ws.pip(
            python,
            [
                "wheel",
                "--no-deps",
                "--wheel-dir",
                "/prepare/built",
                "/prepare/dl/" + dist["archive"],
            ],
        )
        wheels = _archives.safe_wheels(os.path.join(ws.path, "built"))
        if len(wheels) != 1:
            raise StepFailed(0, f"the build gave {len(wheels)} wheels, expected one")
        return wheels[0]


def _candidate_entry(spec: str, dist: dict, wheels: dict) -> dict:
    """What the run knows of a candidate: its identity and its wheel per python series."""
    return {
        "spec": spec,
        "name": dist["name"],
        "version": dist["version"],
        "sha256": dist["sha256"],
        "archive": dist["archive"],
        "wheels": wheels,
    }


def _unfinished(variant: dict | None) -> bool:
    return variant is None or bool(variant.get("error"))


def _download_reason(tail: str) -> str:
    if "No matching distribution" in tail or "Could not find a version" in tail:
        return f"not found on the index: {tail}"
    return f"download failed: {tail}"


class _UidPool:
    def __init__(self, uids: list[int]):
        self.free = list(uids)
        self.lock = threading.Lock()

    def run(self, func, arg):
        with self.lock:
            uid = self.free.pop()
        try:
            return func(arg, uid)
        finally:
            with self.lock:
                self.free.append(uid)


# What every VM reads from its setup's runner folder, and the module_utils file it is.
RUNNER_FILES = {
    "vm_recorder.py": "_vm_recorder.py",
    "vm_runner.py": "_vm_runner.py",
    "pyti_events.py": "_vm_pytest_events.py",
}


def runner_sources() -> dict[str, str]:
    """Each file of the setup's runner folder -> the path it is copied from."""
    here = os.path.dirname(os.path.abspath(__file__))
    return {name: os.path.join(here, source) for name, source in RUNNER_FILES.items()}


def manifest(store: Store, keys: list[str], series: list[str]) -> dict:
    """Setup files of a run (relative path -> content digest), the runner's files included."""
    files = {}
    for name, source in sorted(runner_sources().items()):
        target = os.path.join(store.setup, "runner", name)
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        with open(source, "rb") as src, open(target + ".part", "wb") as dst:
            dst.write(src.read())
        os.replace(target + ".part", target)
        files[f"runner/{name}"] = _archives.sha256_of(target)
    for key in sorted(set(keys)):
        dist = store.read_dist(key) or {}
        for name in ("dist.json", dist.get("archive")):
            if name:
                rel = f"dists/{key}/{name}"
                files[rel] = _archives.sha256_of(os.path.join(store.setup, rel))
        variants = [dist.get("pythons", {})] + list((dist.get("candidates") or {}).values())
        for s in series:
            for variant in variants:
                for wheel in (variant.get(s) or {}).get("wheels", []):
                    files[wheel] = wheel.split("/")[1]
    return files
