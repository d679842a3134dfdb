# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""A run's raw results on a slave, packed into one archive for the controller to fetch."""

from __future__ import annotations

import os
import posixpath
import tarfile

SUFFIX = ".tar.gz"


def is_plain(run_id: str) -> bool:
    """Whether RUN_ID names one folder: no slash, not empty, not . or .."""
    return "/" not in run_id and run_id not in ("", ".", "..")


def run_dir(work_dir: str, run_id: str) -> str:
    return os.path.join(work_dir, "runs", run_id)


def pack(folder: str) -> str:
    """Pack FOLDER's raw/ into FOLDER.tar.gz, next to it; returns the archive's path."""
    archive = folder.rstrip("/") + SUFFIX
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(os.path.join(folder, "raw"), arcname="raw")
    return archive


def folder_of(archive: str, work_dir: str, run_id: str) -> str | None:
    """The run folder that ARCHIVE was packed from, if ARCHIVE is exactly where pack() puts
    the archive of RUN_ID under the absolute WORK_DIR; else None."""
    if not (is_plain(run_id) and work_dir.startswith("/")):
        return None
    folder = posixpath.normpath(posixpath.join(work_dir, "runs", run_id))
    return folder if archive == folder + SUFFIX else None
