# SPDX-License-Identifier: GPL-3.0-or-later
"""Compare two PYTI reports on the controller and write the comparison next to them."""

from __future__ import annotations

import os

from ansible.plugins.action import ActionBase
from ansible_collections.pyti.core.plugins.module_utils import _compare
from ansible_collections.pyti.core.plugins.module_utils._report import write_report

ARGSPEC = {
    "base": {"type": "raw"},
    "head": {"type": "raw"},
    "report_dir": {"type": "path", "default": "reports"},
}
# The playbook variables that the options come from: errors name what the user set.
FIELDS = {"base": "pyti_compare_base", "head": "pyti_compare_head"}
FILES = {"json": "comparison.json", "markdown": "comparison.md", "html": "comparison.html"}


def find_report(value: object, report_dir: str, field: str) -> str:
    """The report.json that VALUE names: a file, a run directory or a run id in report_dir."""
    if not isinstance(value, str) or not value.strip():
        raise _compare.CompareError(
            f"{field}: missing: give a run id or the path of a report.json", field=field
        )
    candidates = [value, os.path.join(value, "report.json")]
    if "/" not in value and value not in (".", ".."):
        candidates.append(os.path.join(report_dir, value, "report.json"))
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise _compare.CompareError(
        f"{field}: '{value}' is neither a report.json, a run directory nor a run id in "
        f"{report_dir}",
        field=field,
        value=value,
    )


def read_report(value: object, report_dir: str, field: str) -> dict:
    path = find_report(value, report_dir, field)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise _compare.CompareError(
            f"{field}: '{value}' cannot be read: {exc}", field=field, value=value
        ) from None
    return _compare.parse_report(text, field, value)


def unchanged(folder: str, files: dict[str, str]) -> bool:
    """Whether every file in FOLDER already holds exactly the text it would get."""
    for name, text in files.items():
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                if handle.read() != text:
                    return False
        except (OSError, UnicodeDecodeError):
            return False
    return True


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _valid, args = self.validate_argument_spec(argument_spec=ARGSPEC)
        report_dir = args["report_dir"]
        try:
            base = read_report(args["base"], report_dir, FIELDS["base"])
            head = read_report(args["head"], report_dir, FIELDS["head"])
        except _compare.CompareError as exc:
            return {**result, "failed": True, "msg": exc.msg, **exc.context}

        comparison = _compare.compare(base, head)
        dest = os.path.join(report_dir, _compare.output_dir_name(comparison))
        files = {
            FILES["json"]: _compare.to_json(comparison),
            FILES["markdown"]: _compare.to_markdown(comparison),
            FILES["html"]: _compare.to_html(comparison),
        }
        changed = not unchanged(dest, files)
        if changed and not self._task.check_mode:
            try:
                write_report(dest, files)
            except OSError as exc:
                return {**result, "failed": True, "msg": f"Writing {dest} failed: {exc}"}

        counts = comparison["summary"]
        said = ", ".join(f"{counts[name]} {name}" for name in _compare.CLASSES if counts[name])
        return {
            **result,
            "changed": changed,
            "dest": dest,
            "files": {kind: os.path.join(dest, name) for kind, name in FILES.items()},
            "summary": counts,
            "regressed": [e for e in comparison["entries"] if e["class"] == "regressed"],
            "msg": f"{comparison['base']['id']} -> {comparison['head']['id']}: {said or 'empty'}",
        }
