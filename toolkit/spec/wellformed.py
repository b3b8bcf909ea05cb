"""Whether an XML file the toolkit writes is well-formed, checked while it is written.

Every XML file is parsed once before it may be written (never an export with a broken file). expat
holds the GIL and parses ~100 MB a second: at 100,000 documents the Exact Globe file is 300 MB,
three seconds on the one core the export runs on. So a big file is fed, as its bytes are encoded,
to a child process that parses it on the other core, and its verdict is read at the end (`Checker`).
Small files are parsed in the process until together they pass that size too; then (71,488 Peppol
e-invoices at 100,000 invoices, 6 s of parsing) each goes to one child as it is made, and their
verdicts are read at the end of the render (`Many`).

The child is fed from a thread (`_Feeder`): a pipe holds 64 KB, so a writer that wrote its chunks
of a few MB itself waited at each for the child to parse nearly all of it (2 s of an Exact Globe
export at 100,000 invoices): the parse ran beside the render only in name. The feeder takes the
bytes and writes them while the render goes on (a blocked write releases the GIL).

This module is also the child's program (`python -I -S wellformed.py [--many]`: no site, no toolkit
import, quick to start): it reads the file on stdin and prints why it is not well-formed, or
nothing; with --many, files framed by their position and size, and the position and problem of
each that is not. Every way the verdict is `problem`'s, so it is worded in one place.
"""

from __future__ import annotations

import os
import queue
import struct
import subprocess
import sys
import threading
from typing import Iterable
from xml.parsers import expat

IN_PROCESS = 8 << 20  # bytes: a file up to this size is parsed in the process
PIECE = 1 << 20
FRAME = struct.Struct(">II")  # --many: a file's position and size, then its bytes
QUEUED = 4  # pieces handed to a feeder and not written yet: then the writer waits for the child


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
        self.feeder: _Feeder | None = None
        self.kept: list[bytes] | None = []  # the pieces of a small file, for `Many` (none read back)

    def written(self, so_far, piece: bytes) -> None:
        """`piece` was just added to the file; `so_far` (its `getbuffer()`) holds all of it."""
        self.size += len(piece)
        if self.child is not None:
            self.feeder.send(piece)
        elif self.size <= IN_PROCESS:
            self.kept.append(piece)
        elif self.kept is not None:  # it just passed IN_PROCESS: a child is tried once
            self.kept = None
            self.child = _start()
            if self.child is not None:
                self.feeder = _Feeder(self.child)
                with so_far.getbuffer() as everything:
                    self.feeder.send(bytes(everything))

    @property
    def big(self) -> bool:
        """Past IN_PROCESS bytes: its verdict is its own (`verdict`), not `Many`'s."""
        return self.size > IN_PROCESS

    def verdict(self, data) -> str:
        """Why the file (`data`, all of it: bytes, or spool.Spooled) is not well-formed; "" when it is."""
        from toolkit.spec.spool import pieces  # here, not at the top: the child imports nothing of the toolkit

        child, self.child = self.child, None
        if child is None:
            return problem(pieces(data))
        self.feeder.close()
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
            self.feeder.close()
            child.communicate()


class _Feeder:
    """Writes a child's input from a thread, in the order given (`send`); `close` when all is
    sent. A write that fails (the child is gone) kills the child: its verdict is then taken in
    the process, and the rest is dropped."""

    def __init__(self, child: subprocess.Popen):
        self.child = child
        self.pieces: queue.Queue = queue.Queue(QUEUED)
        self.thread = threading.Thread(target=self._write, name="xml-check-feeder", daemon=True)
        self.thread.start()

    def send(self, data: bytes) -> None:
        self.pieces.put(data)

    def close(self) -> None:
        self.pieces.put(None)
        self.thread.join()

    def _write(self) -> None:
        broken = False
        while (data := self.pieces.get()) is not None:
            if broken:
                continue
            try:
                self.child.stdin.write(data)
            except (OSError, ValueError):
                broken = True
                self.child.kill()


