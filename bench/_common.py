"""What the benchmark's parts share: paths, the collection's module_utils, statistics."""

from __future__ import annotations

import importlib
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / "collections"
UTILS = COLLECTIONS / "ansible_collections/pyti/core/plugins/module_utils"
RUNNER = UTILS / "_vm_runner.py"
# The folder that holds the pytest plugin that the runner loads, under the name it loads.
PLUGIN_DIR = ROOT / ".cache" / "bench" / "plugin"
VENV_BIN = Path(sys.executable).parent
PARALLEL = 2
UID_BASE = 990000


def plugin_dir() -> Path:
    """PLUGIN_DIR with a fresh copy of the runner's pytest plugin."""
    PLUGIN_DIR.mkdir(parents=True, exist_ok=True)
    (PLUGIN_DIR / "pyti_events.py").write_bytes((UTILS / "_vm_pytest_events.py").read_bytes())
    return PLUGIN_DIR


def module_utils(name: str):
    """Import one of the collection's module_utils, the way the product runs them."""
    if str(COLLECTIONS) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS))
    return importlib.import_module(f"ansible_collections.pyti.core.plugins.module_utils.{name}")


def summary(values: list[float]) -> dict:
    """Median, p95, min and max of VALUES, in the unit given."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 4),
        "p95": round(p95, 4),
        "min": round(ordered[0], 4),
        "max": round(ordered[-1], 4),
    }


class Clock:
    """Wall time of a block: `with Clock() as c: ...; c.seconds`."""

    def __enter__(self):
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.seconds = round(time.monotonic() - self.started, 3)


def log(*words) -> None:
    print("bench:", *words, file=sys.stderr, flush=True)
