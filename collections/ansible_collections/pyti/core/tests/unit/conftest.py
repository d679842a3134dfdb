# SPDX-License-Identifier: GPL-3.0-or-later
"""Make `ansible_collections.pyti.core` importable when pytest runs from the repository.

ansible-test sets the path up itself; plain pytest does not, because no directory above
the tests holds an __init__.py. Putting the `collections` directory (the parent of
`ansible_collections`) first on sys.path lets the tests import the collection by its name.
"""

from __future__ import annotations

import sys
from pathlib import Path

_COLLECTIONS_DIR = str(Path(__file__).resolve().parents[5])

if _COLLECTIONS_DIR not in sys.path:
    sys.path.insert(0, _COLLECTIONS_DIR)


def pytest_configure(config):
    """Load test modules by path, as ansible-test does.

    The unit tests mirror the plugin tree, so two files share a base name
    (plugins/module_utils/test_report.py and plugins/callback/test_report.py); pytest's
    default "prepend" import mode would import both as the module `test_report`.
    """
    config.option.importmode = "importlib"
