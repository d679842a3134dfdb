#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: task_run
short_description: Run a batch of jobs, one disposable VM each, in parallel on a slave
description:
  - For each job, creates a VM, runs the tasks of the run in it in order
    (V(install), V(import), V(test)), reads the VM's raw results as untrusted input, and
    removes the VM with every process, mount and file of it.
  - Up to O(capacity) VMs run at once, each as a uid of its own from O(uid_base) on.
  - The V(namespace) driver makes a VM with bubblewrap, a new pid, network, IPC and UTS
    namespace, no capabilities and an unprivileged uid. It sees the interpreter's prefix,
    C(/usr), the runner, its own distribution's archive and wheels read-only, and its own
    scratch dir writable; nothing of the slave's home dirs, keys or other VMs.
  - Each step in a VM finds the VM's name, the run id and the job id, in C(PYTI_VM).
  - The V(qemu) driver boots a QEMU virtual machine per job, from a Debian kernel and a
    busybox initramfs that it builds once in O(image_dir). The guest sees the setup of its
    job, C(/usr) and the interpreter's prefix read-only through 9p, writes only to a tmpfs
    of fixed size, has no network device, and runs the tasks in order as an unprivileged
    user with the same runner. Exit statuses, durations, output and results files leave
    the guest on a raw disk of fixed size that the slave reads once QEMU is gone.
  - The qemu driver uses KVM when a bounded boot probe with KVM succeeds, and TCG (software
    emulation) otherwise; the probe's verdict is cached in O(image_dir) per kernel, QEMU and
    host kernel version.
  - Before the first VM, clears what a crashed earlier run left on the slave.
  - The exit status, duration and output of each task are observed from outside the VM.
  - Inside the VM, a recorder runs each step of a task as the VM's uid, takes the step's
    exit status and pytest's per-test events itself (only from the step's own process, as
    the kernel names it), and signs its record with a key that it gets from the slave on a
    pipe and that the VM's uid cannot read. The slave believes a task's verdict only when
    the signature holds and the record agrees with what the slave saw and with the JUnit
    XML that pytest wrote; otherwise the task is an C(error) whose reason says that its
    results are not trusted, and the result's C(verified) is false.
