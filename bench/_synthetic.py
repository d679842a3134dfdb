"""A corpus of tiny synthetic sdists whose tests take no time, prepared once, warm."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from _common import ROOT, UID_BASE, log, module_utils

TEST = "def test_nothing():\n    pass\n"


def make_corpus(folder: Path, count: int) -> list[str]:
    """COUNT sdists, the same bytes on every run, so that the setup cache knows them."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fixtures.sdists import make_sdist

    specs = []
    for n in range(count):
        name = f"pyti-bench-{n:03d}"
        module = name.replace("-", "_")
        files = {f"{module}/__init__.py": "VALUE = 1\n", "tests/test_nothing.py": TEST}
        specs.append(str(make_sdist(folder, name, files)))
    return specs


def prepare(cache_dir: Path, specs: list[str], python: dict) -> dict[str, str]:
    """Prepare SPECS in the cache (a no-op when it is warm); spec -> dist key."""
    prep = module_utils("_prepare")
    store = prep.Store(str(cache_dir), UID_BASE)
    preparer = prep.Preparer(store, [python])
    keys = preparer.prepare(specs)
    log(f"synthetic corpus: {len(specs)} sdists, {preparer.prepared} newly prepared")
    return keys


def presync(cache_dir: Path, keys: list[str], series: str, work_dir: Path) -> None:
    """Copy the setup of KEYS to the slave's copy, as the sync task would, before timing."""
    prep = module_utils("_prepare")
    store = prep.Store(str(cache_dir), UID_BASE)
    manifest = prep.manifest(store, keys, [series])
    dest = work_dir / "setup"
    shutil.rmtree(dest, ignore_errors=True)
    for rel in manifest:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.join(store.setup, rel), target)
