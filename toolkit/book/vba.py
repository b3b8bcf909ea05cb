"""A vbaProject.bin from VBA source text (MS-OVBA in an MS-CFB container), stdlib only.

Why our own writer and not pyOpenVBA: this one follows the layout Office itself documents for
non-Office writers and that LibreOffice's exporter uses (source-only modules at offset 0,
`_VBA_PROJECT` Version 0xFFFF so Office recompiles from source), it is deterministic for a fixed
project id, and it has no template, cache or dependency to track. pyOpenVBA stays in the tests as
an independent reader (see tests/test_xlsm.py) and is the documented fallback writer.

References: [MS-OVBA] 2.3 (streams), 2.4.1 (compression), 2.4.3 (data encryption); [MS-CFB].
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

CODEPAGE = 1252
ENCODING = "cp1252"
LCID = 0x0409
PROJECT_NAME = "VBAProject"
# Fixed so that two builds give the same bytes; Office only needs it to be a GUID.
PROJECT_ID = "{5E1D9C3A-7B2F-4C1E-9A6D-3F8B2C4E1A70}"
_SEED = 0x5A  # the "random" seed of the CMG/DPB/GC encryption, fixed for the same reason

# Base class ids of document modules (workbook, worksheet).
WORKBOOK_BASE = "0{00020819-0000-0000-C000-000000000046}"
WORKSHEET_BASE = "0{00020820-0000-0000-C000-000000000046}"

REFERENCES = (
    ("stdole", "*\\G{00020430-0000-0000-C000-000000000046}#2.0#0#"
     "C:\\Windows\\System32\\stdole2.tlb#OLE Automation"),
    # The Office library declares IRibbonControl, used by every ribbon callback.
    ("Office", "*\\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0#"
     "C:\\Program Files\\Common Files\\Microsoft Shared\\OFFICE16\\MSO.DLL#"
     "Microsoft Office 16.0 Object Library"),
)


@dataclass(frozen=True)
class Module:
    name: str
    source: str  # for standard modules: the .bas text incl. its `Attribute VB_Name` line
    kind: str = "standard"  # standard | document

    @property
    def stream_source(self) -> bytes:
        """The text stored in the module stream, CRLF line ends, project code page."""
        text = self.source.replace("\r\n", "\n").replace("\r", "\n")
        if self.kind == "document":
            text = document_header(self.name, self._base) + text
        return text.replace("\n", "\r\n").encode(ENCODING)

    @property
    def _base(self) -> str:
        return WORKBOOK_BASE if self.name == "ThisWorkbook" else WORKSHEET_BASE


def document_header(name: str, base: str) -> str:
    """The attribute lines Office stores at the top of a workbook / worksheet module."""
    return "".join(f"Attribute {k} = {v}\n" for k, v in (
        ("VB_Name", f'"{name}"'), ("VB_Base", f'"{base}"'), ("VB_GlobalNameSpace", "False"),
        ("VB_Creatable", "False"), ("VB_PredeclaredId", "True"), ("VB_Exposed", "True"),
        ("VB_TemplateDerived", "False"), ("VB_Customizable", "True")))


def standard_module(source: str) -> Module:
    """A standard module from .bas text; its name comes from the `Attribute VB_Name` line."""
    first = source.lstrip("\ufeff").splitlines()[0] if source.strip() else ""
    prefix = 'Attribute VB_Name = "'
    if not first.startswith(prefix):
        raise ValueError(f"a .bas module must start with {prefix}...\": {first[:60]!r}")
    return Module(first[len(prefix):].rstrip().rstrip('"'), source.lstrip("\ufeff"))


# ---- MS-OVBA 2.4.1 compression ------------------------------------------------------------------

CHUNK = 4096


def _copy_token_params(difference: int) -> tuple[int, int]:
    """(bit count of the offset, maximum match length) at this position in the chunk."""
    bit_count = max((difference - 1).bit_length(), 4)
    return bit_count, (0xFFFF >> bit_count) + 3


def _compress_chunk(data: bytes) -> bytes:
    out = bytearray()
    heads: dict[bytes, list[int]] = {}  # 3-byte prefix -> earlier positions in the chunk
    pos, end = 0, len(data)
    while pos < end:
        flag_at = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if pos >= end:
                break
            best_len = best_off = 0
            if pos > 0 and pos + 3 <= end:
                bit_count, max_len = _copy_token_params(pos)
                limit = min(max_len, end - pos)
                for start in reversed(heads.get(data[pos:pos + 3], ())):
                    length = 3
                    while length < limit and data[start + length] == data[pos + length]:
                        length += 1
                    if length > best_len:
                        best_len, best_off = length, pos - start
                        if length == limit:
                            break
            if best_len >= 3:
                token = ((best_off - 1) << (16 - bit_count)) | (best_len - 3)
                out += struct.pack("<H", token)
                flags |= 1 << bit
                step = best_len
            else:
                out.append(data[pos])
                step = 1
            for p in range(pos, min(pos + step, end - 2)):
                heads.setdefault(data[p:p + 3], []).append(p)
            pos += step
        out[flag_at] = flags
    return bytes(out)


def compress(data: bytes) -> bytes:
    """MS-OVBA CompressedContainer of `data`."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), CHUNK):
        chunk = data[start:start + CHUNK]
        packed = _compress_chunk(chunk)
        if len(packed) <= CHUNK:
            out += struct.pack("<H", 0xB000 | (len(packed) + 2 - 3)) + packed
        elif len(chunk) == CHUNK:  # incompressible: stored raw (flag 0)
            out += struct.pack("<H", 0x3000 | (CHUNK + 2 - 3)) + chunk
        else:  # a raw chunk must hold 4096 bytes; never happens with source text
            raise ValueError("incompressible partial chunk")
    return bytes(out)


