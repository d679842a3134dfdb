# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Exceptions raised by PYTI's backend code and turned into module failures once."""

from __future__ import annotations


class PytiError(Exception):
    """A failure that PYTI can explain: a message plus context for the result keys."""

    def __init__(self, msg: str, **context):
        super().__init__(msg)
        self.msg = msg
        self.context = context


class ConfigError(PytiError):
    """The run configuration is wrong; nothing has been started."""


class SandboxError(PytiError):
    """A VM could not be created, run or removed: an infrastructure fault."""


class PrepareError(PytiError):
    """A distribution could not be turned into setup files."""


class SyncError(PytiError):
    """The setup could not be copied to a slave."""


class ResultsError(PytiError):
    """Raw results of a VM could not be read or were rejected."""
