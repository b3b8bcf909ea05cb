"""Where a writer's lines go: joined and encoded a chunk at a time into the file's bytes.

A big export never holds its lines, its whole text and its encoded bytes at once: the writers
append lines and call `flush_if_full` between documents; each chunk of lines is joined, encoded
and appended to the file's bytes (`spool.py`: in memory, or once the render's files pass 8 MB in
a temporary file), then dropped. A file with `max_records` is cut into parts as its records come
(each part starts with the file's header lines).
"""

from __future__ import annotations

import codecs

from toolkit.spec.spool import Spool, Spooled, Spools
from toolkit.spec.text import ascii_compatible, charmap_table, latin1_exceptions
from toolkit.spec.wellformed import Checker

CHUNK_LINES = 20_000  # lines joined and encoded at a time: a few MB of text


class Sink:
    """The lines of one file (and of its parts, when it has more records than `max_records`)."""

    def __init__(self, eol: str, encoding: str, max_records: int | None, xml: bool = False,
                 spools: Spools | None = None, trailing_newline: bool = False):
        self.eol, self.encoding, self.max_records = eol, encoding, max_records
        self.trailing_newline = trailing_newline
        self.spools = spools  # the render's files' (spool.py)
        self.xml = xml  # each part is checked to be well-formed as it is written
        self.lines: list[str] = []  # not encoded yet
        self.append = self.lines.append
        self.header: list[str] | None = None  # the header's lines, once `mark_header` is called
        self.records = 0  # record lines so far
        self.parts: list[_Part] = []

    def mark_header(self) -> None:
        """The lines so far are the header; from here on they are records."""
        self.header = list(self.lines)
        del self.lines[:]
        self.parts.append(_Part(self))
        self.parts[-1].write(self.header)

    def count(self) -> int:
        """Record lines so far."""
        return self.records + (len(self.lines) if self.header is not None else 0)

    def flush_if_full(self) -> None:
        if len(self.lines) >= CHUNK_LINES:
            self.flush()

    def flush(self) -> None:
        lines = self.lines
        if self.header is None:  # still in the header (it is written at mark_header)
            return
        start = 0
        while start < len(lines):
            part = self.parts[-1]
            if self.max_records and part.records == self.max_records:
                # finished before the next part starts: spooled parts follow each other in the
                # render's temporary file, each written whole (spool.py)
                part.close(self.trailing_newline)
                part = _Part(self)
                part.write(self.header)
                self.parts.append(part)
            room = len(lines) - start if not self.max_records else min(len(lines) - start, self.max_records - part.records)
            part.write(lines[start:start + room] if start or room < len(lines) else lines)
            part.records += room
            self.records += room
            start += room
        del lines[:]

    def close(self) -> list[_Part]:
        """The parts (one unless the records did not fit `max_records`), finished."""
        if self.header is None:
            self.mark_header()
        self.flush()
        self.parts[-1].close(self.trailing_newline)  # the others were closed as the next one started
        return self.parts


class Codec:
    """A file's encoding, with quicker codecs that give the same bytes for a text where they can."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        self.ascii = ascii_compatible(encoding)
        self.charmap = charmap_table(encoding)
        self.latin1 = latin1_exceptions(encoding)

    def quick(self, text: str) -> bytes | None:
        """The text's bytes through a codec several times faster than the file's own that gives
        the same bytes for this text (and the same error), or None: then the file's codec."""
        if self.ascii and text.isascii():  # ASCII through the ASCII codec
            return text.encode("ascii")
        if self.charmap is not None:  # a DOS code page by its C table (text.charmap_table)
            return codecs.charmap_encode(text, "strict", self.charmap)[0]
        if self.latin1 is not None and not any(ch in text for ch in self.latin1):
            try:  # cp1252, iso-8859-15: Latin-1 characters they write as Latin-1 does (text.latin1_exceptions)
                return text.encode("latin-1")
            except UnicodeEncodeError:
                return None  # a character beyond Latin-1: the file's codec decides
        return None

    def whole(self, text: str) -> bytes | None:
        """A whole file's bytes, the same as a Sink writes (the file's encodings keep no state
        from one piece to the next, a BOM aside: at the start); None when the text cannot be
        encoded (then the file goes through a Sink, which reports it)."""
        try:
            data = self.quick(text)
            return data if data is not None else text.encode(self.encoding)
        except UnicodeEncodeError:
            return None


class _Part:
    """One output file's bytes, encoded as lines come; the first failure to encode is kept (and
    nothing more encoded) for the renderer to report."""

    def __init__(self, sink: Sink):
        self.eol, self.encoding = sink.eol, sink.encoding
        self.buffer = Spool(sink.spools)  # in memory, or in the render's temporary file
        self.encoder = codecs.getincrementalencoder(sink.encoding)()  # a BOM (utf-8-sig) once, at the start
        self.codec = Codec(sink.encoding)
        self.ascii = self.codec.ascii
        self.records = 0
        self.empty = True  # no line written yet
        self.failure: UnicodeEncodeError | None = None
        self.checker = Checker() if sink.xml else None

    def write(self, lines: list[str]) -> None:
        if not lines or self.failure is not None:
            if lines:
                self.empty = False
            return
        text = self.eol.join(lines)
        if not self.empty:
            text = self.eol + text  # lines are separated by the line ending
        self.empty = False
        self._encode(text)

    def _encode(self, text: str) -> None:
        try:
            data = self.codec.quick(text)
            if data is None:
                data = self.encoder.encode(text)
        except UnicodeEncodeError as exc:
            self.failure = exc
            return
        self.buffer.write(data)
        if self.checker is not None:
            self.checker.written(self.buffer, data)

    def close(self, trailing_newline: bool) -> None:
        if trailing_newline and not self.empty and self.failure is None:
            self._encode(self.eol)
        if self.failure is None and not self.ascii:
            self._encode_final()
        if self.failure is not None and self.checker is not None:
            self.checker.abandon()  # a file that cannot be encoded is not written: no verdict wanted

    def _encode_final(self) -> None:
        try:
            data = self.encoder.encode("", final=True)
        except UnicodeEncodeError as exc:
            self.failure = exc
            return
        if data:
            self.buffer.write(data)
            if self.checker is not None:
                self.checker.written(self.buffer, data)

    def data(self) -> bytes | Spooled:
        """The bytes (b"" after a failure to encode): `bytes`, or `Spooled` for a big file."""
        return b"" if self.failure is not None else self.buffer.value()

    def xml_problem(self, data: bytes | Spooled) -> str:
        """Why the part's bytes (`data`) are not well-formed XML; "" when they are."""
        return self.checker.verdict(data)

