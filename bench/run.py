"""Measure PYTI on this machine in one run; write bench/results/<date>.json and .md.

Usage: .venv/bin/python bench/run.py [--vms 30] [--qemu-vms 20] [--sizes 10 50 200]
                                    [--corpus SPEC ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _host
import _orchestration
import _playbook
import _qemustart
import _tox
import _vmstart
import yaml
from _common import PARALLEL, ROOT, log, module_utils
from _markdown import table

STATE = ROOT / ".cache" / "bench"
RESULTS = ROOT / "bench" / "results"


def main() -> None:
    args = _parse()
    python = module_utils("_pythons").resolve("python3")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    scratch = STATE / "runs" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results = {"date": stamp, "machine": _machine(python), "parallel": PARALLEL}
    try:
        results["sandbox"] = _vmstart.measure(python, args.vms)
        results["qemu"] = (
            _qemustart.measure(python, args.qemu_vms)
            if args.qemu_vms
            else {"count": 0, "skipped": "--qemu-vms 0"}
        )
        results.update(_default_corpus(python, scratch, args.corpus, args.keep))
        results["orchestration"] = _orchestration.measure(python, args.sizes, STATE, scratch)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    _write(results, stamp, args.out)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=30, help="VMs to start (at least 20)")
    parser.add_argument("--qemu-vms", type=int, default=20, help="qemu VMs to start (0: none)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--keep", action="store_true", help="keep the logs and work dirs")
    parser.add_argument(
        "--corpus", nargs="+", help="distributions to time instead of the default corpus"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the results")
    args = parser.parse_args()
    if args.vms < 20:
        parser.error(f"--vms must be at least 20, not {args.vms}")
    if args.qemu_vms < 0:
        parser.error(f"--qemu-vms must be 0 or more, not {args.qemu_vms}")
    if len(set(args.sizes)) < 2:
        parser.error(f"--sizes needs two sizes or more to fit a line, not {args.sizes}")
    return args


def _machine(python: dict) -> dict:
    return {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": python["version"],
        "cgroups": module_utils("_cgroup").layout(),
    }


def _default_corpus(
    python: dict, scratch: Path, specs: list[str] | None, keep: bool = False
) -> dict:
    """A cold and a warm play of the corpus, then the host baseline and tox."""
    cache, work = scratch / "cache", scratch / "work"
    extra = {"pyti_distributions": specs} if specs else {}
    cold = _playbook.run("cold", scratch / "cold", cache, work, extra)
    warm = _playbook.run("warm", scratch / "warm", cache, work, extra)
    warm["task_s"] = _playbook.task_seconds(scratch / "warm" / "reports")
    floor = _playbook.floor(scratch / "floor")
    if not specs:
        corpus = yaml.safe_load((ROOT / "playbooks/vars/default_corpus.yml").read_text())
        specs = corpus["pyti_default_corpus"]
    jobs = _host.jobs_from_cache(cache, specs, python, scratch / "host")
    # Their venvs and sources on a tmpfs, as a VM's are on its scratch: what differs is
    # the isolation, not the disk.
    with _host.ram_folder(keep) as ram:
        baseline = _host.baseline(jobs, ram / "baseline")
        tox = _tox.run_tox(jobs, ram / "tox")
    return {"cold": cold, "warm": warm, "baseline": baseline, "tox": tox, "ansible_floor": floor}


def _write(results: dict, stamp: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    text = table(results)
    (out / f"{stamp}.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    (out / f"{stamp}.md").write_text(text)
    log(f"wrote {out / stamp}.json and .md")
    print(text)


if __name__ == "__main__":
    main()
