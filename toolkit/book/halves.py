"""A big sheet parsed as two halves at once, one per core.

python-calamine parses a sheet without holding the GIL, but on one core: the Invoice lines of a
big workbook are most of the read (3.5 s of 4.6 s at 500,000 lines). So the sheet's XML is cut at
a row near its middle into two small workbooks of their own (the half stored uncompressed, beside
copies of the parts calamine reads when it opens a workbook: workbook, relationships, styles,
shared strings), written to temporary files, and each is parsed by a thread of its own. The rows
put back together are what one parse of the whole sheet gives (tests compare them).

Only a file the survey has passed gets here. Anything unusual — no plain `<sheetData>` near the
start, no `<row r="...">` before the rows' end to cut at, a half calamine refuses — and `rows`
returns None: the caller parses the sheet whole, as before. A cut that falls inside a comment, a
CDATA section or a processing instruction leaves the first half unclosed, which calamine refuses
(tested), so such a sheet is parsed whole too.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import threading
import time
import zipfile

import python_calamine

from toolkit import memory

SPLIT_BYTES = 16 << 20  # a sheet part smaller than this (about 30,000 lines) is parsed whole
_PIECE = 1 << 20
_PREFIX = "ledger-export-half-"  # the temporary files' names begin so
_HEAD_LIMIT = 4 << 20  # `<sheetData>` comes after a few columns' widths, never megabytes in
_CUT = b'<row r="'  # the row the second half starts at: an explicit number keeps calamine's count
_END = b"</sheetData></worksheet>"
_OVERLAP = 16  # bytes kept back from each piece, so a tag split between two pieces is still found
# What calamine reads when it opens a workbook: the workbook part and its relationships, styles
# (dates are numbers with a date format), shared strings (cells point into them) and the like.
_OPENING = re.compile(r"\[Content_Types\]\.xml|_rels/\.rels|xl/[^/]+\.xml|xl/_rels/[^/]+\.rels", re.I)


class Writer(threading.Thread):
    """The sheet's two halves written to temporary files, by a thread of its own when started (the
    reader starts it while the survey looks the rest of the file over: it writes no more than the
    part's declared size, which the survey has checked against the limits; calamine parses the
    halves only once the survey has passed the whole file)."""

    def __init__(self, data: bytes, part: str | None):
        super().__init__(name="write halves", daemon=True)
        self.paths: list[str] = []
        self.ok = False  # both halves written
        self.stopped = False
        self.info = None
        if part is not None:
            try:
                self.archive = zipfile.ZipFile(io.BytesIO(data))  # shares `data`, no copy
                self.info = self.archive.getinfo(part)
            except (KeyError, zipfile.BadZipFile, OSError):
                pass
        self.wanted = self.info is not None and self.info.file_size >= SPLIT_BYTES

    def run(self) -> None:
        try:
            _sweep()
            self.ok = _write_halves(self.archive, self.info, self.paths, self)
        except Exception:  # stopped, no room for the temporary files, a damaged part: parsed whole (or refused)
            self.ok = False
        finally:
            self.archive = None

    def discard(self) -> None:
        """Stop writing (the file was refused, or the halves are not needed) and remove them."""
        self.stopped = True
        if self.is_alive():
            self.join()
        self.remove()

    def remove(self) -> None:
        for path in self.paths:
            _remove(path)


def rows(data: bytes, sheet: str, part: str | None, written: Writer | None = None) -> list[list] | None:
    """The sheet's rows from A1 as calamine's `to_python(skip_empty_area=False)` gives them,
    parsed in two halves at once; None when the sheet is small or unusual (see the module).
    `written`: the halves' writer, started earlier; without it they are written here."""
    writer = written or Writer(data, part)
    if not writer.wanted:
        return None
    try:
        if written is None:
            writer.run()
        else:
            writer.join()
        if not writer.ok:
            return None
        second = _Half(writer.paths[1], sheet, skip_empty_area=True)
        second.start()
        first = _Half(writer.paths[0], sheet, skip_empty_area=False)
        first.run()  # this thread parses the first half while `second` parses the other
        second.join()
        if first.failed or second.failed:
            return None
        return _joined(first.rows, second.rows, second.origin)  # None when they overlap
    except RuntimeError:  # no thread to be had: parsed whole
        return None
    finally:
        writer.remove()


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:  # gone already, or still open (Windows): `_sweep` takes it next time
        pass


def _sweep() -> None:
    """Halves left behind by a command that was stopped while writing them (an hour old or more)."""
    folder = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(folder) if n.startswith(_PREFIX) and n.endswith(".xlsx")]
        for name in names:
            path = os.path.join(folder, name)
            if time.time() - os.stat(path).st_mtime > 3600:
                _remove(path)
    except OSError:
        pass


