"""Where rendered files' bytes wait until the export is committed: in memory, or once a render's
files pass SPOOL_BYTES, in an anonymous temporary file.

At 100,000 invoices a bookkeeping package's file is 150-300 MB, and Peppol's 70,000 e-invoices
some 500 MB together. Held in memory beside the documents and the workbook, they are what takes
an export past 1 GB; in a temporary file they sit in the system's file cache instead, and the
commit copies them into the export folder. So a render's files stay in memory (as `bytes`, as
always) up to SPOOL_BYTES together; past that, the file being written and every later one go to
one temporary file the render's files share (`Spooled`: a stretch of it). Whoever reads a
rendered file's bytes reads them with `pieces`, which takes either.

A spooled file is hashed as it is written (`Spooled.sha256`); its big pieces are hashed and
written by a thread (`_Background`: hashlib and pwrite release the GIL), on the core the XML check
leaves idle, while the render goes on. It is copied into the export folder by the kernel
(`write_to`: copy_file_range where there is one): its bytes are never read back into the process.
Once the commit has copied them, `discard` closes the temporary file: deleted, its pages never go
to the disk (the commit's sync of the file system would write them too).
"""

from __future__ import annotations

import errno
import hashlib
import os
import queue
import tempfile
import threading
from typing import Iterator

from toolkit.errors import UserError

SPOOL_BYTES = 8 << 20  # a render's files up to this size together stay in memory (every test, every usual export)
PIECE = 4 << 20  # bytes read back at a time
BACKGROUND = 1 << 20  # a piece this big is hashed and written by a thread
QUEUED = 4  # pieces handed to the thread and not written yet: then the render waits


class Spools:
    """What the files of one render share: the bytes they hold in memory, and their temporary
    file once they passed SPOOL_BYTES (deleted when closed, or with the process: nothing is left
    behind). The files are written one after the other, each at the end of the file."""

    def __init__(self) -> None:
        self.in_memory = 0
        self.file = None
        self.end = 0  # the temporary file's size: where the next file's bytes go
        self.background: _Background | None = None

    def put(self, data, at: int, digest=None) -> None:
        """Write `data` at `at`, the end of the temporary file (made on first use), and add it to
        `digest`: a big piece by the background thread, a small one at once, or by the thread
        while it runs (after the pieces before it: hashed and written in order; the thread is not
        stopped and started again for each small piece between big ones)."""
        if self.file is None:
            self.file = tempfile.TemporaryFile(buffering=0)  # unbuffered: written where told, at once
        if at != self.end:
            raise RuntimeError("two spooled files were written at once")
        self.end = at + len(data)
        if len(data) >= BACKGROUND or self.background is not None:
            if self.background is None:
                self.background = _Background(self.file)
            self.background.put(data, at, digest)
            return
        if digest is not None:
            digest.update(data)
        _write_at(self.file, data, at)

    def settle(self) -> None:
        """Wait for the background thread's writes; raise the OSError of one that failed."""
        if self.background is not None:
            background, self.background = self.background, None
            background.close()

    def keep(self, files: list[bytes]) -> list[bytes | Spooled]:
        """Many whole small files at once (a chunk of per-document e-invoices), each kept where
        its `Spool` would keep it: in memory while the render's bytes there fit SPOOL_BYTES, else
        in the temporary file. The ones that go there are written together, in one piece (a big
        one: by the background thread, which hashes each file's stretch of it too); the `Spooled`
        of each is returned at once, its hash known once the writes are settled (`finish`)."""
        kept: list = []
        spooled: list[Spooled] = []
        piece: list[bytes] = []
        start = self.end
        for data in files:
            if self.in_memory + len(data) <= SPOOL_BYTES:
                self.in_memory += len(data)
                kept.append(data)
                continue
            if self.file is None:
                self.file = tempfile.TemporaryFile(buffering=0)
            spooled.append(Spooled(self.file, start, len(data)))
            piece.append(data)
            start += len(data)
            kept.append(spooled[-1])
        if spooled:
            try:
                self.put(b"".join(piece), self.end, _Hashes(spooled))
            except OSError as exc:
                raise _failed(exc) from None
        return kept

    def finish(self) -> None:
        """Every file's bytes are in place and hashed (`keep`): wait for the background writes."""
        try:
            self.settle()
        except OSError as exc:
            raise _failed(exc) from None


class _Hashes:
    """The "digest" of a piece holding whole files (`Spools.keep`): each file's hash, noted on its
    `Spooled`, as the piece is hashed."""

    def __init__(self, files: list[Spooled]):
        self.files = files

    def update(self, data: bytes) -> None:
        view, first = memoryview(data), self.files[0].start
        for file in self.files:
            file.sha256 = hashlib.sha256(view[file.start - first:file.start - first + file.size]).hexdigest()


class _Background:
    """Hashes and writes big pieces of the temporary file from a thread, in the order given."""

    def __init__(self, file) -> None:
        self.file = file
        self.pieces: queue.Queue = queue.Queue(QUEUED)
        self.failure: OSError | None = None
        self.thread = threading.Thread(target=self._write, name="spool-writer", daemon=True)
        self.thread.start()

    def put(self, data, at: int, digest) -> None:
        if self.failure is not None:
            self.pieces.put(None)  # the thread ends: the render fails
            raise self.failure
        self.pieces.put((data, at, digest))

    def close(self) -> None:
        self.pieces.put(None)
        self.thread.join()
        if self.failure is not None:
            raise self.failure

    def _write(self) -> None:
        while (piece := self.pieces.get()) is not None:
            data, at, digest = piece
            if self.failure is None:  # after a failure the rest is dropped: the render fails
                try:
                    if digest is not None:
                        digest.update(data)
                    _write_at(self.file, data, at)
                except OSError as exc:
                    self.failure = exc


