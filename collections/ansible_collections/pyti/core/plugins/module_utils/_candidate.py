# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Candidate mode: a new build of a dependency tested against the distributions that use it.

The candidate replaces the released version of that dependency in a second wheelhouse of
every distribution. A distribution whose metadata excludes the candidate's version is not
applicable: its requirement is recorded instead of a broken install.
"""

from __future__ import annotations

import hashlib
import re

from ._archives import wheel_metadata

try:
    from packaging.markers import UndefinedEnvironmentName
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    HAS_PACKAGING = True
except ImportError:
    HAS_PACKAGING = False

SIDES = ("baseline", "candidate")
# pip's account of a resolution conflict: "pkg 1.0 depends on libx<2".
_DEPENDS = re.compile(r"^\s*(\S+ \S+) depends on (.+?)\s*$", re.M)


def candidate_id(candidates: list[dict]) -> str:
    """A short id of a set of candidates, from their archives' contents."""
    joined = "\n".join(sorted(c["sha256"] for c in candidates))
    return hashlib.sha256(joined.encode()).hexdigest()[:12]


def _environment(series: str, extra: str | None) -> dict:
    return {"python_version": series, "python_full_version": f"{series}.0", "extra": extra or ""}


def _applies(req: Requirement, series: str, extra: str | None) -> bool:
    if req.marker is None:
        return True
    try:
        return req.marker.evaluate(_environment(series, extra))
    except UndefinedEnvironmentName:
        return True


def conflict(wheel: str, extra: str | None, series: str, candidates: list[dict]) -> str | None:
    """The requirement of WHEEL that excludes a candidate's version, as text; None if none.

    Only the distribution's own requirements (those of its test extra included) are read;
    a conflict deeper in its dependencies shows as a resolution failure instead.
    """
    versions = {canonicalize_name(c["name"]): c for c in candidates}
    for line in wheel_metadata(wheel)["Requires-Dist"]:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        found = versions.get(canonicalize_name(req.name))
        if found is None or not _applies(req, series, extra):
            continue
        try:
            version = Version(found["version"])
        except InvalidVersion:
            continue
        if not req.specifier.contains(version, prereleases=True):
            return f"requires {req}, which excludes the candidate {found['name']} {version}"
    return None


def resolution_conflict(pip_output: str, candidates: list[dict]) -> str | None:
    """The requirement that pip named as excluding a candidate, if its resolution failed so."""
    if "ResolutionImpossible" not in pip_output and "conflicting dependencies" not in pip_output:
        return None
    names = {canonicalize_name(c["name"]) for c in candidates}
    for who, wants in _DEPENDS.findall(pip_output):
        try:
            req = Requirement(wants)
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) in names:
            return f"{who} requires {req}, which excludes the candidate"
    return None
