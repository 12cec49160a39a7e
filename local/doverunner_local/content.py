"""How the local DoveRunner reads a video: streamed, in constant memory, deciding the outcome from its bytes.

A file carries its forensic mark as an ASCII marker anywhere in its bytes (the sample generator writes it in a
`free` box of an MP4/MOV or a Void element of an MKV):

    DRSIM:MARK=<hex payload>;   the watermark of the session with that forensic mark is found
    DRSIM:FAIL=<D-code>;        detection fails with that code (D000..D013)

No marker: the detection completes with no watermark. Bytes that are no video container (ISO BMFF, Matroska or
MPEG-TS): D011, the media specification cannot be read.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MARKER = re.compile(rb"DRSIM:(MARK|FAIL)=([0-9A-Za-z]{1,64});")
_CARRY = 80  # longer than any marker, so one split across two chunks is still found
_ISO_BMFF_BOXES = (b"ftyp", b"moov", b"free", b"mdat", b"wide", b"skip", b"styp", b"moof")
MATROSKA_MAGIC = b"\x1a\x45\xdf\xa3"


def container_of(head: bytes) -> str | None:
    """The container a file's first bytes announce: mp4 (also MOV), mkv or ts; None for anything else."""
    if len(head) >= 8 and head[4:8] in _ISO_BMFF_BOXES:
        return "mp4"
    if head.startswith(MATROSKA_MAGIC):
        return "mkv"
    if head[:1] == b"\x47" and (len(head) < 189 or head[188:189] == b"\x47"):
        return "ts"
    return None


@dataclass(frozen=True)
class Inspection:
    size: int
    sha256: str
    container: str | None
    marker_kind: str | None  # "MARK" or "FAIL"
    marker_value: str | None


class ContentInspector:
    """Fed chunk by chunk; keeps only the first bytes and a short carry-over, whatever the size."""

    def __init__(self) -> None:
        self._head = b""
        self._tail = b""
        self._size = 0
        self._hash = hashlib.sha256()
        self._marker: tuple[str, str] | None = None

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._size += len(chunk)
        self._hash.update(chunk)
        if len(self._head) < 512:
            self._head += chunk[: 512 - len(self._head)]
        if self._marker is None:
            window = self._tail + chunk
            found = MARKER.search(window)
            if found:
                self._marker = (found.group(1).decode(), found.group(2).decode())
            self._tail = window[-_CARRY:]

    def result(self) -> Inspection:
        kind, value = self._marker if self._marker else (None, None)
        return Inspection(self._size, self._hash.hexdigest(), container_of(self._head), kind, value)
