# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""The attributes blocks that the modules of pyti.core share."""

from __future__ import annotations


class ModuleDocFragment:
    # The attributes every module declares; their support comes from the variants below.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check mode and return whether it would change something,
      without changing it.
  diff_mode:
    description: Returns what it changed, or would change in check mode, in diff mode.
"""

    # Read-only modules: check mode is the same run, and there is never a diff.
    INFO_MODULE = r"""
attributes:
  check_mode:
    support: full
    details: This module changes nothing, so check mode runs it as usual.
  diff_mode:
    support: N/A
    details: This module changes nothing, so there is no diff.
"""

    # Modules whose work is done by an action plugin of the same name.
    ACTION = r"""
attributes:
  action:
    description: Runs an action plugin of the same name on the controller, which may call
      the module on the slave.
    support: full
"""

    # Modules that change things but return no diff.
    NO_DIFF = r"""
attributes:
  diff_mode:
    support: none
"""
