"""What Ansible and PYTI add per distribution, at growing corpus sizes."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import _playbook
import _synthetic
from _common import PARALLEL

TASKS = ["install", "import", "test"]


def measure(python: dict, sizes: list[int], state: Path, scratch: Path) -> dict:
    """One warm play per size; cost = (wall - in-VM time / PARALLEL) / n."""
    cache = state / "synthetic" / "cache"
    specs = _synthetic.make_corpus(state / "synthetic" / "sdists", max(sizes))
    keys = _synthetic.prepare(cache, specs, python)
    runs = {}
    for n in sizes:
        work = scratch / f"work-synthetic-{n}"
        _synthetic.presync(cache, [keys[s] for s in specs[:n]], python["series"], work)
        extra = {"pyti_distributions": specs[:n], "pyti_tasks": TASKS}
        play = _playbook.run(f"synthetic-{n}", scratch / f"synthetic-{n}", cache, work, extra)
        runs[n] = _cost(play, n)
    return {"runs": runs, "fit": _fit(runs)}


def _cost(play: dict, n: int) -> dict:
    overhead = play["wall_s"] - play["in_vm_s"] / PARALLEL
    return {
        **play,
        "overhead_s": round(overhead, 3),
        "per_dist_ms": round(1000 * overhead / n, 1),
        "per_dist_ms_serial_formula": round(1000 * (play["wall_s"] - play["in_vm_s"]) / n, 1),
    }


def _fit(runs: dict) -> dict:
    """Least squares overhead = fixed + slope * n, and how well a line fits (R squared)."""
    xs = list(runs)
    ys = [runs[n]["overhead_s"] for n in xs]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    fixed = mean_y - slope * mean_x
    ss_res = sum((y - fixed - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - mean_y) ** 2 for y in ys) or 1e-9
    r2 = 1 - ss_res / ss_tot
    return {
        "fixed_s": round(fixed, 2),
        "slope_ms": round(1000 * slope, 1),
        "r2": round(r2, 4),
        **_margins(runs),
    }


def _margins(runs: dict) -> dict:
    """What each further distribution cost between two sizes, and whether that grows.

    A cost per distribution that grows with the corpus is what must not happen; one that
    falls (the fixed cost spread wider) is fine. A quarter plus 5 ms is left for noise.
    """
    sizes = sorted(runs, key=int)
    margins = [
        {
            "from": int(a),
            "to": int(b),
            "ms": round(
                1000 * (runs[b]["overhead_s"] - runs[a]["overhead_s"]) / (int(b) - int(a)), 1
            ),
        }
        for a, b in pairwise(sizes)
    ]
    costs = [m["ms"] for m in margins]
    growing = any(later > 1.25 * earlier + 5 for earlier, later in pairwise(costs))
    return {"marginal": margins, "growing": growing}