class Many:
    """Verdicts on the small files of a render, given at the end (`problems`). Up to IN_PROCESS
    bytes in all they are parsed here; past that each is sent to one child as it comes, to be
    parsed on the other core while the next ones are rendered."""

    def __init__(self) -> None:
        self.size = 0
        self.files: list = []  # each file's bytes (bytes or spool.Spooled), by position
        self.found: dict[int, str] = {}  # position -> problem, of the files parsed here
        self.child: subprocess.Popen | None = None
        self.feeder: _Feeder | None = None
        self.tried = False  # to start the child
        self.first_sent: int | None = None  # the position of the first file the child has

    def add(self, data, kept: list[bytes] | None = None) -> int:
        """Check `data` (a whole file; `kept`: its bytes in pieces, when the writer still has them:
        then nothing is read back from a temporary file); returns its position."""
        from toolkit.spec.spool import pieces  # here, not at the top: the child imports nothing of the toolkit

        position = self.parsed_here(data, kept if kept is not None else pieces(data))
        if position is None:
            position = len(self.files) - 1
            self.feeder.send(FRAME.pack(position, len(data)))
            for piece in (kept if kept is not None else pieces(data)):  # the child gone, `problems` parses its files here
                self.feeder.send(piece)
        return position

    def add_many(self, files: list, datas: list[bytes]) -> int:
        """Check many whole files at once (`files`: each as the render keeps it, bytes or
        spool.Spooled; `datas`: their bytes); returns the first one's position, the others follow.
        The ones for the child go in one framed piece: a piece handed to the feeder is a thread
        handoff, too dear for each of 70,000 small files."""
        first, frames = len(self.files), []
        for data, kept in zip(files, datas):
            if self.parsed_here(data, (kept,)) is None:
                frames += (FRAME.pack(len(self.files) - 1, len(kept)), kept)
        if frames:
            self.feeder.send(b"".join(frames))
        return first

    def parsed_here(self, data, parts) -> int | None:
        """Note the file (`parts`: its bytes); its position when it was parsed here, None when it
        is the child's to parse (starting it once the files pass IN_PROCESS bytes together)."""
        position = len(self.files)
        self.files.append(data)
        self.size += len(data)
        if self.child is None and not self.tried and self.size > IN_PROCESS:
            self.tried = True
            self.child = _start("--many")
            self.feeder = _Feeder(self.child) if self.child is not None else None
            self.first_sent = position
        if self.child is not None:
            return None
        if verdict := problem(parts):
            self.found[position] = verdict
        return position

    def problems(self) -> dict[int, str]:
        """{position: why the file is not well-formed}, for every file added."""
        from toolkit.spec.spool import pieces

        found, child, self.child = dict(self.found), self.child, None
        if child is not None:
            self.feeder.close()
            try:
                out, _ = child.communicate()
                if child.returncode == 0:
                    for line in out.decode("utf-8").splitlines():
                        position, verdict = line.split("\t", 1)
                        found[int(position)] = verdict
                    return found
            except (OSError, ValueError):
                pass
            for position in range(self.first_sent, len(self.files)):  # the child failed: parse them here
                if verdict := problem(pieces(self.files[position])):
                    found[position] = verdict
        return found


def _start(*options: str) -> subprocess.Popen | None:
    # Only a Python interpreter is started: an embedding program (a frozen build, or Excel hosting
    # Python) would be sys.executable too, and must not be run with these arguments.
    if not os.path.basename(sys.executable or "").lower().startswith("python") or not os.path.isfile(__file__):
        return None
    try:
        return subprocess.Popen([sys.executable, "-I", "-S", __file__, *options], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
    except (OSError, ValueError):
        return None


def _child() -> None:
    read = sys.stdin.buffer.read
    verdict = problem(iter(lambda: read(PIECE), b""))
    while read(PIECE):  # the rest, so the writer is never left blocked on a full pipe
        pass
    sys.stdout.write(verdict)


def _child_many() -> None:
    """Verdicts written at the end, not as found: the writer reads them only then."""
    read = sys.stdin.buffer.read
    found = []
    while len(head := read(FRAME.size)) == FRAME.size:
        position, size = FRAME.unpack(head)
        data = read(size)
        if verdict := problem([data]):
            found.append(f"{position}\t{verdict}".replace("\n", " "))
    sys.stdout.write("\n".join(found))


if __name__ == "__main__":
    _child_many() if sys.argv[1:] == ["--many"] else _child()
