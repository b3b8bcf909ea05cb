"""Whether an XML file the toolkit writes is well-formed, checked while it is written.

Every XML file is parsed once before it may be written (never an export with a broken file). expat
holds the GIL and parses ~100 MB a second: at 100,000 documents the Exact Globe file is 300 MB,
three seconds on the one core the export runs on. So a big file is fed, as its bytes are encoded,
to a child process that parses it on the other core, and its verdict is read at the end. A small
file (every Peppol e-invoice) is parsed in the process: a child costs more than it saves there.

This module is also the child's program (`python -I -S wellformed.py`: no site, no toolkit import,
quick to start): it reads the file on stdin and prints why it is not well-formed, or nothing. Both
ways the verdict is `problem`'s, so it is worded in one place.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Iterable
from xml.parsers import expat

IN_PROCESS = 8 << 20  # bytes: a file up to this size is parsed in the process
PIECE = 1 << 20


def problem(pieces: Iterable[bytes]) -> str:
    """Why the bytes, in order, are not a well-formed XML document; "" when they are one."""
    parser = expat.ParserCreate()
    try:
        for piece in pieces:
            parser.Parse(piece, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        return f"line {exc.lineno}, column {exc.offset + 1}: {expat.ErrorString(exc.code)}"
    except (LookupError, ValueError) as exc:  # an encoding the parser does not know
        return str(exc)
    return ""


class Checker:
    """The check of one file, fed its bytes as they are written (`written`), asked at the end
    (`verdict`). The child starts when the file passes IN_PROCESS bytes, given what came so far."""

    def __init__(self) -> None:
        self.size = 0
        self.child: subprocess.Popen | None = None

    def written(self, so_far, piece: bytes) -> None:
        """`piece` was just added to the file; `so_far` (its `getbuffer()`) holds all of it."""
        self.size += len(piece)
        if self.child is not None:
            self._send(piece)
        elif self.size > IN_PROCESS:
            self.child = _start()
            if self.child is not None:
                with so_far.getbuffer() as everything:
                    self._send(everything)

    def verdict(self, data) -> str:
        """Why the file (`data`, all of it: bytes, or spool.Spooled) is not well-formed; "" when it is."""
        from toolkit.spec.spool import pieces  # here, not at the top: the child imports nothing of the toolkit

        child, self.child = self.child, None
        if child is None:
            return problem(pieces(data))
        try:
            out, _ = child.communicate()
            if child.returncode == 0:
                return out.decode("utf-8")
        except OSError:
            pass
        return problem(pieces(data))  # the child failed (killed, out of memory): parse it here

    def abandon(self) -> None:
        """No verdict is wanted (the file will not be written)."""
        child, self.child = self.child, None
        if child is not None:
            child.kill()
            child.communicate()

    def _send(self, data) -> None:
        try:
            self.child.stdin.write(data)
        except OSError:  # the child is gone; `verdict` parses in the process
            self.child.kill()


def _start() -> subprocess.Popen | None:
    # Only a Python interpreter is started: an embedding program (a frozen build, or Excel hosting
    # Python) would be sys.executable too, and must not be run with these arguments.
    if not os.path.basename(sys.executable or "").lower().startswith("python") or not os.path.isfile(__file__):
        return None
    try:
        return subprocess.Popen([sys.executable, "-I", "-S", __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
    except (OSError, ValueError):
        return None


def _child() -> None:
    read = sys.stdin.buffer.read
    verdict = problem(iter(lambda: read(PIECE), b""))
    while read(PIECE):  # the rest, so the writer is never left blocked on a full pipe
        pass
    sys.stdout.write(verdict)


if __name__ == "__main__":
    _child()
