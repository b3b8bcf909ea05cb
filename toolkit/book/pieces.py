"""A big sheet parsed in pieces, two at a time (one per core), and read piece by piece.

python-calamine parses a sheet without holding the GIL, but on one core: the Invoice lines of a
big workbook are most of the read (4 s of the bare read's 5.6 at 500,000 lines). So the sheet's XML
is cut at rows into pieces, each a small workbook of its own (the piece stored uncompressed, beside
copies of the parts calamine reads when it opens a workbook: workbook, relationships, styles,
shared strings), written to temporary files while the survey looks the file over, from the bytes
the survey inflates (it hands them over: the part is inflated once); once the survey has passed
the whole file, two threads parse them in order. The reader takes
each piece as soon as it is parsed and makes its rows into records while later pieces are still
parsed, so the second core is not left idle while the last rows are converted. The pieces put
together are what one parse of the whole sheet gives (tests compare them).

Only a file the survey has passed gets here. Anything unusual — no plain `<sheetData>` near the
start, no `<row r="...">` before the rows' end to cut at, a piece calamine refuses, rows of one
piece numbered among another's — and the pieces raise `Unusable`: the reader parses the sheet
whole, as before. A cut that falls inside a comment, a CDATA section or a processing instruction
leaves a piece unclosed, which calamine refuses (tested), so such a sheet is parsed whole too.
"""

from __future__ import annotations

import functools
import io
import itertools
import os
import re
import tempfile
import threading
import time
import zipfile
from typing import Callable, Iterator

import python_calamine

from toolkit import memory
from toolkit.book.address import HEADER_SEARCH_ROWS

SPLIT_BYTES = 16 << 20  # a sheet part smaller than this (about 30,000 lines) is parsed whole
PIECE_BYTES = 16 << 20  # about 30,000 lines a piece: fewer rows held at once, and a short last wait
MAX_PIECES = 16
_PIECE = 1 << 20
_PREFIX = "ledger-export-piece-"  # the temporary files' names begin so
_EARLIER = ("ledger-export-half-",)  # and so did those of earlier versions, swept as well
_HEAD_LIMIT = 4 << 20  # `<sheetData>` comes after a few columns' widths, never megabytes in
_CUT = b'<row r="'  # the row a piece starts at: an explicit number keeps calamine's count
_END = b"</sheetData></worksheet>"
_OVERLAP = 16  # bytes kept back from each piece, so a tag split between two pieces is still found
# What calamine reads when it opens a workbook: the workbook part and its relationships, styles
# (dates are numbers with a date format), shared strings (cells point into them) and the like.
_OPENING = re.compile(r"\[Content_Types\]\.xml|_rels/\.rels|xl/[^/]+\.xml|xl/_rels/[^/]+\.rels", re.I)


class Unusable(Exception):
    """The pieces cannot give what one parse of the whole sheet gives: parse it whole."""


