# SPDX-License-Identifier: GPL-3.0-or-later
"""Prepare a run's setup on the controller: archives, wheels and the VM runner."""

from __future__ import annotations

import os
import time

from ansible.plugins.action import ActionBase
from ansible_collections.pyti.core.plugins.module_utils import _prepare, _pythons
from ansible_collections.pyti.core.plugins.module_utils._errors import PytiError

ARGSPEC = {
    "distributions": {"type": "list", "elements": "str", "required": True},
    "series": {"type": "list", "elements": "str", "required": True},
    "cache_dir": {"type": "path", "default": "~/.cache/pyti"},
    "workers": {"type": "int", "default": 3},
    "uid_base": {"type": "int", "default": 990000},
    "limits": {"type": "dict", "default": {}},
    "candidates": {"type": "list", "elements": "str", "default": []},
    "find_links": {"type": "list", "elements": "path", "default": []},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=ARGSPEC)
        started = time.monotonic()
        try:
            pythons = [self._controller_python(s) for s in sorted(set(args["series"]))]
            store = _prepare.Store(os.path.expanduser(args["cache_dir"]), args["uid_base"])
            limits = {k: v for k, v in args["limits"].items() if k in _prepare.STEP_LIMITS}
            find_links = self._find_links(args["find_links"])
            preparer = _prepare.Preparer(
                store, pythons, workers=args["workers"], limits=limits, find_links=find_links
            )
            keys = preparer.prepare(args["distributions"], args["candidates"])
            files = _prepare.manifest(store, list(keys.values()), args["series"])
        except PytiError as exc:
            return {**result, "failed": True, "msg": exc.msg, **exc.context}
        return {
            **result,
            "changed": preparer.prepared > 0,
            "keys": keys,
            "manifest": files,
            "setup_dir": store.setup,
            "downloads": preparer.downloads,
            "prepared": preparer.prepared,
            "duration_s": round(time.monotonic() - started, 3),
            "pyti_candidate": self._candidate(preparer),
        }

    @staticmethod
    def _candidate(preparer: _prepare.Preparer) -> dict | None:
        """What the report records of the candidates: each one's name, version and sha256."""
        if not preparer.candidate_id:
            return None
        return {
            "id": preparer.candidate_id,
            "distributions": [
                {key: c[key] for key in ("spec", "name", "version", "sha256", "archive")}
                for c in preparer.candidates
            ],
        }

    @staticmethod
    def _find_links(paths: list[str]) -> list[str]:
        found = [os.path.abspath(os.path.expanduser(p)) for p in paths]
        for given, path in zip(paths, found, strict=True):
            if not os.path.isdir(path):
                raise PytiError(
                    f"pyti_find_links: {given!r} is not a folder",
                    field="pyti_find_links",
                    value=given,
                )
        return found

    @staticmethod
    def _controller_python(series: str) -> dict:
        info = _pythons.resolve(series)
        if info is None:
            raise PytiError(
                f"Preparing the setup for Python {series} failed: the controller "
                f"has no python{series} to build wheels with; install it or drop "
                "it from pyti_pythons",
                series=series,
            )
        return info
