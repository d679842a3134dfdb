# SPDX-License-Identifier: GPL-3.0-or-later
# Private to this collection: other collections must not import it.
"""Coercion of the hostile values that results carry into safe report values.

Every function accepts any value and never raises: strings come back scrubbed of what
JSON, XML 1.0 or a terminal cannot take and capped in length, numbers come back finite,
paths come back relative and confined, or the value is dropped.
"""

from __future__ import annotations

import itertools
import math
import re
import reprlib
from collections.abc import Mapping

TEXT_LIMIT = 64 * 1024
NAME_LIMIT = 1024
COUNT_LIMIT = 2**53
PLAIN_DEPTH = 8
PLAIN_ITEMS = 100
LIST_LIMIT = 32

HEAD_MARK = " \u2026[truncated]"
TAIL_MARK = "[truncated]\u2026 "

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_NEWLINE = re.compile(r"\r\n?")
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls except tab and newline, DEL, and the XML 1.0 non-characters.
_ILLEGAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")
# Bidirectional overrides and isolates reorder how text reads, and the Unicode line and
# paragraph separators break lines where no newline is: text from a VM loses them.
_SPOOFING = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_SPACE = re.compile(r"\s+")
# Control characters and backslashes have no place in a path a report links to.
_NOT_IN_PATH = re.compile(r"[\x00-\x1f\x7f\\]")
_RUN_ID_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_DIGITS = re.compile(r"(\d+)")

_repr = reprlib.Repr()
_repr.maxstring = NAME_LIMIT
_repr.maxother = NAME_LIMIT


def _as_str(value: object) -> str | None:
    """Any value as a string; None stays None and containers get a bounded repr."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 4096 else "<large integer>"
    if isinstance(value, bytes | bytearray):
        return bytes(value[: 4 * TEXT_LIMIT]).decode("utf-8", "replace")
    return _repr.repr(value)


def scrub(text: str) -> str:
    """Drop terminal escapes and characters that JSON, XML 1.0 or a terminal cannot take."""
    text = _ANSI.sub("", text)
    text = _NEWLINE.sub("\n", text)
    text = _SURROGATE.sub("\ufffd", text)
    text = _SPOOFING.sub("", text)
    return _ILLEGAL.sub("", text)


def clean_text(value: object, limit: int = TEXT_LIMIT, *, tail: bool = False) -> str | None:
    """A scrubbed string of at most `limit` characters, keeping the head or the tail."""
    text = _as_str(value)
    if text is None:
        return None

    # Cut before scrubbing so that a huge string costs no more than a capped one.
    cut = len(text) > limit
    text = scrub(text[-limit:] if tail else text[:limit])
    if not cut:
        return text
    if tail:
        return TAIL_MARK + text[len(TAIL_MARK) :]
    return text[: limit - len(HEAD_MARK)] + HEAD_MARK


def one_line(value: object, limit: int = NAME_LIMIT) -> str | None:
    """A scrubbed string with every run of white space folded into one blank."""
    text = clean_text(value, 4 * limit)
    if text is None:
        return None
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    return text[: limit - len(HEAD_MARK)] + HEAD_MARK


def to_number(value: object) -> float:
    """A finite, non-negative float such as a duration; anything else is 0.0."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0.0
    if isinstance(value, str) and len(value) > 64:
        return 0.0
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return 0.0
    if not math.isfinite(number) or number < 0:
        return 0.0
    return round(number, 3)


def to_count(value: object) -> int:
    """A non-negative integer count; anything else is 0."""
    number = to_number(value)
    return int(min(number, COUNT_LIMIT))


def to_rc(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if -(2**31) <= value < 2**31 else None


def to_flag(value: object) -> bool:
    return value is True


def to_tristate(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def to_choice(value: object, choices: tuple[str, ...]) -> str | None:
    return value if isinstance(value, str) and value in choices else None


def safe_relpath(value: object) -> str | None:
    """A relative POSIX path that stays inside its base directory, or None."""
    if not isinstance(value, str) or not value or len(value) > NAME_LIMIT:
        return None
    if value != scrub(value) or _NOT_IN_PATH.search(value):
        return None
    parts = value.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    return value


def safe_filename(value: object) -> str | None:
    path = safe_relpath(value)
    return path if path and "/" not in path else None


def safe_run_id(value: object) -> str | None:
    """The run id as a single safe directory name, or None when nothing usable is left."""
    text = one_line(value, 128)
    if not text:
        return None
    text = _RUN_ID_CHARS.sub("_", text).lstrip(".")
    return text or None


def plain(value: object, depth: int = 0) -> object:
    """Any value as JSON-safe data: string keys, scrubbed strings, finite numbers."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) <= COUNT_LIMIT else _as_str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= PLAIN_DEPTH or not isinstance(value, Mapping | list | tuple):
        return clean_text(value, NAME_LIMIT)
    if isinstance(value, Mapping):
        items = itertools.islice(value.items(), PLAIN_ITEMS)
        return {clean_text(key, NAME_LIMIT): plain(item, depth + 1) for key, item in items}
    return [plain(item, depth + 1) for item in value[:PLAIN_ITEMS]]


def text_list(value: object) -> list[str]:
    if not isinstance(value, list | tuple):
        return []
    items = (one_line(item) for item in value[:LIST_LIMIT])
    return [item for item in items if item]


def natural_key(text: str) -> list[object]:
    """Sort key that puts python 3.9 before 3.10."""
    parts = _DIGITS.split(text.lower())
    return [int(part) if index % 2 else part for index, part in enumerate(parts)]