def decompress(data: bytes) -> bytes:
    """Inverse of `compress` (used by the tests and to read existing projects)."""
    if not data or data[0] != 1:
        raise ValueError("not an MS-OVBA compressed container")
    out = bytearray()
    pos = 1
    while pos < len(data):
        header = struct.unpack_from("<H", data, pos)[0]
        size, compressed = (header & 0x0FFF) + 3, header & 0x8000
        body = data[pos + 2:pos + size]
        pos += size
        chunk_start = len(out)
        if not compressed:
            out += body
            continue
        i = 0
        while i < len(body):
            flags = body[i]
            i += 1
            for bit in range(8):
                if i >= len(body):
                    break
                if flags & (1 << bit):
                    token = struct.unpack_from("<H", body, i)[0]
                    i += 2
                    bit_count, _ = _copy_token_params(len(out) - chunk_start)
                    offset = (token >> (16 - bit_count)) + 1
                    length = (token & (0xFFFF >> bit_count)) + 3
                    for _ in range(length):
                        out.append(out[-offset])
                else:
                    out.append(body[i])
                    i += 1
    return bytes(out)


# ---- reading a project ---------------------------------------------------------------------------


def read_modules(project_bin: bytes) -> list[Module]:
    """The modules of an existing vbaProject.bin, with their source (`kind`: standard, or
    "document" for every other kind: workbook, sheet and class modules, forms), so that an
    upgrade can name the code it does not carry. olefile reads the container; the `VBA/dir`
    stream says where each module's compressed source starts in its stream ([MS-OVBA] 2.3.4.2)."""
    import olefile

    with olefile.OleFileIO(project_bin) as ole:
        modules = []
        for name, stream, offset, kind in _dir_modules(decompress(ole.openstream(["VBA", "dir"]).read())):
            data = ole.openstream(["VBA", stream]).read()
            modules.append(Module(name, decompress(data[offset:]).decode(ENCODING, "replace"), kind))
        return modules


def _dir_modules(data: bytes):
    """(name, stream name, source offset, kind) of each module record of an uncompressed dir stream."""
    pos, module = 0, {}
    while pos + 6 <= len(data):
        ident, size = struct.unpack_from("<HI", data, pos)
        if ident == 0x0009:  # PROJECTVERSION: its size field is a reserved 4, its payload 6 bytes
            size = 6
        payload = data[pos + 6:pos + 6 + size]
        pos += 6 + size
        if ident == 0x0019:
            module = {"name": payload.decode(ENCODING, "replace"), "kind": "standard", "offset": 0}
            module["stream"] = module["name"]
        elif ident == 0x001A:
            module["stream"] = payload.decode(ENCODING, "replace")
        elif ident == 0x0031:
            module["offset"] = struct.unpack("<I", payload)[0]
        elif ident == 0x0022:
            module["kind"] = "document"
        elif ident == 0x002B and module:
            yield module["name"], module["stream"], module["offset"], module["kind"]
            module = {}
        elif ident == 0x0010:
            return