class Writer(threading.Thread):
    """The sheet's pieces written to temporary files, by a thread of its own when started (the
    reader starts it while the survey looks the rest of the file over: it writes no more than the
    part's declared size, which the survey has checked against the limits; calamine parses the
    pieces only once the survey has passed the whole file).

    `handed`: the survey hands the writer the part's bytes as it inflates them (`hand`), so the
    part is inflated once, not once more here (the writer then cuts at the survey's pace)."""

    def __init__(self, data: bytes, part: str | None, handed: bool = False):
        super().__init__(name="write pieces", daemon=True)
        self.paths: list[str] = []
        self.ok = False  # every piece written
        self.written = 0  # the pieces written whole so far (their files are the first in `paths`)
        self.ended = False  # no more are written
        self.progress = threading.Condition()
        self.stopped = False
        self.info = None
        if part is not None:
            try:
                self.archive = zipfile.ZipFile(io.BytesIO(data))  # shares `data`, no copy
                self.info = self.archive.getinfo(part)
            except (KeyError, zipfile.BadZipFile, OSError):
                pass
        self.wanted = self.info is not None and self.info.file_size >= SPLIT_BYTES
        self.count = min(MAX_PIECES, max(2, self.info.file_size // PIECE_BYTES)) if self.wanted else 0
        self.handed = _HandOver() if handed and self.wanted else None

    def hand(self, piece: bytes) -> None:
        """From the survey: the part's next inflated bytes; b"" once all of it has inflated to its
        declared size. Waits while the writer lags a few pieces behind, never once it has stopped."""
        self.handed.put(piece)

    def run(self) -> None:
        _yield_cpu()
        try:
            _sweep()
            if self.handed is not None:
                self.ok = _write_pieces(self.archive, self.info, self.count, self.handed.get, self)
            else:
                with self.archive.open(self.info) as source:
                    self.ok = _write_pieces(self.archive, self.info, self.count, functools.partial(source.read, _PIECE), self)
        except Exception:  # stopped, no room for the temporary files, a damaged part: parsed whole (or refused)
            self.ok = False
        finally:
            self.archive = None
            if self.handed is not None:
                self.handed.close()  # done or failed: the survey hands on without waiting
            with self.progress:
                self.ended = True
                self.progress.notify_all()

    def piece(self, n: int) -> str | None:
        """The file of piece `n` (from 0), once written; None when the writer ended without it."""
        with self.progress:
            self.progress.wait_for(lambda: self.written > n or self.ended)
            return self.paths[n] if self.written > n else None

    def _wrote(self, count: int) -> None:
        with self.progress:
            self.written = count
            self.progress.notify_all()

    def discard(self) -> None:
        """Stop writing (the file was refused, or the pieces are not needed) and remove them."""
        self.stopped = True
        if self.handed is not None:
            self.handed.close()  # a writer waiting for the survey's next bytes stops at once
        if self.is_alive():
            self.join()
        self.remove()

    def remove(self) -> None:
        for path in self.paths:
            _remove(path)


class _HandOver:
    """A part's inflated bytes on their way from the survey to the writer: at most LIMIT bytes
    wait, so a writer that lags holds the survey up rather than hundreds of MB. The writer takes
    all that waits at once and writes it in one go: every write lets go of the GIL, which the writer
    then waits for while the survey holds it (up to Python's switch interval, 5 ms; a megabyte at a
    time made the survey ~0.4 s slower at 100,000 invoices). Once closed (the writer is done, failed or stopped) nothing
    waits: `put` drops what it is given and `get` raises `_Stopped`."""

    LIMIT = 16 << 20

    def __init__(self):
        self.pieces: list[bytes] = []
        self.size = 0  # the bytes waiting
        self.changed = threading.Condition()
        self.ended = False  # the survey handed the whole part
        self.closed = False

    def put(self, piece: bytes) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.closed or self.size < self.LIMIT)
            if self.closed:
                return
            if piece:
                self.pieces.append(piece)
                self.size += len(piece)
            else:
                self.ended = True
            self.changed.notify_all()

    def get(self) -> bytes:
        """What waits, joined; b"" after the last."""
        with self.changed:
            self.changed.wait_for(lambda: self.closed or self.pieces or self.ended)
            if self.closed:
                raise _Stopped
            pieces, self.pieces, self.size = self.pieces, [], 0
            self.changed.notify_all()
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def close(self) -> None:
        with self.changed:
            self.closed = True
            self.pieces, self.size = [], 0
            self.changed.notify_all()


class Pieces:
    """The sheet's rows, parsed piece by piece by two threads from the pieces `writer` writes (or
    has written). Iterating gives them in order as they are parsed: consecutive runs of the
    sheet's rows from A1, each a rectangle as wide as its own cells reach (calamine pads the rows
    of the whole sheet with "" to its widest; the reader pads nothing), rows without cells between
    two pieces as empty lists. Raises `Unusable` (see the module)."""

    WORKERS = 2

    def __init__(self, writer: Writer, sheet: str, after: Pieces | None = None):
        """`after`: another sheet's pieces, parsed first (the reader takes that sheet first)."""
        self.writer, self.sheet, self.after = writer, sheet, after
        self.parsed: list[tuple[list[list], tuple[int, int] | None] | None] = [None] * writer.count
        self.ready = [threading.Event() for _ in range(writer.count)]
        self.taken = itertools.count()  # the next piece a thread parses (next() on it is atomic)
        self.all_taken = threading.Event()  # every piece is taken (parsed, or being parsed or written): the next sheet's turn
        self.stopped = False
        self.workers = []
        try:
            for n in range(self.WORKERS):
                self.workers.append(threading.Thread(target=self._work, name=f"read {sheet} {n}", daemon=True))
                self.workers[-1].start()
        except RuntimeError:  # no thread to be had: the ones started parse every piece, or none: whole
            self.workers.pop()
            if not self.workers:
                self.all_taken.set()

    def _work(self) -> None:
        _yield_cpu()
        try:
            if self.after is not None:
                self.after.all_taken.wait()  # two threads parse one sheet at a time
            while not self.stopped and (n := next(self.taken)) < len(self.ready):
                # Written while the survey looked the file over (the pieces exist only once it has
                # passed the whole file), or still being written: each is parsed as soon as it is.
                path = self.writer.piece(n)
                if path is not None:
                    self.parsed[n] = _parse(path, self.sheet, whole_top=n == 0)
                self.ready[n].set()
        finally:
            self.all_taken.set()
            # What calamine freed stays in this thread's own malloc arena, which glibc trims only
            # when asked from the thread itself: ~70 MB at 100,000 invoices, kept to the command's end.
            memory.give_back()

    def __iter__(self) -> Iterator[list[list]]:
        end = 0  # the row after the last one given
        try:
            if not self.workers:
                raise Unusable
            for n, ready in enumerate(self.ready):
                ready.wait()
                piece, self.parsed[n] = self.parsed[n], None
                if piece is None:  # not written, or refused by calamine
                    raise Unusable
                rows, origin = piece
                if not rows:
                    continue
                top, left = origin
                if top < end or (n == 0 and len(rows) < HEADER_SEARCH_ROWS):
                    # rows out of order (calamine merges them in one parse), or a first piece too
                    # short to hold every row the reader looks for the header in
                    raise Unusable
                if top > end:
                    yield [[] for _ in range(top - end)]
                yield [[""] * left + row for row in rows] if left else rows
                end = top + len(rows)
        finally:
            self.stop()

    def stop(self) -> None:
        """No more pieces parsed; the files are removed (a thread parsing one finishes it first)."""
        self.stopped = True
        self.writer.discard()


def _yield_cpu() -> None:
    """This thread runs at a lower priority (Linux, where a thread has one of its own): the reader's
    thread, which makes the rows into records, holds the GIL and is what the read waits for; the
    threads here take what that leaves of both cores, not a share of its own."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not allowed: the same speed as before
        pass


def _parse(path: str, sheet: str, whole_top: bool) -> tuple[list[list], tuple[int, int]] | None:
    """A piece's rows and the (row, column) of the first; None when calamine refuses it. The first
    piece is read from A1 (`whole_top`); a later one from its first row and column with a cell."""
    try:
        book = python_calamine.CalamineWorkbook.from_path(path)
        _remove(path)  # calamine holds it open: on Linux and macOS it is gone whatever happens next
        found = book.get_sheet_by_name(sheet)
        rows = found.to_python(skip_empty_area=not whole_top)
        origin = (0, 0) if whole_top else found.start
        del found, book  # the file is let go before it is deleted (Windows keeps open files)
        return (rows, origin) if origin is not None or not rows else None  # rows without a place: odd
    except BaseException:  # any refusal: the sheet is read whole, and that read words the error
        return None


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:  # gone already, or still open (Windows): `_sweep` takes it next time
        pass


def _sweep() -> None:
    """Pieces left behind by a command that was stopped while writing them (an hour old or more)."""
    folder = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(folder) if n.startswith((_PREFIX, *_EARLIER)) and n.endswith(".xlsx")]
        for name in names:
            path = os.path.join(folder, name)
            if time.time() - os.stat(path).st_mtime > 3600:
                _remove(path)
    except OSError:
        pass


def _write_pieces(archive: zipfile.ZipFile, info: zipfile.ZipInfo, count: int, source: Callable[[], bytes], writer: Writer) -> bool:
    """`count` workbooks, each with a run of the sheet's rows of about equal size, cut from the
    part's bytes as `source` gives them (b"" at the end); False when no safe cut is found, when
    the part inflates past its declared size or when the writer is stopped."""
    def read() -> bytes:  # the next piece of the part; stops the writing when asked or past the declared size
        nonlocal left
        piece = source()
        left -= len(piece)
        if writer.stopped or left < 0:
            raise _Stopped
        return piece

    paths, left = writer.paths, info.file_size
    opening = _opening_parts(archive, info)
    text = b""
    while (at := text.find(b"<sheetData>")) < 0:
        piece = read()
        if not piece or len(text) > _HEAD_LIMIT:
            return False
        text += piece
    at += len(b"<sheetData>")
    head, text = text[:at], text[at:]
    written = len(head)  # the part's bytes before `text`
    for n in range(1, count + 1):
        with _workbook(paths, opening) as book, book.open(info.filename, "w", force_zip64=True) as out:
            out.write(head)
            if n == count:  # the rest of the rows, their end and what follows, as they are
                out.write(text)
                while piece := read():
                    out.write(piece)
            else:
                goal = info.file_size * n // count
                # a cut after the piece's first byte: every piece holds a row
                while (cut := text.find(_CUT, max(1, goal - written))) < 0:
                    if b"</sheetData>" in text or not (piece := read()):
                        return False  # the rows end before the goal's row: a sheet of another shape
                    keep = max(len(text) - _OVERLAP, 0)
                    out.write(memoryview(text)[:keep])
                    written += keep
                    text = text[keep:] + piece
                if text.find(b"</sheetData>", 0, cut) >= 0:
                    return False
                out.write(memoryview(text)[:cut])
                out.write(_END)
                written += cut
                text = text[cut:]
        writer._wrote(n)  # its file is whole: it may be parsed
    return True


def _opening_parts(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> list[tuple[str, bytes]]:
    """The parts calamine reads on opening, beside the sheet's: each piece's workbook holds them."""
    parts = []
    for other in archive.infolist():
        if other.filename != info.filename and _OPENING.fullmatch(other.filename):
            with archive.open(other) as part:
                content = part.read(other.file_size + 1)  # no more than declared: the survey may be under way
            if len(content) > other.file_size:
                raise _Stopped
            parts.append((other.filename, content))
    return parts


def _workbook(paths: list[str], opening: list[tuple[str, bytes]]) -> zipfile.ZipFile:
    """A new temporary workbook holding the opening parts, its path added to `paths`."""
    fd, path = tempfile.mkstemp(prefix=_PREFIX, suffix=".xlsx")
    paths.append(path)
    book = zipfile.ZipFile(os.fdopen(fd, "wb"), "w", zipfile.ZIP_STORED)
    for name, content in opening:
        book.writestr(name, content)
    return book


class _Stopped(Exception):
    """The writer was stopped, or the part inflated past its declared size."""
