"""Sample suspect videos for the local DoveRunner: container-shaped files carrying a simulated forensic mark.

They are ISO BMFF (MP4, MOV) or Matroska (MKV) files: a real file-type header, the marker in a box or element that
players skip (`free` box, Void element), then the payload. The local DoveRunner reads the marker as the watermark
a real detection would find (see content.py).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

_BRANDS = {"mp4": b"isom", "mov": b"qt  "}
_CHUNK = 1 << 20


def marker(*, mark: str | None = None, fail: str | None = None) -> bytes:
    if mark and fail:
        raise ValueError("a sample carries a forensic mark or a failure code, not both")
    if mark:
        return f"DRSIM:MARK={mark};".encode("ascii")
    if fail:
        return f"DRSIM:FAIL={fail};".encode("ascii")
    return b""


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _ebml_size(n: int) -> bytes:
    # 8-byte EBML size: marker bit 0x01 followed by 7 bytes of length.
    return bytes([0x01]) + n.to_bytes(7, "big")


def header(kind: str, tag: bytes) -> bytes:
    """The bytes before the payload: the container header with the marker in a skipped region."""
    if kind in _BRANDS:
        brand = _BRANDS[kind]
        return _box(b"ftyp", brand + struct.pack(">I", 0x200) + brand + b"mp41") + _box(b"free", tag)
    if kind == "mkv":
        doctype = b"\x42\x82" + bytes([0x80 | 8]) + b"matroska"
        ebml = b"\x1a\x45\xdf\xa3" + _ebml_size(len(doctype)) + doctype
        return ebml + b"\xec" + _ebml_size(len(tag)) + tag
    raise ValueError(f"unsupported sample kind {kind!r}: use mp4, mov or mkv")


def write_sample(out: BinaryIO, kind: str, size: int, *, mark: str | None = None, fail: str | None = None) -> int:
    """Writes a sample of about `size` bytes (at least its header) to `out`, in 1 MiB chunks; the bytes written."""
    head = header(kind, marker(mark=mark, fail=fail))
    out.write(head)
    written = len(head)
    body = max(0, size - written - 8)
    if kind in _BRANDS:
        out.write(struct.pack(">I", 1) + b"mdat" + struct.pack(">Q", 16 + body))
        written += 16
    else:
        out.write(b"\x18\x53\x80\x67" + _ebml_size(body))  # Segment
        written += 12
    pattern = bytes(range(256)) * (_CHUNK // 256)
    while body > 0:
        piece = pattern[: min(body, _CHUNK)]
        out.write(piece)
        written += len(piece)
        body -= len(piece)
    return written


def make_sample(path: Path | str, size: int = 256 * 1024, *, mark: str | None = None, fail: str | None = None) -> Path:
    """A sample file at `path`; the container follows its extension (.mp4, .mov, .mkv)."""
    target = Path(path)
    kind = target.suffix.lower().lstrip(".")
    with target.open("wb") as out:
        write_sample(out, kind, size, mark=mark, fail=fail)
    return target
