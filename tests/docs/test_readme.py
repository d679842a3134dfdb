"""The README's links to files of the repository lead to files that git tracks."""

from __future__ import annotations

import re
import subprocess

from conftest import ROOT

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_relative_links_lead_to_tracked_files():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = sorted({t for t in LINK.findall(text) if "://" not in t and not t.startswith("/")})
    assert "bench/results" in " ".join(targets)
    tracked = subprocess.run(
        ["git", "ls-files", "--", *targets], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert sorted(set(tracked)) == targets
