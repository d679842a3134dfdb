"""The collection as users get it: built, installed from the artifact, and used from there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from fixtures.sdists import standard_corpus

COLLECTION = ROOT / "collections" / "ansible_collections" / "pyti" / "core"
BIN = Path(sys.executable).parent
PLUGINS = {
    "module": [
        "report_compare",
        "results_fetch",
        "run_config",
        "run_replan",
        "setup_prepare",
        "setup_sync",
        "slave_info",
        "task_progress",
        "task_run",
    ],
    "callback": ["progress", "report"],
}


def run(args: list[str], env: dict, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"{args[0]} failed:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """Build the collection, install the artifact offline, and an Ansible that sees only it."""
    tmp = tmp_path_factory.mktemp("artifact")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1"}
    env.pop("ANSIBLE_CONFIG", None)
    run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp)],
        env,
        COLLECTION,
    )
    (tarball,) = tmp.glob("pyti-core-*.tar.gz")
    collections = tmp / "collections"
    run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "install",
            "--offline",
            "-p",
            str(collections),
            str(tarball),
        ],
        env,
        tmp,
    )
    config = tmp / "ansible.cfg"
    config.write_text(
        f"[defaults]\ncollections_path = {collections}\ncollections_scan_sys_path = false\n"
    )
    env.update(
        ANSIBLE_CONFIG=str(config),
        ANSIBLE_COLLECTIONS_PATH=str(collections),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
    )
    return {"tmp": tmp, "env": env, "root": collections / "ansible_collections" / "pyti" / "core"}


def test_artifact_holds_no_work_tree_leftovers(installed):
    files = {str(p.relative_to(installed["root"])) for p in installed["root"].rglob("*")}
    assert "MANIFEST.json" in files
    assert not [f for f in files if "__pycache__" in f or "pytest_cache" in f or "output" in f]


@pytest.mark.parametrize(
    "plugin_type, name", [(t, n) for t, names in PLUGINS.items() for n in names]
)
def test_docs_render_from_the_installed_copy(installed, plugin_type, name):
    proc = run(
        [str(BIN / "ansible-doc"), "-t", plugin_type, "--json", f"pyti.core.{name}"],
        installed["env"],
        installed["tmp"],
    )
    doc = json.loads(proc.stdout)[f"pyti.core.{name}"]["doc"]
    assert doc["filename"].startswith(str(installed["root"]))
    assert doc["short_description"]
    if plugin_type == "module":
        assert {"check_mode", "diff_mode"} <= set(doc["attributes"])


def test_module_runs_from_the_installed_copy(installed):
    tmp = installed["tmp"]
    out = tmp / "slave_info.json"
    playbook = tmp / "slave_info.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Inspect this machine",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Describe the slave",
                            "pyti.core.slave_info": {"pythons": [sys.executable, "3.1"]},
                            "register": "info",
                        },
                        {
                            "name": "Keep the result",
                            "ansible.builtin.copy": {
                                "content": "{{ info | to_json }}",
                                "dest": str(out),
                                "mode": "0644",
                            },
                        },
                    ],
                }
            ]
        )
    )
    inventory = f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    (tmp / "hosts").write_text(inventory)
    run(
        [str(BIN / "ansible-playbook"), "-i", str(tmp / "hosts"), str(playbook)],
        installed["env"],
        tmp,
    )
    info = json.loads(out.read_text())
    found = info["pythons"][sys.executable]
    assert found["series"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert "3.1" in info["missing"]
    assert info["changed"] is False
    assert info["capacity"] >= 1


def test_main_job_runs_from_the_installed_copy(installed, cache_dir):
    """The main job of the repository, with every plugin and the report from the artifact."""
    tmp = installed["tmp"]
    sdist = standard_corpus(tmp / "sdists")["passing"]
    config = tmp / "main.cfg"
    config.write_text(
        f"[defaults]\ncollections_path = {installed['env']['ANSIBLE_COLLECTIONS_PATH']}\n"
        "collections_scan_sys_path = false\ncallbacks_enabled = pyti.core.report\n"
        f"inventory = {ROOT / 'inventories' / 'local' / 'hosts.yml'}\n"
    )
    run_vars = tmp / "run.yml"
    run_vars.write_text(
        yaml.safe_dump(
            {
                "pyti_distributions": [str(sdist)],
                "pyti_report_dir": str(tmp / "reports"),
                "pyti_cache_dir": str(cache_dir),
                "pyti_work_dir": str(tmp / "slave"),
            }
        )
    )
    run(
        [str(BIN / "ansible-playbook"), "playbooks/run_tests.yml", "-e", f"@{run_vars}"],
        {**installed["env"], "ANSIBLE_CONFIG": str(config)},
        ROOT,
        timeout=600,
    )
    report = json.loads((tmp / "reports" / "latest" / "report.json").read_text())
    (result,) = report["results"]
    assert (result["distribution"], result["status"]) == ("pyti-fx-pass", "passed")
