# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the pyti.core collection: other collections must not import it.
"""Keep the head and the tail of an output stream of any size, in bounded memory."""

from __future__ import annotations

CUT_MARK = "\n[... pyti cut {cut} bytes of output here ...]\n"


class Capture:
    """Bytes of a stream: the first head_bytes, the last tail_bytes, and the total size."""

    def __init__(self, head_bytes: int, tail_bytes: int):
        self.head_bytes = head_bytes
        self.tail_bytes = tail_bytes
        self.head = bytearray()
        self.tail = bytearray()
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        room = self.head_bytes - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self.tail_bytes > 0:
            self.tail += chunk
            if len(self.tail) > self.tail_bytes:
                del self.tail[: len(self.tail) - self.tail_bytes]

    @property
    def truncated(self) -> bool:
        return self.size > len(self.head) + len(self.tail)

    def data(self) -> bytes:
        """The kept output, with a mark where bytes were dropped."""
        if not self.truncated:
            return bytes(self.head + self.tail)
        cut = self.size - len(self.head) - len(self.tail)
        return bytes(self.head) + CUT_MARK.format(cut=cut).encode() + bytes(self.tail)

    def tail_text(self, limit: int) -> str:
        """The last LIMIT bytes of the kept output, decoded leniently."""
        if limit <= 0:
            return ""
        data = self.data()[-limit:]
        return data.decode("utf-8", "replace")
