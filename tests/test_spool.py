"""A big rendered file's bytes wait in a temporary file (toolkit.spec.spool), not in memory: the
export writes the same bytes, records the same hashes and bundles the same zip either way."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from toolkit.app.export import ExportRequest, run_export
from toolkit.app.register import Register
from toolkit.spec import spool, wellformed
from toolkit.spec.spool import Spool, Spooled, Spools, pieces

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def test_files_stay_bytes_until_the_render_holds_too_much_then_share_a_temporary_file(monkeypatch):
    monkeypatch.setattr(spool, "SPOOL_BYTES", 100)
    render = Spools()
    small, big, later = Spool(render), Spool(render), Spool(render)
    small.write(b"0123456789")
    assert small.value() == b"0123456789" and bytes(small.getbuffer()) == b"0123456789"
    expected = b"".join(b"line %d\r\n" % n for n in range(1000))
    for n in range(1000):
        big.write(b"line %d\r\n" % n)
        if n == 500:  # read back while written (the XML check's child starting)
            assert bytes(big.getbuffer()) == b"".join(b"line %d\r\n" % k for k in range(501))
    later.write(b"z" * 95)  # with the small file's, more than SPOOL_BYTES in memory: to the shared file
    data, after = big.value(), later.value()
    assert small.value() == b"0123456789"  # small enough, and first
    assert isinstance(data, Spooled) and len(data) == len(expected) and isinstance(after, Spooled)
    assert b"".join(pieces(data)) == expected
    assert b"".join(pieces(after)) == b"z" * 95
    assert b"".join(pieces(data)) == expected  # read again, after another file was read
    assert list(pieces(b"abc")) == [b"abc"]


def test_two_spooled_files_written_at_once_are_refused(monkeypatch):
    monkeypatch.setattr(spool, "SPOOL_BYTES", 10)
    render = Spools()
    first, second = Spool(render), Spool(render)
    first.write(b"x" * 20)
    second.write(b"y" * 20)
    with pytest.raises(RuntimeError, match="at once"):
        first.write(b"x")


@pytest.mark.parametrize("positional", [True, False], ids=["pread-pwrite", "seek (Windows)"])
def test_many_small_files_in_the_temporary_file_read_back_in_any_order(positional, monkeypatch):
    """An e-invoice export puts thousands of small files one after the other in the temporary file
    and reads them back (hash, commit) while later ones are written; Windows has no pread/pwrite."""
    if not positional:
        monkeypatch.delattr(spool.os, "pread", raising=False)
        monkeypatch.delattr(spool.os, "pwrite", raising=False)
    monkeypatch.setattr(spool, "SPOOL_BYTES", 0)
    monkeypatch.setattr(spool, "PIECE", 7)  # several pieces a file
    render = Spools()
    files = []
    for n in range(200):
        part = Spool(render)
        for k in range(n % 5 + 1):
            part.write(b"<f%d.%d/>" % (n, k))
        files.append(part.value())
        if n % 17 == 0:  # a reader between the writes
            assert b"".join(pieces(files[n // 2])) == b"".join(b"<f%d.%d/>" % (n // 2, k) for k in range(n // 2 % 5 + 1))
    assert all(isinstance(f, Spooled) for f in files)
    for n in reversed(range(200)):
        assert b"".join(pieces(files[n])) == b"".join(b"<f%d.%d/>" % (n, k) for k in range(n % 5 + 1))


def test_a_temporary_file_that_cannot_be_written_is_a_clear_error(monkeypatch):
    def full(**options):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool, "SPOOL_BYTES", 10)
    monkeypatch.setattr(spool.tempfile, "TemporaryFile", full)
    with pytest.raises(spool.UserError, match="temporary file.*No space left on device.*nothing was written"):
        Spool().write(b"x" * 11)


@pytest.mark.parametrize("package", ["winbooks", "exact-globe", "peppol-bis3"])
def test_spooled_files_are_the_golden_bytes_with_their_hashes_and_zip(demo, tmp_path, monkeypatch, package):
    monkeypatch.setattr(spool, "SPOOL_BYTES", 1000)  # every file of the demo goes to the temporary file
    monkeypatch.setattr(spool, "BACKGROUND", 500)  # its pieces hashed and written by the thread, most of them
    monkeypatch.setattr(wellformed, "IN_PROCESS", 2000)  # the XML's check starts after it moved to the file
    result = run_export(ExportRequest(demo, package, out_dir=tmp_path / "out", zip=True))
    assert result.status == "written", result.message
    golden = SAMPLES / "golden" / package
    names = sorted(p.name for p in golden.iterdir())
    [entry] = Register(tmp_path / "out").entries()
    bundle = result.folder / f"{entry['id']}.zip"
    with zipfile.ZipFile(bundle) as z:
        assert sorted(z.namelist()) == names
        for name in names:
            data = (result.folder / name).read_bytes()
            assert data == (golden / name).read_bytes(), name
            assert entry["files"][name] == hashlib.sha256(data).hexdigest()
            assert z.read(name) == data


def spooled_file(content: bytes, monkeypatch) -> Spooled:
    monkeypatch.setattr(spool, "SPOOL_BYTES", 10)
    monkeypatch.setattr(spool, "BACKGROUND", 1000)  # the file's pieces by the thread, the earlier file's at once
    render = Spools()
    Spool(render).write(b"an earlier file")  # the file starts past the temporary file's start
    part = Spool(render)
    for k in range(0, len(content), 1000):
        part.write(content[k:k + 1000])
    data = part.value()
    assert isinstance(data, Spooled) and data.start > 0
    return data


CONTENT = b"".join(b"<line n='%d'/>\r\n" % n for n in range(20_000))


@pytest.mark.parametrize("kernel", ["copy_file_range", "stops half way (EXDEV)", "none (Windows)"])
def test_a_spooled_file_is_copied_whole_and_hashed_as_written(kernel, tmp_path, monkeypatch):
    data = spooled_file(CONTENT, monkeypatch)
    assert data.sha256 == spool.sha256(data) == hashlib.sha256(CONTENT).hexdigest()
    if kernel == "none (Windows)":
        monkeypatch.delattr(spool.os, "copy_file_range", raising=False)
    elif kernel.startswith("stops"):
        real, calls = spool.os.copy_file_range, []

        def half(src, dst, count, offset_src=None):
            calls.append(count)
            if len(calls) > 1:
                raise OSError(spool.errno.EXDEV, "Invalid cross-device link")
            return real(src, dst, 1234, offset_src)
        monkeypatch.setattr(spool.os, "copy_file_range", half, raising=False)
    with open(tmp_path / "out.xml", "xb") as handle:
        spool.write_to(data, handle)
    assert (tmp_path / "out.xml").read_bytes() == CONTENT
    assert spool.sha256(b"abc") == hashlib.sha256(b"abc").hexdigest()


def test_the_commit_discards_the_temporary_file_before_the_sync(tmp_path, monkeypatch):
    """Once copied, the temporary file is closed (deleted): the sync of the file system does not
    write its pages to the disk too."""
    from toolkit.app import transaction
    data = spooled_file(CONTENT, monkeypatch)
    closed_at_sync = []
    sync = transaction._sync_files
    monkeypatch.setattr(transaction, "_sync_files", lambda folder, names: closed_at_sync.append(data.file.closed) or sync(folder, names))
    folder = transaction.commit(tmp_path, [("big.xml", data), ("small.txt", b"abc")], {"id": "E1", "files": {}})
    assert closed_at_sync == [True]
    assert (folder / "big.xml").read_bytes() == CONTENT and (folder / "small.txt").read_bytes() == b"abc"


def test_big_pieces_are_written_by_a_thread_in_order_and_read_back_after_it(monkeypatch):
    """Pieces of BACKGROUND bytes and more are hashed and written by a thread while the render goes
    on; smaller ones wait for them (hashed in order); reading the bytes back waits too."""
    monkeypatch.setattr(spool, "SPOOL_BYTES", 10)
    monkeypatch.setattr(spool, "BACKGROUND", 100)
    render = Spools()
    part = Spool(render)
    pieces_ = [bytes([65 + n % 26]) * (n * 37 % 300 + 1) for n in range(300)]  # big and small, mixed
    for n, piece in enumerate(pieces_):
        part.write(piece)
        if n == 150:
            assert bytes(part.getbuffer()) == b"".join(pieces_[:151])
    data = part.value()
    assert b"".join(pieces(data)) == b"".join(pieces_) and data.sha256 == hashlib.sha256(b"".join(pieces_)).hexdigest()
    assert render.background is None  # settled


@pytest.mark.parametrize("at", ["write", "value"])
def test_a_background_write_that_fails_is_the_clear_error(monkeypatch, at):
    monkeypatch.setattr(spool, "SPOOL_BYTES", 10)
    monkeypatch.setattr(spool, "BACKGROUND", 100)
    write_at = spool._write_at

    def full(file, data, offset):
        if len(data) >= 100:
            raise OSError(28, "No space left on device")
        write_at(file, data, offset)
    monkeypatch.setattr(spool, "_write_at", full)
    part = Spool()
    part.write(b"x" * 20)  # moved to the file at once (small)
    with pytest.raises(spool.UserError, match="temporary file.*No space left on device.*nothing was written"):
        part.write(b"y" * 200)  # handed to the thread
        if at == "write":  # the next big piece, once the thread has failed
            while part.spools.background.failure is None:
                part.spools.background.thread.join(0.01)
            part.write(b"z" * 200)
        else:
            part.value()