def _write_halves(archive: zipfile.ZipFile, info: zipfile.ZipInfo, paths: list[str], writer: Writer) -> bool:
    """Two workbooks, each with one half of the sheet's rows; False when no safe cut is found, when
    the part inflates past its declared size or when the writer is stopped."""
    def read() -> bytes:  # the next piece of the part; stops the writing when asked or past the declared size
        nonlocal left
        piece = source.read(_PIECE)
        left -= len(piece)
        if writer.stopped or left < 0:
            raise _Stopped
        return piece

    left = info.file_size
    outs = []
    for _ in range(2):
        fd, path = tempfile.mkstemp(prefix=_PREFIX, suffix=".xlsx")
        paths.append(path)
        outs.append(zipfile.ZipFile(os.fdopen(fd, "wb"), "w", zipfile.ZIP_STORED))
    with outs[0] as first, outs[1] as second, archive.open(info) as source:
        for other in archive.infolist():
            if other.filename != info.filename and _OPENING.fullmatch(other.filename):
                with archive.open(other) as part:
                    content = part.read(other.file_size + 1)  # no more than declared: the survey may be under way
                if len(content) > other.file_size:
                    raise _Stopped
                first.writestr(other.filename, content)
                second.writestr(other.filename, content)
        text = b""
        while (at := text.find(b"<sheetData>")) < 0:
            piece = read()
            if not piece or len(text) > _HEAD_LIMIT:
                return False
            text += piece
        at += len(b"<sheetData>")
        head, text = text[:at], text[at:]
        half, written = info.file_size // 2, len(head)  # `written`: the part's bytes before `text`
        with first.open(info.filename, "w", force_zip64=True) as out:
            out.write(head)
            while (cut := text.find(_CUT, max(0, half - written))) < 0:
                if b"</sheetData>" in text or not (piece := read()):
                    return False  # the rows end before their middle's row: a sheet of another shape
                keep = max(len(text) - _OVERLAP, 0)
                out.write(memoryview(text)[:keep])
                written += keep
                text = text[keep:] + piece
            if text.find(b"</sheetData>", 0, cut) >= 0:
                return False
            out.write(memoryview(text)[:cut])
            out.write(_END)
        with second.open(info.filename, "w", force_zip64=True) as out:
            out.write(head)
            out.write(memoryview(text)[cut:])
            while piece := read():  # the rest of the rows, their end and what follows, as they are
                out.write(piece)
    return True


class _Stopped(Exception):
    """The writer was stopped, or the part inflated past its declared size."""


class _Half(threading.Thread):
    """One half's rows, parsed from its own workbook file."""

    def __init__(self, path: str, sheet: str, skip_empty_area: bool):
        super().__init__(name=f"read half of {sheet}", daemon=True)
        self.path, self.sheet, self.skip = path, sheet, skip_empty_area
        self.rows: list[list] = []
        self.origin: tuple[int, int] | None = None  # (row, column) of its first cell
        self.failed = False

    def run(self) -> None:
        try:
            book = python_calamine.CalamineWorkbook.from_path(self.path)
            _remove(self.path)  # calamine holds it open: on Linux and macOS it is gone whatever happens next
            sheet = book.get_sheet_by_name(self.sheet)
            self.rows = sheet.to_python(skip_empty_area=self.skip)
            self.origin = sheet.start
            del sheet, book  # the file is let go before it is deleted (Windows keeps open files)
        except BaseException:  # any refusal: the sheet is read whole, and that read words the error
            self.failed = True
        # What calamine freed stays in this thread's own malloc arena, which glibc trims only when
        # asked from the thread itself: ~70 MB at 100,000 invoices, kept to the command's end.
        memory.give_back()


def _joined(first: list[list], second: list[list], start: tuple[int, int] | None) -> list[list] | None:
    """The halves as one rectangle from A1: the second half placed at its first row and column,
    the empty rows between them and every row padded to the widest, with "" as calamine pads.
    None when a row of one half is numbered among the other's (rows out of order, which no
    spreadsheet program writes): calamine would have merged them, so the sheet is read whole."""
    if not second or start is None:
        return first
    top, left = start
    if top < len(first):
        return None
    width = max(len(first[0]) if first else 0, left + len(second[0]))
    if first and len(first[0]) < width:
        pad = [""] * (width - len(first[0]))
        for row in first:
            row.extend(pad)
    after = [""] * (width - left - len(second[0]))
    if left:
        before = [""] * left
        second = [before + row + after for row in second]
    elif after:
        for row in second:
            row.extend(after)
    first.extend([""] * width for _ in range(top - len(first)))
    first.extend(second)
    return first
