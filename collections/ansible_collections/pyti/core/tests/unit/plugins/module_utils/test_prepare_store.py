# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.pyti.core.plugins.module_utils import _prepare
from ansible_collections.pyti.core.plugins.module_utils._prepare import Store


def test_parallel_writers_of_one_wheel_all_succeed(tmp_path):
    wheel = tmp_path / "pygments-2.21.0-py3-none-any.whl"
    wheel.write_bytes(os.urandom(1 << 20))
    store = Store(str(tmp_path / "cache"), 990000)
    with ThreadPoolExecutor(max_workers=8) as pool:
        rels = list(pool.map(lambda _n: store.add_wheel(str(wheel)), range(32)))
    assert len(set(rels)) == 1
    stored = tmp_path / "cache" / "setup" / rels[0]
    assert stored.read_bytes() == wheel.read_bytes()
    assert oct(stored.stat().st_mode & 0o777) == "0o444"
    assert [p.name for p in stored.parent.iterdir()] == [wheel.name]


def test_a_spec_that_gave_no_archive_is_named_as_it_names_its_distribution():
    assert _prepare._spec_name("idna==99.0") == "idna"
    assert _prepare._spec_name("Pyti_Fx>=1,<2") == "Pyti_Fx"
    assert _prepare._spec_name("/srv/dists/broken-1.0.tar.gz") == "broken-1.0.tar.gz"
    assert _prepare._spec_name("not a spec!") == "not a spec!"
