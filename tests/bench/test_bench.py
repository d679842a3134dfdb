"""The benchmark script itself runs, end to end, on a corpus of three distributions.

It times nothing here: the figures of a run on a busy test machine mean little. It checks
that every part of `make bench` still works and writes its table.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import ROOT
from fixtures.sdists import standard_corpus


def test_bench_runs_on_three_distributions(tmp_path):
    corpus = standard_corpus(tmp_path / "sdists")
    specs = [str(corpus[name]) for name in ("passing", "failing", "no_tests")]
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "bench/run.py", "--vms", "20", "--qemu-vms", "2", "--sizes", "2", "3"]
        + ["--out", str(out), "--corpus", *specs],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    [result_file] = out.glob("*.json")
    results = json.loads(result_file.read_text())
    assert results["sandbox"]["count"] == 20
    assert results["sandbox"]["to_runner_started_ms"]["n"] == 20
    assert results["qemu"]["count"] == 2
    assert results["qemu"]["to_runner_started_ms"]["n"] == 2
    assert results["qemu"]["accel"]["name"] in ("kvm", "tcg")
    assert [job["rc"] for job in results["tox"]["jobs"]] == [0, 1, 5]
    assert {job["key"].split("-1.0")[0] for job in results["baseline"]["jobs"]} == {
        "pyti-fx-pass",
        "pyti-fx-fail",
        "pyti-fx-notests",
    }
    assert results["warm"]["downloads"] == 0
    # Its pythons, the sync, the batch's start, one wait or more.
    assert results["warm"]["slave_calls"] >= 4
    assert results["warm"]["batch_s"] > 0
    assert results["ansible_floor"]["play_s"] > 0 and results["ansible_floor"]["call_s"] > 0
    assert sorted(results["orchestration"]["runs"]) == ["2", "3"]
    table = result_file.with_suffix(".md").read_text()
    assert "| namespace VM: create → runner started (20 VMs) |" in table
    assert "| isolation, the VMs' batch alone / bare host |" in table
    accel = results["qemu"]["accel"]["name"]
    assert f"| qemu VM ({accel}): create → runner started (2 VMs) |" in table
