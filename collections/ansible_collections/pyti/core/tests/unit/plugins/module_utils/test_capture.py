# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from ansible_collections.pyti.core.plugins.module_utils._capture import Capture


def fed(head, tail, *chunks):
    capture = Capture(head, tail)
    for chunk in chunks:
        capture.feed(chunk)
    return capture


def test_short_output_is_kept_whole():
    capture = fed(4, 4, b"abc", b"defg")
    assert (bytes(capture.head), bytes(capture.tail)) == (b"abcd", b"efg")
    assert capture.size == 7
    assert not capture.truncated
    assert capture.data() == b"abcdefg"


def test_output_of_exactly_head_plus_tail_is_not_cut():
    capture = fed(4, 4, b"abcdefgh")
    assert not capture.truncated
    assert capture.data() == b"abcdefgh"


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param([b"abcdefghij"], id="one-chunk"),
        pytest.param([bytes([c]) for c in b"abcdefghij"], id="byte-by-byte"),
        pytest.param([b"ab", b"", b"cdefg", b"hij"], id="uneven"),
    ],
)
def test_long_output_keeps_head_and_tail_with_a_cut_mark(chunks):
    capture = fed(4, 3, *chunks)
    assert (bytes(capture.head), bytes(capture.tail)) == (b"abcd", b"hij")
    assert capture.size == 10
    assert capture.truncated
    assert capture.data() == b"abcd\n[... pyti cut 3 bytes of output here ...]\nhij"


def test_zero_tail_keeps_only_the_head():
    capture = fed(3, 0, b"abcdef")
    assert capture.tail == bytearray()
    assert capture.data() == b"abc\n[... pyti cut 3 bytes of output here ...]\n"


def test_zero_head_keeps_only_the_tail():
    capture = fed(0, 2, b"abcdef")
    assert capture.data() == b"\n[... pyti cut 4 bytes of output here ...]\nef"


def test_size_counts_every_byte_fed():
    capture = Capture(10, 10)
    for _round in range(1000):
        capture.feed(b"x" * 1000)
    assert capture.size == 1_000_000
    assert len(capture.head) + len(capture.tail) == 20
    assert capture.data().count(b"pyti cut 999980 bytes") == 1


def test_tail_text_takes_the_last_bytes_of_the_kept_output():
    capture = fed(4, 4, b"abcdefghij")
    assert capture.tail_text(6) == "]\nghij"
    assert capture.tail_text(1000) == "abcd\n[... pyti cut 2 bytes of output here ...]\nghij"


def test_tail_text_replaces_a_split_character():
    capture = fed(0, 3, "x\u00e9\u00e9".encode())
    assert bytes(capture.tail) == b"\xa9\xc3\xa9"
    assert capture.tail_text(3) == "\ufffd\u00e9"


def test_tail_text_of_zero_bytes_is_empty():
    assert fed(4, 4, b"abcdefghij").tail_text(0) == ""
