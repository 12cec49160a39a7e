"""Hand-built ISO BMFF (MP4/MOV) bytes and a sparse reader over them, for the container reader's tests and the
pre-flight tests of the unit tier (no FFmpeg, no files)."""

from __future__ import annotations

import struct

from antipiracy.domain.media import MediaInfo, probe

# ---- a reader over a file made of parts, zeros elsewhere (so a file can be gigabytes) --------------------------


class Sparse:
    """A Reader over `size` bytes: `parts` (offset -> bytes), zeros elsewhere; counts what it is asked."""

    def __init__(self, parts: dict[int, bytes], size: int | None = None) -> None:
        self.parts = parts
        self.size = size if size is not None else max(at + len(data) for at, data in parts.items())
        self.asked = 0
        self.calls = 0

    def __call__(self, offset: int, length: int) -> bytes:
        self.asked += length
        self.calls += 1
        length = max(0, min(length, self.size - offset))
        out = bytearray(length)
        for at, data in self.parts.items():
            lo, hi = max(at, offset), min(at + len(data), offset + length)
            if lo < hi:
                out[lo - offset : hi - offset] = data[lo - at : hi - at]
        return bytes(out)

    def probe(self, budget: int | None = None) -> MediaInfo:
        return probe(self, self.size, budget=budget)


def over(data: bytes) -> Sparse:
    return Sparse({0: data})


# ---- ISO BMFF builders -----------------------------------------------------------------------------------------


def box(kind: str, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind.encode("latin-1")) + body


def full(kind: str, version: int, *payload: bytes, flags: int = 0) -> bytes:
    return box(kind, bytes([version]) + flags.to_bytes(3, "big"), *payload)


def ftyp(brand: bytes = b"isom") -> bytes:
    return box("ftyp", brand, b"\x00\x00\x02\x00", brand, b"mp41")


def mvhd(timescale: int = 1000, duration: int = 360_000, version: int = 0) -> bytes:
    if version == 1:
        fields = struct.pack(">QQIQ", 0, 0, timescale, duration)
    else:
        fields = struct.pack(">IIII", 0, 0, timescale, duration)
    return full("mvhd", version, fields, bytes(80))


def tkhd(width: int, height: int, track_id: int = 1) -> bytes:
    fields = struct.pack(">IIIII", 0, 0, track_id, 0, 0) + bytes(8) + bytes(8) + bytes(36)
    return full("tkhd", 0, fields, struct.pack(">II", width << 16, height << 16))


def mdhd(timescale: int = 12800, duration: int = 0) -> bytes:
    return full("mdhd", 0, struct.pack(">IIII", 0, 0, timescale, duration), bytes(4))


def hdlr(handler: bytes = b"vide") -> bytes:
    return full("hdlr", 0, bytes(4), handler, bytes(12), b"VideoHandler\x00")


def visual_entry(fourcc: bytes, width: int, height: int) -> bytes:
    fields = bytes(6) + b"\x00\x01" + bytes(16) + struct.pack(">HH", width, height) + bytes(50)
    return box(fourcc.decode("latin-1"), fields, box("avcC", b"\x01" * 12))


def stsd(entry: bytes, count: int = 1) -> bytes:
    return full("stsd", 0, struct.pack(">I", count), entry)


def trak(
    fourcc: bytes = b"avc1",
    size: tuple[int, int] = (1280, 720),
    *,
    entry_size: tuple[int, int] | None = None,
    handler: bytes = b"vide",
    track_id: int = 1,
    media: tuple[int, int] = (12800, 0),
) -> bytes:
    width, height = entry_size or size
    tables = box(
        "stbl", stsd(visual_entry(fourcc, width, height)), full("stts", 0, bytes(4)), full("stsz", 0, bytes(8))
    )
    return box(
        "trak",
        tkhd(*size, track_id=track_id),
        box("mdia", mdhd(*media), hdlr(handler), box("minf", full("vmhd", 0, bytes(8)), tables)),
    )


def moov(*children: bytes) -> bytes:
    return box("moov", *children)


def mp4(*boxes: bytes) -> bytes:
    return b"".join(boxes)


def mdat_header(size: int) -> bytes:
    """The header of an mdat of `size` bytes in all: 32-bit when it fits, else a 64-bit largesize."""
    if size < 1 << 32:
        return struct.pack(">I4s", size, b"mdat")
    return struct.pack(">I4sQ", 1, b"mdat", size)


def moov_last(moov_box: bytes, mdat_size: int) -> Sparse:
    """ftyp, an mdat of `mdat_size` bytes (zeros, never stored), then moov."""
    head = ftyp()
    return Sparse({0: head + mdat_header(mdat_size), len(head) + mdat_size: moov_box})
