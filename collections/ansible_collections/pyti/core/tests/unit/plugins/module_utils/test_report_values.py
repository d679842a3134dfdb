# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from ansible_collections.pyti.core.plugins.module_utils._report_values import (
    HEAD_MARK,
    TAIL_MARK,
    TEXT_LIMIT,
    clean_text,
    natural_key,
    one_line,
    plain,
    safe_filename,
    safe_relpath,
    safe_run_id,
    text_list,
    to_count,
    to_number,
    to_rc,
)

MEGABYTE = "x" * (1024 * 1024)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("plain text", "plain text", id="plain"),
        pytest.param("a\x00b", "ab", id="nul"),
        pytest.param("\x1b[31mred\x1b[0m", "red", id="ansi-colour"),
        pytest.param("\x1b]0;title\x07text", "text", id="ansi-osc"),
        pytest.param("bell\x07 and \x1b alone", "bell and  alone", id="bare-controls"),
        pytest.param("one\r\ntwo\rthree", "one\ntwo\nthree", id="carriage-returns"),
        pytest.param("tab\tand\nnewline", "tab\tand\nnewline", id="tab-newline-kept"),
        pytest.param("bad \udcff surrogate", "bad \ufffd surrogate", id="lone-surrogate"),
        pytest.param("non\ufffe\uffffchars", "nonchars", id="xml-nonchars"),
        pytest.param("c1\x85\x9bcontrols", "c1controls", id="c1-controls"),
        pytest.param("emoji \U0001f40d", "emoji \U0001f40d", id="astral-kept"),
        pytest.param(b"bytes \xff", "bytes \ufffd", id="bytes"),
        pytest.param(42, "42", id="int"),
        pytest.param(1.5, "1.5", id="float"),
        pytest.param(True, "true", id="bool"),
        pytest.param(10**5000, "<large integer>", id="huge-int"),
        pytest.param(["a", 1], "['a', 1]", id="list"),
        pytest.param(None, None, id="none"),
    ],
)
def test_clean_text(value, expected):
    assert clean_text(value) == expected


def test_clean_text_caps_the_head():
    text = clean_text(MEGABYTE)
    assert len(text) == TEXT_LIMIT
    assert text.endswith(HEAD_MARK)


def test_clean_text_caps_the_tail():
    text = clean_text("head" + MEGABYTE + "END", 8192, tail=True)
    assert len(text) == 8192
    assert text.startswith(TAIL_MARK)
    assert text.endswith("xEND")


def test_one_line_folds_white_space_and_caps():
    assert one_line("  a\n\tb   c ") == "a b c"
    assert len(one_line(MEGABYTE, 100)) == 100


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20261204T161000Z-ab12cd", "20261204T161000Z-ab12cd"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("...", None),
        ("", None),
        (None, None),
        ("run id\n2", "run_id_2"),
    ],
)
def test_safe_run_id(value, expected):
    assert safe_run_id(value) == expected


def test_natural_key_orders_versions():
    pythons = ["3.10", "3.9", "3.11", "3.13t"]
    assert sorted(pythons, key=natural_key) == ["3.9", "3.10", "3.11", "3.13t"]


@pytest.mark.parametrize(
    ("function", "value", "expected"),
    [
        (to_number, 3, 3.0),
        (to_number, "2.5", 2.5),
        (to_number, 1.23456, 1.235),
        (to_number, -0.1, 0.0),
        (to_number, float("-inf"), 0.0),
        (to_number, None, 0.0),
        (to_number, "fast", 0.0),
        (to_count, 7, 7),
        (to_count, 2**80, 2**53),
        (to_count, [3], 0),
        (to_rc, 0, 0),
        (to_rc, -15, -15),
        (to_rc, 1.0, None),
        (to_rc, None, None),
    ],
)
def test_numbers(function, value, expected):
    assert function(value) == expected


@pytest.mark.parametrize(
    ("value", "relpath", "filename"),
    [
        ("install.log", "install.log", "install.log"),
        ("localhost/j0001", "localhost/j0001", None),
        (".hidden", ".hidden", ".hidden"),
        ("", None, None),
        ("/etc/passwd", None, None),
        ("a/../../b", None, None),
        ("a/./b", None, None),
        ("a/", None, None),
        ("a\\b", None, None),
        ("a\nb", None, None),
        ("x" * 2000, None, None),
        (5, None, None),
    ],
)
def test_paths(value, relpath, filename):
    assert safe_relpath(value) == relpath
    assert safe_filename(value) == filename


def test_plain_keeps_json_data_and_converts_the_rest():
    value = {"n": 1, "f": 0.5, "b": True, "none": None, "t": ("a", b"b"), 3: {1, 2}}
    assert plain(value) == {
        "n": 1, "f": 0.5, "b": True, "none": None, "t": ["a", "b"], "3": "{1, 2}",
    }  # fmt: skip


def test_text_list_drops_empty_items_and_caps():
    assert text_list(["3.11", None, "", " 3.12\n"]) == ["3.11", "3.12"]
    assert len(text_list([str(n) for n in range(100)])) == 32
    assert text_list("3.11") == []


def test_scrub_drops_bidi_overrides_and_unicode_line_separators():
    from ansible_collections.pyti.core.plugins.module_utils._report_values import scrub

    assert scrub("c::a\u202eevil\u202c\u2066x\u2069\u2028y\u200f") == "c::aevilxy"