# ---- MS-OVBA streams ----------------------------------------------------------------------------


def _rec(ident: int, payload: bytes) -> bytes:
    return struct.pack("<HI", ident, len(payload)) + payload


def _text_pair(ident: int, unicode_ident: int, text: str) -> bytes:
    """A record with an MBCS string followed by its UTF-16 twin (Reserved id in between)."""
    return _rec(ident, text.encode(ENCODING)) + _rec(unicode_ident, text.encode("utf-16-le"))


def dir_stream(modules: list[Module]) -> bytes:
    """The uncompressed `VBA/dir` stream ([MS-OVBA] 2.3.4.2)."""
    out = bytearray()
    out += _rec(0x0001, struct.pack("<I", 3))  # SYSKIND 64-bit Windows, as Office 365 writes
    out += _rec(0x0002, struct.pack("<I", LCID))
    out += _rec(0x0014, struct.pack("<I", LCID))  # LCIDINVOKE
    out += _rec(0x0003, struct.pack("<H", CODEPAGE))
    out += _rec(0x0004, PROJECT_NAME.encode(ENCODING))
    out += _text_pair(0x0005, 0x0040, "")  # DOCSTRING
    out += _text_pair(0x0006, 0x003D, "")  # HELPFILEPATH (both halves are MBCS, empty here)
    out += _rec(0x0007, struct.pack("<I", 0))  # HELPCONTEXT
    out += _rec(0x0008, struct.pack("<I", 0))  # LIBFLAGS
    out += struct.pack("<HIIH", 0x0009, 4, 1, 0)  # VERSION: Reserved=4, major, minor (6 bytes)
    out += _text_pair(0x000C, 0x003C, "")  # CONSTANTS
    for name, libid in REFERENCES:
        out += _text_pair(0x0016, 0x003E, name)
        lib = libid.encode(ENCODING)
        out += _rec(0x000D, struct.pack("<I", len(lib)) + lib + struct.pack("<IH", 0, 0))
    out += _rec(0x000F, struct.pack("<H", len(modules)))
    out += _rec(0x0013, struct.pack("<H", 0xFFFF))  # PROJECTCOOKIE
    for m in modules:
        out += _rec(0x0019, m.name.encode(ENCODING))
        out += _rec(0x0047, m.name.encode("utf-16-le"))
        out += _text_pair(0x001A, 0x0032, m.name)  # STREAMNAME
        out += _text_pair(0x001C, 0x0048, "")  # DOCSTRING
        out += _rec(0x0031, struct.pack("<I", 0))  # OFFSET: source only, no p-code
        out += _rec(0x001E, struct.pack("<I", 0))  # HELPCONTEXT
        out += _rec(0x002C, struct.pack("<H", 0xFFFF))  # COOKIE
        out += _rec(0x0021 if m.kind == "standard" else 0x0022, b"")  # TYPE
        out += _rec(0x002B, b"")  # module terminator
    out += _rec(0x0010, b"")  # dir terminator
    return bytes(out)


