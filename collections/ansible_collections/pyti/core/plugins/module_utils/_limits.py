# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""The per-VM limits of a run, their defaults and their checks."""

from __future__ import annotations

from ._errors import ConfigError

# name: (default, minimum, what it bounds)
LIMITS = {
    "task_timeout": (900, 1, "seconds one task may run"),
    "vm_timeout": (2400, 1, "seconds all tasks of one VM may run together"),
    "no_output_timeout": (300, 1, "seconds a task may run without printing anything"),
    "output_bytes": (1 << 20, 1024, "bytes of each task's output kept (head and tail)"),
    "results_bytes": (32 << 20, 1024, "bytes of raw results accepted from one VM"),
    "results_files": (64, 1, "files of raw results accepted from one VM"),
    "memory_bytes": (2 << 30, 16 << 20, "bytes of memory of one VM, its scratch files included"),
    "processes": (512, 8, "processes and threads one VM may have at once"),
    "scratch_bytes": (2 << 30, 16 << 20, "bytes one VM may write to its scratch and /tmp"),
    "scratch_inodes": (200_000, 1000, "files and folders one VM may create"),
    "vm_cpus": (1, 1, "virtual CPUs of one qemu VM"),
}


def defaults() -> dict:
    return {name: spec[0] for name, spec in LIMITS.items()}


def check(limits: dict | None) -> dict:
    """The limits with defaults filled in; ConfigError naming the first bad one."""
    if limits is None:
        return defaults()
    if not isinstance(limits, dict):
        raise ConfigError(f"pyti_limits must be a mapping, got {limits!r}", field="pyti_limits")
    merged = defaults()
    for name, value in limits.items():
        if name not in LIMITS:
            known = ", ".join(sorted(LIMITS))
            raise ConfigError(
                f"pyti_limits.{name} is not a known limit (known: {known})",
                field=f"pyti_limits.{name}",
            )
        minimum = LIMITS[name][1]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(
                f"pyti_limits.{name} must be an integer >= {minimum}, got {value!r}",
                field=f"pyti_limits.{name}",
                value=value,
            )
        merged[name] = value
    return merged
