# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Identify distribution archives and read their metadata without extracting or running them."""

from __future__ import annotations

import email.parser
import hashlib
import os
import re
import stat
import tarfile
import zipfile

from ._errors import PrepareError

try:
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        canonicalize_name,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    HAS_PACKAGING = True
except ImportError:
    HAS_PACKAGING = False

WHEEL_NAME = re.compile(r"^[A-Za-z0-9_.+-]+\.whl$")
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz")
TEST_EXTRAS = ("test", "tests", "testing")
MAX_METADATA = 4 << 20


def kind_of(path: str) -> str | None:
    name = os.path.basename(path)
    if name.endswith(".whl"):
        return "wheel"
    return "sdist" if name.endswith(SDIST_SUFFIXES) else None


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _not_a_dist(path: str, why: str) -> PrepareError:
    return PrepareError(f"not a distribution: {os.path.basename(path)}: {why}", path=path)


def identify(path: str) -> tuple[str, str, str]:
    """Name, version and kind of an archive; PrepareError when it is not a distribution."""
    kind = kind_of(path)
    if kind is None:
        raise _not_a_dist(path, "the name ends in neither .whl nor an sdist suffix")
    metadata = wheel_metadata(path) if kind == "wheel" else sdist_metadata(path)
    name, version = metadata.get("Name"), metadata.get("Version")
    if not name or not version:
        raise _not_a_dist(path, "its metadata has no Name or Version")
    return canonicalize_name(name), version, kind


def _parse(data: bytes) -> dict:
    message = email.parser.BytesParser().parsebytes(data[:MAX_METADATA])
    return {
        "Name": message.get("Name"),
        "Version": message.get("Version"),
        "Provides-Extra": message.get_all("Provides-Extra") or [],
        "Requires-Dist": message.get_all("Requires-Dist") or [],
    }


def wheel_metadata(path: str) -> dict:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if re.match(r"^[^/]+\.dist-info/METADATA$", n)]
            if len(names) != 1:
                raise _not_a_dist(path, "a wheel needs exactly one .dist-info/METADATA")
            return _parse(zf.read(names[0]))
    except (zipfile.BadZipFile, OSError):
        raise _not_a_dist(path, "not a readable zip archive") from None


def sdist_metadata(path: str) -> dict:
    if path.endswith(".zip"):
        return _zip_sdist_metadata(path)
    try:
        with tarfile.open(path) as tf:
            for member in tf:
                if re.match(r"^[^/]+/PKG-INFO$", member.name) and member.isfile():
                    return _parse(tf.extractfile(member).read(MAX_METADATA))
    except (tarfile.TarError, OSError, EOFError):
        raise _not_a_dist(path, "not a readable tar archive") from None
    raise _not_a_dist(path, "an sdist needs a PKG-INFO file in its top folder")


def _zip_sdist_metadata(path: str) -> dict:
    try:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if re.match(r"^[^/]+/PKG-INFO$", name):
                    return _parse(zf.read(name))
    except (zipfile.BadZipFile, OSError):
        raise _not_a_dist(path, "not a readable zip archive") from None
    raise _not_a_dist(path, "an sdist needs a PKG-INFO file in its top folder")


def test_extra(wheel: str) -> str | None:
    """The extra that declares the distribution's test dependencies, if any."""
    extras = [canonicalize_name(e) for e in wheel_metadata(wheel)["Provides-Extra"]]
    return next((e for e in TEST_EXTRAS if e in extras), None)


def safe_wheels(folder: str) -> list[str]:
    """Wheel files that a sandbox left in FOLDER: regular files with wheel names, no links."""
    found = []
    for entry in sorted(os.listdir(folder)):
        info = os.lstat(os.path.join(folder, entry))
        if not WHEEL_NAME.match(entry) or not stat.S_ISREG(info.st_mode):
            raise PrepareError(f"unexpected entry {entry!r} among the prepared wheels", path=folder)
        if info.st_nlink != 1:
            raise PrepareError(f"the prepared wheel {entry!r} is a hard link", path=folder)
        try:
            parse_wheel_filename(entry)
        except InvalidWheelFilename as exc:
            raise PrepareError(f"bad wheel file name {entry!r}: {exc}", path=folder) from None
        found.append(os.path.join(folder, entry))
    return found


def name_from_filename(filename: str) -> tuple[str, str] | None:
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except (InvalidSdistFilename, InvalidWheelFilename):
        return None
    return str(name), str(version)