class Spool:
    """The bytes of one file as they are written: the encoded chunks in a list (joined once at the
    end: a buffer grown as it goes is copied at each growth, and holds up to twice its bytes), or
    in the render's temporary file once the render's bytes in memory pass SPOOL_BYTES."""

    def __init__(self, spools: Spools | None = None) -> None:
        self.spools = spools or Spools()
        self.chunks: list[bytes] | None = []
        self.start = 0  # where the file's bytes begin in the temporary file, once there
        self.size = 0
        self.digest = hashlib.sha256()  # of the bytes so far

    def write(self, data: bytes) -> None:
        shared = self.spools
        try:
            if self.chunks is None:
                shared.put(data, self.start + self.size, self.digest)
            else:
                self.chunks.append(data)
                self.digest.update(data)
                shared.in_memory += len(data)
                if shared.in_memory > SPOOL_BYTES:
                    self._move()
        except OSError as exc:
            raise _failed(exc) from None
        self.size += len(data)

    def _move(self) -> None:
        """The chunks so far (the one just written too, all hashed) to the end of the temporary file."""
        shared = self.spools
        self.start = shared.end
        shared.put(b"".join(self.chunks), self.start)
        shared.in_memory -= sum(map(len, self.chunks))
        self.chunks = None

    def _settled(self) -> None:
        """Every byte written so far is in the temporary file."""
        try:
            self.spools.settle()
        except OSError as exc:
            raise _failed(exc) from None

    def getbuffer(self) -> memoryview:
        """The bytes so far (for the XML check's child, when it starts)."""
        if self.chunks is not None:
            return memoryview(b"".join(self.chunks))
        self._settled()
        return memoryview(b"".join(pieces(Spooled(self.spools.file, self.start, self.size))))

    def value(self) -> bytes | Spooled:
        """The file's bytes: `bytes`, or `Spooled` once they went to the temporary file."""
        if self.chunks is not None:
            return b"".join(self.chunks)
        self._settled()
        return Spooled(self.spools.file, self.start, self.size, self.digest.hexdigest())


def _failed(exc: OSError) -> UserError:
    return UserError(f"An export's big files wait in a temporary file in {tempfile.gettempdir()} until they are "
                     f"written, and writing it failed ({exc}). Free some disk space there (or point TMP/TEMP "
                     f"elsewhere), then try again; nothing was written.")


class Spooled:
    """A rendered file's bytes in a render's temporary file: `size` bytes from `start`; `len` is
    their size; `sha256` their hash, when known. Read them with `pieces`, copy them with `write_to`."""

    __slots__ = ("file", "start", "size", "sha256")  # one per e-invoice: 70,000 at 100,000 invoices

    def __init__(self, file, start: int, size: int, sha256: str | None = None):
        self.file, self.start, self.size, self.sha256 = file, start, size, sha256

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"<{self.size:,} bytes in a temporary file>"


def pieces(data: bytes | Spooled) -> Iterator[bytes]:
    """A rendered file's bytes, in order: `bytes` at once, a spooled file a few MB at a time."""
    if not isinstance(data, Spooled):
        yield data
        return
    done = 0
    while done < data.size:
        piece = _read_at(data.file, min(data.size - done, PIECE), data.start + done)
        if not piece:
            raise OSError("the export's temporary file is shorter than what was written to it")
        done += len(piece)
        yield piece


def sha256(data: bytes | Spooled) -> str:
    """The SHA-256 of a rendered file's bytes (a spooled file's was taken as it was written)."""
    if isinstance(data, Spooled) and data.sha256 is not None:
        return data.sha256
    digest = hashlib.sha256()
    for piece in pieces(data):
        digest.update(piece)
    return digest.hexdigest()


# copy_file_range cannot copy between these two files (another file system, an old kernel ...)
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF, errno.EPERM, errno.ETXTBSY}


def write_to(data: bytes | Spooled, handle) -> None:
    """A rendered file's bytes into `handle` (a new file opened for writing, nothing written yet).
    A spooled file is copied by the kernel, file to file, where it can (Linux: copy_file_range):
    300 MB are not read into the process and written out again."""
    if not isinstance(data, Spooled) or not hasattr(os, "copy_file_range"):
        for piece in pieces(data):  # a big file from its temporary file, a few MB at a time
            handle.write(piece)
        return
    handle.flush()
    done = 0
    try:
        while done < data.size:
            copied = os.copy_file_range(data.file.fileno(), handle.fileno(), data.size - done, data.start + done)
            if copied == 0:
                raise OSError("the export's temporary file is shorter than what was written to it")
            done += copied
    except OSError as exc:
        if exc.errno not in _NO_KERNEL_COPY:
            raise
        rest = Spooled(data.file, data.start + done, data.size - done)
        for piece in pieces(rest):  # through the process after all, from where the kernel stopped
            view = memoryview(piece)
            while view:
                view = view[os.write(handle.fileno(), view):]


def discard(files) -> None:
    """Close the temporary files of these rendered files (bytes or Spooled) once they are copied:
    deleted, their pages are dropped instead of written to the disk. They cannot be read after."""
    for data in files:
        if isinstance(data, Spooled) and not data.file.closed:
            data.file.close()


# Positional reads and writes: a file's bytes are read while later ones are written, and an e-invoice
# export writes 70,000 small files: no seek before each (Windows has no pread/pwrite: seek there).

def _write_at(file, data, at: int) -> None:
    view = memoryview(data)
    while view:
        if hasattr(os, "pwrite"):
            written = os.pwrite(file.fileno(), view, at)
        else:
            file.seek(at)
            written = file.write(view)
        view, at = view[written:], at + written


def _read_at(file, size: int, at: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(file.fileno(), size, at)
    file.seek(at)
    return file.read(size)