version_added: 0.1.0
author: PYTI developers (!UNKNOWN)
options:
  run_id:
    description: The run id, which names the VMs and the raw results folder.
    type: str
    required: true
  slave_name:
    description: The inventory name of this slave, recorded in every result.
    type: str
    required: true
  setup_dir:
    description: The slave's read-only copy of the setup, as made by M(pyti.core.setup_sync).
    type: path
    required: true
  work_dir:
    description: The slave's work dir, which holds VM scratch dirs and raw results.
    type: path
    default: /var/lib/pyti
  jobs:
    description: The jobs of this slave, as planned by M(pyti.core.run_config).
    type: list
    elements: dict
    required: true
  keys:
    description: Distribution spec to setup key, as returned by M(pyti.core.setup_prepare).
    type: dict
    required: true
  tasks:
    description: The tasks of each VM.
    type: list
    elements: str
    choices: [install, import, test]
    default: [install, import, test]
  driver:
    description: The VM driver.
    type: str
    choices: [namespace, qemu]
    default: namespace
  image_dir:
    description:
      - Where the qemu driver keeps its guest kernel, initramfs and KVM probe verdicts.
    type: path
    default: /var/cache/pyti/qemu
  limits:
    description:
      - Per-VM limits, as checked by M(pyti.core.run_config); keys not given take their
        defaults.
    type: dict
    default: {}
  capacity:
    description: VMs at once.
    type: int
    default: 2
  uv:
    description: The uv binary that installs in VMs; pip is used when it is not given.
    type: path
  uid_base:
    description: First uid of the range that VMs run as; one uid per parallel slot.
    type: int
    default: 990000
  heartbeat_timeout:
    description:
      - When the task runs in the background, stop every VM and end the batch once
        M(pyti.core.task_progress) has not been called for this many seconds, so that an
        interrupted or dead controller does not keep the slave busy. The jobs that did not
        finish become C(error) results of kind C(infra).
      - V(0) turns the check off.
    type: int
    default: 0
  candidate:
    description:
      - In candidate mode, the C(id) of RV(pyti.core.setup_prepare#module:pyti_candidate).
        Jobs whose C(side) is V(candidate) install from the wheelhouse in which these
        candidates replace the released dependencies.
      - A job of a distribution that excludes the candidate's version is not run; its result
        is C(skipped) with C(not_applicable) set.
    type: str
requirements:
  - bubblewrap (C(bwrap)) and setpriv (util-linux) on the slave
  - for the qemu driver, C(qemu-system-x86_64) (Debian qemu-system-x86), C(/bin/busybox)
    (Debian busybox-static), and apt-get and dpkg with a Debian archive that has
    C(linux-image-amd64)
  - cgroups with the memory and pids controllers on the slave
extends_documentation_fragment:
  - pyti.core._attributes
  - pyti.core._attributes.no_diff
attributes:
  check_mode:
    support: none
notes:
  - Needs root on the slave.
  - The uids from O(uid_base) to O(uid_base) + 255 must belong to nobody else on the slave;
    every process of those uids is killed when a run starts. A second run on the same slave
    waits until the first one is done with them.
  - Each VM gets a cgroup (v1 or v2) with a memory and a process limit, and a scratch tmpfs of
    fixed size and inode count; a task that hits a limit is an C(error) or C(timeout) result
    whose reason names the limit.
  - Every run with at least one job reports a change.
  - A VM that did not start, and a job that the slave's own files failed (a full disk), end
    as an C(error) of failure kind C(infra), never as the distribution's failure;
    M(pyti.core.run_replan) plans such jobs again on another slave.
  - The qemu driver gives each guest C(memory_bytes) plus 256 MiB of memory and
    C(vm_cpus) virtual CPUs; the tasks in it are held to C(memory_bytes),
    C(processes) and a scratch of C(scratch_bytes) by the guest's own cgroup
    and tmpfs. Its results disk holds C(results_bytes) plus three times
    C(output_bytes) plus 1 MiB; what does not fit is refused.
  - Under TCG a guest boots in about 5 s and Python runs several times slower than on the
    host; raise C(task_timeout) accordingly.
seealso:
  - module: pyti.core.results_fetch
"""

EXAMPLES = r"""
- name: Run the VMs of this slave
  pyti.core.task_run:
    run_id: "{{ pyti_run.id }}"
    slave_name: "{{ inventory_hostname }}"
    setup_dir: /var/lib/pyti/setup
    jobs: "{{ pyti_run.jobs | selectattr('slave', '==', inventory_hostname) }}"
    keys: "{{ pyti_setup['keys'] }}"
    capacity: "{{ pyti_slave_info.capacity }}"
"""

RETURN = r"""
pyti_results:
  description: One result per job, in the order of O(jobs), with a record per task.
  returned: success
  type: list
  elements: dict
  contains:
    job:
      description: The job id.
      type: str
      sample: j0001
    distribution:
      description: The distribution's name.
      type: str
      sample: six
    version:
      description: The distribution's version.
      type: str
      sample: 1.16.0
    python:
      description: The requested interpreter name.
      type: str
      sample: "3.11"
    python_version:
      description: The interpreter's version.
      type: str
      sample: 3.11.7
    vm:
      description: The VM's name, the run id and the job id.
      type: str
      sample: 20261204T161000Z-ab12cd-j0001
    status:
      description: The result's status, that of its first task that neither passed nor was skipped.
      type: str
      choices: [passed, failed, error, timeout, skipped]
    reason:
      description: Why the result did not pass, naming the task; null when it passed.
      type: str
    failure_kind:
      description: Who is at fault when it did not pass; null when it passed.
      type: str
      sample: task
    no_tests:
      description: Whether the sdist had no tests.
      type: bool
    side:
      description: In candidate mode, V(baseline) or V(candidate) as planned; null otherwise.
      type: str
    not_applicable:
      description:
        - In candidate mode, why the candidate side was not run (the requirement that excludes
          the candidate); null otherwise.
      type: str
    verified:
      description:
        - True when every task that ran in the VM has a verdict from what the slave saw
          and from the recorder's signed, agreeing record; false when a record was missing,
          badly signed or contradicted; null when no VM ran.
      type: bool
    tasks:
      description:
        - One record per task, with its C(name), C(status), C(reason), C(rc),
          C(duration_s) and C(verified).
      type: list
      elements: dict
    raw_dir:
      description: The job's raw results folder, relative to the run's raw folder on the controller.
      type: str
      sample: slave1/j0001
    duration_s:
      description: Seconds the job took.
      type: float
    wheels:
      description:
        - The file names of the wheels in the wheelhouse that the job's VM installed from, as
          the setup prepared them; empty when its setup failed.
      type: list
      elements: str
      sample: [pytest-9.2.0-py3-none-any.whl, six-1.16.0-py2.py3-none-any.whl]
    finished:
      description: When the job ended, in UTC, ISO 8601.
      type: str
      sample: "2026-12-04T16:10:42+00:00"
    guest:
      description:
        - For the qemu driver, the guest's C(accel) (V(kvm) or V(tcg)) and why
          (C(accel_reason)), its C(kernel) release, the C(image) it booted (kernel package
          version and initramfs digest), its C(boot_s) (seconds from starting
          QEMU to the guest's init) and its C(console_log), a file of C(raw_dir); null for
          the namespace driver.
      type: dict
raw_dir:
  description: The slave folder that holds the raw results of the run.
  returned: success
  type: str
  sample: /var/lib/pyti/runs/20261204T161000Z-ab12cd/raw
leftovers:
  description:
    - Entries of the slave's VM folder that an earlier, crashed run left and that were
      removed.
  returned: success
  type: list
  elements: str
duration_s:
  description: Seconds from the batch's start to the end of its last VM.
  returned: success
  type: float
  sample: 7.93
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyti.core.plugins.module_utils import _jobs, _limits
from ansible_collections.pyti.core.plugins.module_utils._errors import PytiError


def jobs_with_keys(jobs: list[dict], keys: dict) -> list[dict]:
    return [
        {
            "id": j["id"],
            "key": keys[j["distribution"]],
            "spec": j["distribution"],
            "python": j["python_info"],
            "side": j.get("side"),
        }
        for j in jobs
    ]


def main():
    module = AnsibleModule(
        argument_spec={
            "run_id": {"type": "str", "required": True},
            "slave_name": {"type": "str", "required": True},
            "setup_dir": {"type": "path", "required": True},
            "work_dir": {"type": "path", "default": "/var/lib/pyti"},
            "jobs": {"type": "list", "elements": "dict", "required": True},
            "keys": {"type": "dict", "required": True, "no_log": False},
            "tasks": {
                "type": "list",
                "elements": "str",
                "choices": ["install", "import", "test"],
                "default": ["install", "import", "test"],
            },
            "driver": {"type": "str", "choices": ["namespace", "qemu"], "default": "namespace"},
            "image_dir": {"type": "path", "default": "/var/cache/pyti/qemu"},
            "limits": {"type": "dict", "default": {}},
            "capacity": {"type": "int", "default": 2},
            "uv": {"type": "path"},
            "uid_base": {"type": "int", "default": 990000},
            "heartbeat_timeout": {"type": "int", "default": 0},
            "candidate": {"type": "str"},
        },
    )
    p = module.params
    try:
        slave = _jobs.Slave(p["work_dir"], p["uid_base"])
        slave.lock()
        leftovers = slave.clear_leftovers()
        batch = _jobs.Batch(
            slave,
            p["run_id"],
            p["setup_dir"],
            p["tasks"],
            _limits.check(p["limits"]),
            p["uv"],
            heartbeat_timeout=p["heartbeat_timeout"],
            slave_name=p["slave_name"],
            candidate=p["candidate"],
            driver=p["driver"],
            image_dir=p["image_dir"],
        )
        started = time.monotonic()
        results = batch.run(jobs_with_keys(p["jobs"], p["keys"]), p["capacity"])
        duration = round(time.monotonic() - started, 3)
    except PytiError as exc:
        module.fail_json(msg=exc.msg, **exc.context)
    except OSError as exc:
        module.fail_json(msg=f"Running the VMs failed on slave {p['slave_name']}: {exc}")
    module.exit_json(
        changed=bool(results),
        pyti_results=results,
        raw_dir=batch.raw_root,
        leftovers=leftovers,
        duration_s=duration,
    )


if __name__ == "__main__":
    main()
