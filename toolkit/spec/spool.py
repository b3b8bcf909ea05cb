"""Where a rendered file's bytes wait until the export is committed: in memory, or, for a big
file, in an anonymous temporary file.

At 100,000 invoices a package's file is 150-300 MB. Held in memory beside the documents and the
workbook it is what takes an export past 1 GB; in a temporary file it sits in the system's file
cache instead, and the commit copies it into the export folder. So a file's bytes stay in memory
(as `bytes`, as always) up to SPOOL_BYTES, and past that move to a temporary file (`Spooled`).
Whoever reads a rendered file's bytes reads them with `pieces`, which takes either.
"""

from __future__ import annotations

import tempfile
from typing import Iterator

from toolkit.errors import UserError

SPOOL_BYTES = 8 << 20  # a file up to this size stays in memory (every test, every usual export)
PIECE = 4 << 20  # bytes read back at a time


class Spool:
    """The bytes of one file as they are written: the encoded chunks in a list (joined once at the
    end: a buffer grown as it goes is copied at each growth, and holds up to twice its bytes),
    then past SPOOL_BYTES in a temporary file (deleted when closed, or with the process: nothing
    is left behind)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] | None = []
        self.file = None
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        try:
            if self.chunks is None:
                self.file.write(data)
                return
            self.chunks.append(data)
            if self.size > SPOOL_BYTES:
                self.file = tempfile.TemporaryFile()
                self.file.writelines(self.chunks)
                self.chunks = None
        except OSError as exc:
            raise UserError(f"An export's big files wait in a temporary file in {tempfile.gettempdir()} until they are "
                            f"written, and writing it failed ({exc}). Free some disk space there (or point TMP/TEMP "
                            f"elsewhere), then try again; nothing was written.") from None

    def getbuffer(self) -> memoryview:
        """The bytes so far (for the XML check's child, when it starts)."""
        if self.chunks is not None:
            return memoryview(b"".join(self.chunks))
        self.file.seek(0)
        return memoryview(self.file.read())  # and the next write goes on at the end

    def value(self) -> bytes | Spooled:
        """The file's bytes: `bytes`, or `Spooled` once they passed SPOOL_BYTES."""
        return b"".join(self.chunks) if self.chunks is not None else Spooled(self.file, self.size)


class Spooled:
    """A big rendered file's bytes, in an anonymous temporary file; `len` is their size. Read
    them with `pieces`."""

    def __init__(self, file, size: int):
        self.file, self.size = file, size

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"<{self.size:,} bytes in a temporary file>"


def pieces(data: bytes | Spooled) -> Iterator[bytes]:
    """A rendered file's bytes, in order: `bytes` at once, a spooled file a few MB at a time."""
    if not isinstance(data, Spooled):
        yield data
        return
    data.file.seek(0)
    while piece := data.file.read(PIECE):
        yield piece
