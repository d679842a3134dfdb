# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Keep a slave's read-only copy of the setup equal to the controller's manifest."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile

from ._errors import SyncError


def digest_of(path: str, expected: str) -> str:
    """The digest of PATH in the form of EXPECTED (a full sha256 or a prefix of one)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[: len(expected)]


def _is_content_addressed(rel: str) -> bool:
    return rel.startswith("wheels/")


def _check_rel(rel: str) -> None:
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise SyncError(
            f"Syncing the setup failed: unsafe path {rel!r} in the manifest",
            path=rel,
            failure_kind="sync",
        )


def diff(dest: str, manifest: dict) -> tuple[list[str], list[str]]:
    """Files of the manifest that DEST lacks or holds with other content, and files it has extra."""
    missing = []
    for rel, digest in sorted(manifest.items()):
        _check_rel(rel)
        path = os.path.join(dest, rel)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            missing.append(rel)
            continue
        if not stat.S_ISREG(info.st_mode):
            missing.append(rel)
        elif not _is_content_addressed(rel) and digest_of(path, digest) != digest:
            missing.append(rel)
    return missing, [rel for rel in _files_under(dest) if rel not in manifest]


def _files_under(dest: str) -> list[str]:
    found = []
    for root, _dirs, files in os.walk(dest):
        for name in files:
            found.append(os.path.relpath(os.path.join(root, name), dest))
    return sorted(found)


def apply(dest: str, manifest: dict, archive: str | None, extra: list[str]) -> None:
    """Unpack ARCHIVE's files into DEST, check each against the manifest, drop EXTRA files."""
    os.makedirs(dest, mode=0o755, exist_ok=True)
    staging = dest.rstrip("/") + ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        if archive:
            _unpack(archive, staging, manifest, dest)
        for rel in extra:
            _check_rel(rel)
            os.remove(os.path.join(dest, rel))
        _prune_empty_dirs(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _unpack(archive: str, staging: str, manifest: dict, dest: str) -> None:
    try:
        with tarfile.open(archive) as tf:
            tf.extractall(staging, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise SyncError(
            f"Syncing the setup failed: the archive does not unpack: {exc}", failure_kind="sync"
        ) from exc
    for rel in _files_under(staging):
        _check_rel(rel)
        if rel not in manifest:
            raise SyncError(
                f"Syncing the setup failed: {rel!r} is not in the manifest",
                path=rel,
                failure_kind="sync",
            )
        source = os.path.join(staging, rel)
        if not stat.S_ISREG(os.lstat(source).st_mode):
            raise SyncError(
                f"Syncing the setup failed: {rel!r} is not a regular file",
                path=rel,
                failure_kind="sync",
            )
        if digest_of(source, manifest[rel]) != manifest[rel]:
            raise SyncError(
                f"Syncing the setup failed: {rel!r} arrived with other content",
                path=rel,
                failure_kind="sync",
            )
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        os.chmod(source, 0o444)
        os.replace(source, target)


def _prune_empty_dirs(dest: str) -> None:
    for root, dirs, files in os.walk(dest, topdown=False):
        if root != dest and not dirs and not files:
            os.rmdir(root)
        elif root != dest and not os.listdir(root):
            os.rmdir(root)