def encrypt(data: bytes, project_id: str = PROJECT_ID, seed: int = _SEED) -> str:
    """[MS-OVBA] 2.4.3.2 data encryption of the PROJECT stream's CMG / DPB / GC values."""
    key = sum(project_id.encode(ENCODING)) & 0xFF
    version_enc, key_enc = seed ^ 2, seed ^ key
    out = bytearray((seed, version_enc, key_enc))
    plain_prev, enc1, enc2 = key, key_enc, version_enc
    ignored = bytes((seed & 6) // 2)  # "any value" bytes: zeros, to stay deterministic
    for byte in ignored + struct.pack("<I", len(data)) + data:
        byte_enc = byte ^ ((enc2 + plain_prev) & 0xFF)
        out.append(byte_enc)
        enc2, enc1, plain_prev = enc1, byte_enc, byte
    return out.hex().upper()


def decrypt(hex_text: str) -> tuple[int, bytes]:
    """Inverse of `encrypt`: (project key, data). Used by the tests."""
    raw = bytes.fromhex(hex_text)
    seed, version_enc, key_enc = raw[0], raw[1], raw[2]
    if seed ^ version_enc != 2:
        raise ValueError("unknown encryption version")
    key = seed ^ key_enc
    plain_prev, enc1, enc2 = key, key_enc, version_enc
    plain = bytearray()
    for byte_enc in raw[3:]:
        byte = byte_enc ^ ((enc2 + plain_prev) & 0xFF)
        plain.append(byte)
        enc2, enc1, plain_prev = enc1, byte_enc, byte
    ignored = (seed & 6) // 2
    length = struct.unpack_from("<I", plain, ignored)[0]
    return key, bytes(plain[ignored + 4:ignored + 4 + length])


def project_stream(modules: list[Module]) -> bytes:
    """The `PROJECT` stream: project properties as text ([MS-OVBA] 2.3.1)."""
    lines = [f'ID="{PROJECT_ID}"']
    for m in modules:
        lines.append(f"Document={m.name}/&H00000000" if m.kind == "document" else f"Module={m.name}")
    lines += [
        f'Name="{PROJECT_NAME}"',
        'HelpContextID="0"',
        'VersionCompatible32="393222000"',
        'CMG="%s"' % encrypt(bytes(4)),  # not protected
        'DPB="%s"' % encrypt(bytes(1)),  # no password
        'GC="%s"' % encrypt(bytes([0xFF])),  # visible
        "",
        "[Host Extender Info]",
        "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000",
        "",
        "[Workspace]",
    ]
    lines += [f"{m.name}=0, 0, 0, 0, C" for m in modules]
    return ("\r\n".join(lines) + "\r\n").encode(ENCODING)


def projectwm_stream(modules: list[Module]) -> bytes:
    """`PROJECTwm`: each module name in MBCS and UTF-16 ([MS-OVBA] 2.3.3)."""
    out = bytearray()
    for m in modules:
        out += m.name.encode(ENCODING) + b"\x00" + m.name.encode("utf-16-le") + b"\x00\x00"
    return bytes(out + b"\x00\x00")


# _VBA_PROJECT: Reserved1 0x61CC, Version 0xFFFF ("not Office": cache ignored), Reserved2, Reserved3.
VBA_PROJECT_STREAM = bytes.fromhex("CC61FFFF000300")


def vba_project_bin(modules: list[Module]) -> bytes:
    """The bytes of xl/vbaProject.bin holding `modules` (document modules first, as Office does)."""
    names = [m.name for m in modules]
    if len(set(n.upper() for n in names)) != len(names):
        raise ValueError(f"duplicate module names: {names}")
    streams = {
        ("VBA", "_VBA_PROJECT"): VBA_PROJECT_STREAM,
        ("VBA", "dir"): compress(dir_stream(modules)),
        ("PROJECT",): project_stream(modules),
        ("PROJECTwm",): projectwm_stream(modules),
    }
    for m in modules:
        streams[("VBA", m.name)] = compress(m.stream_source)
    return cfb(streams)


# ---- MS-CFB v3 writer ---------------------------------------------------------------------------

SECTOR = 512
MINI_SECTOR = 64
MINI_CUTOFF = 4096
FREESECT, ENDOFCHAIN, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
_STORAGE, _STREAM, _ROOT = 1, 2, 5
_RED, _BLACK = 0, 1


@dataclass
class _Entry:
    name: str
    kind: int
    data: bytes = b""
    children: list | None = None
    start: int = ENDOFCHAIN
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    color: int = _BLACK

    def pack(self) -> bytes:
        if self.kind == 0:  # unused slot
            return bytes(68) + struct.pack("<III", NOSTREAM, NOSTREAM, NOSTREAM) + bytes(48)
        name = self.name.encode("utf-16-le") + b"\x00\x00"
        size = len(self.data) if self.kind != _STORAGE else 0
        start = self.start if self.kind != _STORAGE else 0
        return (name.ljust(64, b"\x00") + struct.pack("<HBBIII", len(name), self.kind, self.color,
                self.left, self.right, self.child) + bytes(16 + 4 + 8 + 8)
                + struct.pack("<IQ", start, size))


def _cfb_key(name: str) -> tuple[int, str]:
    """[MS-CFB] 2.6.4 sibling order: shorter names first, then by upper-case name."""
    return len(name.encode("utf-16-le")), name.upper()


def _chain(fat: list[int], first: int, count: int) -> None:
    for i in range(count):
        fat[first + i] = first + i + 1 if i < count - 1 else ENDOFCHAIN


def cfb(streams: dict[tuple[str, ...], bytes]) -> bytes:
    """A compound file holding `streams` (path tuple -> bytes), one level of storages deep."""
    root = _Entry("Root Entry", _ROOT, children=[])
    storages: dict[str, _Entry] = {}
    for path, data in streams.items():
        parent = root
        for part in path[:-1]:
            if part not in storages:
                storages[part] = _Entry(part, _STORAGE, children=[])
                root.children.append(storages[part])
            parent = storages[part]
        parent.children.append(_Entry(path[-1], _STREAM, data))

    # Directory order: root, then breadth first; each storage's children form a balanced
    # binary search tree (a valid red-black tree: the deepest level red when not full).
    entries = [root]
    queue = [root]
    while queue:
        node = queue.pop(0)
        kids = sorted(node.children or [], key=lambda e: _cfb_key(e.name))
        base = len(entries)
        entries += kids
        depth_max = len(kids).bit_length() - 1

        def build(lo: int, hi: int, depth: int) -> int:
            if lo >= hi:
                return NOSTREAM
            mid = (lo + hi) // 2
            kid = kids[mid]
            kid.color = _RED if depth == depth_max and depth > 0 else _BLACK
            kid.left, kid.right = build(lo, mid, depth + 1), build(mid + 1, hi, depth + 1)
            return base + mid

        node.child = build(0, len(kids), 0)
        queue += [k for k in kids if k.kind == _STORAGE]

    # Mini stream: small streams in 64-byte mini sectors, held by the root entry.
    mini_fat: list[int] = []
    mini_stream = bytearray()
    for e in entries:
        if e.kind == _STREAM and len(e.data) < MINI_CUTOFF:
            count = -(-len(e.data) // MINI_SECTOR)
            if count == 0:
                e.start = ENDOFCHAIN
                continue
            e.start = len(mini_fat)
            mini_fat += [0] * count
            _chain(mini_fat, e.start, count)
            mini_stream += e.data.ljust(count * MINI_SECTOR, b"\x00")
    root.data = bytes(mini_stream)

    # Regular sectors: big streams, the mini stream, the mini FAT, the directory, the FAT.
    sectors = bytearray()
    fat: list[int] = []

    def place(data: bytes) -> int:
        count = -(-len(data) // SECTOR)
        if count == 0:
            return ENDOFCHAIN
        first = len(fat)
        fat.extend([0] * count)
        _chain(fat, first, count)
        sectors.extend(data.ljust(count * SECTOR, b"\x00"))
        return first

    for e in entries:
        if e.kind == _STREAM and len(e.data) >= MINI_CUTOFF:
            e.start = place(e.data)
    root.start = place(root.data)
    mini_fat_bytes = struct.pack(f"<{len(mini_fat)}I", *mini_fat)
    mini_fat_start = place(mini_fat_bytes.ljust(-(-len(mini_fat_bytes) // SECTOR) * SECTOR, b"\xff"))
    directory = b"".join(e.pack() for e in entries)
    empty = _Entry("", 0).pack()
    directory += empty * (-len(entries) % (SECTOR // 128))
    dir_start = place(directory)

    n_fat = 1
    while (len(fat) + n_fat) > n_fat * (SECTOR // 4):
        n_fat += 1
    if n_fat > 109:
        raise ValueError("project too large for a FAT without DIFAT sectors")
    fat_start = len(fat)
    fat += [FATSECT] * n_fat
    fat += [FREESECT] * (n_fat * (SECTOR // 4) - len(fat))
    sectors += struct.pack(f"<{len(fat)}I", *fat)

    header = bytearray()
    header += bytes.fromhex("D0CF11E0A1B11AE1") + bytes(16)
    header += struct.pack("<HHHHH", 0x003E, 0x0003, 0xFFFE, 9, 6) + bytes(6)
    header += struct.pack("<IIIIIIIII", 0, n_fat, dir_start, 0, MINI_CUTOFF,
                          mini_fat_start if mini_fat else ENDOFCHAIN,
                          -(-len(mini_fat_bytes) // SECTOR), ENDOFCHAIN, 0)
    difat = [fat_start + i for i in range(n_fat)] + [FREESECT] * (109 - n_fat)
    header += struct.pack("<109I", *difat)
    assert len(header) == SECTOR
    return bytes(header + sectors)
