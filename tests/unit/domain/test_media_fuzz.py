"""Fuzzing the container reader (domain/media.py): whatever the bytes, probe returns or raises NotAVideo/Unreadable,
never anything else, and never reads more than its budget plus the moov box (plus a few headers).

The files are small but claim to be large (a gigabyte: zeros past the bytes given), so a hostile size is followed
into gigabytes the reader must not read."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antipiracy.domain.media import MOOV_READ_WHOLE, MediaInfo, NotAVideo, Unreadable, probe

# ---- seeds: valid headers, built here (compact: the readable builders are in test_media.py) -------------------


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full(kind: bytes, *payload: bytes, version: int = 0, flags: int = 0) -> bytes:
    return box(kind, bytes([version]) + flags.to_bytes(3, "big"), *payload)


def trak(fourcc: bytes = b"avc1", width: int = 1280, height: int = 720) -> bytes:
    entry = box(fourcc, bytes(6), b"\x00\x01", bytes(16), struct.pack(">HH", width, height), bytes(50))
    tkhd = full(
        b"tkhd", bytes(8), struct.pack(">I", 1), bytes(8), bytes(52), struct.pack(">II", width << 16, height << 16)
    )
    mdhd = full(b"mdhd", struct.pack(">IIII", 0, 0, 12800, 0), bytes(4))
    hdlr = full(b"hdlr", bytes(4), b"vide", bytes(12))
    stbl = box(b"stbl", full(b"stsd", struct.pack(">I", 1), entry), full(b"stts", bytes(4)))
    return box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, box(b"minf", stbl)))


def mvhd(timescale: int = 1000, duration: int = 360_000) -> bytes:
    return full(b"mvhd", struct.pack(">IIII", 0, 0, timescale, duration), bytes(80))


def fragment(*durations: int) -> bytes:
    tfhd = full(b"tfhd", struct.pack(">I", 1), flags=0x020000)
    tfdt = full(b"tfdt", struct.pack(">Q", 0), version=1)
    runs = full(b"trun", struct.pack(">I", len(durations)), *(struct.pack(">I", d) for d in durations), flags=0x100)
    return box(b"moof", box(b"traf", tfhd, tfdt, runs)) + box(b"mdat", bytes(32))


FTYP = box(b"ftyp", b"isom", bytes(4), b"isom")
MVEX = box(b"mvex", full(b"mehd", struct.pack(">I", 0)), full(b"trex", struct.pack(">IIIII", 1, 1, 512, 0, 0)))


def el(ident: int, *payload: bytes, unknown: bool = False) -> bytes:
    body = b"".join(payload)
    size = b"\x01\xff\xff\xff\xff\xff\xff\xff" if unknown else ((1 << 56) | len(body)).to_bytes(8, "big")
    return ident.to_bytes((ident.bit_length() + 7) // 8, "big") + size + body


def mkv(*children: bytes, doctype: bytes = b"matroska", unknown: bool = False) -> bytes:
    return el(0x1A45DFA3, el(0x4282, doctype)) + el(0x18538067, *children, unknown=unknown)


INFO = el(0x1549A966, el(0x2AD7B1, b"\x0f\x42\x40"), el(0x4489, struct.pack(">d", 360_000.0)))
TRACKS = el(
    0x1654AE6B, el(0xAE, el(0x83, b"\x01"), el(0x86, b"V_VP9"), el(0xE0, el(0xB0, b"\x05\x00"), el(0xBA, b"\x02\xd0")))
)
CLUSTER = el(0x1F43B675, el(0xE7, b"\x00"), el(0xA3, bytes(64)))


def seekhead(info_at: int, tracks_at: int) -> bytes:
    def seek(ident: int, position: int) -> bytes:
        return el(0x4DBB, el(0x53AB, ident.to_bytes(4, "big")), el(0x53AC, position.to_bytes(8, "big")))

    return el(0x114D9B74, seek(0x1549A966, info_at), seek(0x1654AE6B, tracks_at))


def with_mfra(head: bytes, fragments: list[bytes]) -> bytes:
    offsets = [len(head) + sum(len(f) for f in fragments[:index]) for index in range(len(fragments))]
    entries = b"".join(struct.pack(">IIBBB", 0, offset, 1, 1, 1) for offset in offsets)
    tfra = full(b"tfra", struct.pack(">III", 1, 0, len(offsets)), entries)
    size = 8 + len(tfra) + 16
    return head + b"".join(fragments) + box(b"mfra", tfra, full(b"mfro", struct.pack(">I", size)))


_HEAD = len(seekhead(0, 0))
VALID_MP4S = [
    FTYP + box(b"moov", mvhd(), trak()),
    FTYP + box(b"moov", mvhd(1000, 0), trak(), MVEX) + fragment(512, 512) + fragment(1024),
    box(b"ftyp", b"qt  ") + box(b"mdat", bytes(100)) + box(b"moov", mvhd(), trak(b"hvc1", 480, 854)),
    with_mfra(FTYP + box(b"moov", mvhd(1000, 0), trak(), MVEX), [fragment(512, 512), fragment(1024), fragment(256)]),
]
VALID_MKVS = [
    mkv(INFO, TRACKS, CLUSTER),
    mkv(seekhead(_HEAD + len(CLUSTER), _HEAD + len(CLUSTER) + len(INFO)), CLUSTER, INFO, TRACKS, doctype=b"webm"),
    mkv(INFO, CLUSTER, TRACKS, unknown=True),
]

BUDGET = 64 * 1024
CLAIMED = 1 << 30  # the size the files claim
HEADERS = 64 * 1024
FUZZ = settings(max_examples=400, deadline=2000, suppress_health_check=[HealthCheck.too_slow], database=None)


class Counting:
    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size, self.asked = data, size, 0

    def __call__(self, offset: int, length: int) -> bytes:
        assert 0 <= offset < self.size, offset
        assert length > 0, length
        self.asked += length
        end = min(offset + length, self.size)
        chunk = self.data[offset:end]
        return chunk + bytes(end - offset - len(chunk))


def probed(data: bytes, size: int) -> tuple[MediaInfo | Exception, int]:
    reader = Counting(data, size)
    try:
        result: MediaInfo | Exception = probe(reader, size, budget=BUDGET)
    except (NotAVideo, Unreadable) as error:
        result = error
    if isinstance(result, Exception):
        assert str(result), "a refusal says what it found"
    assert reader.asked <= BUDGET + MOOV_READ_WHOLE + HEADERS, reader.asked
    if isinstance(result, MediaInfo):
        assert result.bytes_read == reader.asked
        assert result.duration_seconds is None or result.duration_seconds >= 0
    return result, reader.asked


@FUZZ
@given(st.binary(max_size=2048), st.booleans())
def test_random_bytes_are_refused_or_read_within_the_budget(data: bytes, claim_large: bool) -> None:
    probed(data, CLAIMED if claim_large and data else len(data))


_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf", b"mfra"}


def box_offsets(data: bytes, start: int = 0, end: int | None = None) -> list[int]:
    """Where each box header of a (valid) seed is, containers descended: where a mutation does most harm."""
    end = len(data) if end is None else end
    found, at = [], start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        found.append(at)
        if kind in _CONTAINERS:
            found += box_offsets(data, at + 8, at + size)
        at += max(size, 8)
    return found


def _position(draw: st.DrawFn, headers: list[int], length: int) -> int:
    # Most mutations hit a header (a size, a type) past the signature; the others anywhere.
    inside = [at for at in headers if at < length] or [0]
    return draw(st.sampled_from(inside) | st.integers(min(8, max(0, length - 1)), max(0, length - 1)))


def _mutate(data: bytes, draw: st.DrawFn) -> bytes:
    buffer = bytearray(data)
    headers = [at for at in box_offsets(data) if at > 0]
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["size32", "size64", "fourcc", "byte", "cut", "insert"]))
        at = _position(draw, headers, len(buffer))
        if kind == "size32" and at + 4 <= len(buffer):
            value = draw(st.sampled_from([0, 1, 4, 7, 8, 9, 0xFFFFFFFF, 0x7FFFFFFF]) | st.integers(0, 1 << 32 - 1))
            buffer[at : at + 4] = struct.pack(">I", value)
        elif kind == "size64" and at + 8 <= len(buffer):
            buffer[at : at + 8] = struct.pack(">Q", draw(st.integers(0, (1 << 64) - 1)))
        elif kind == "fourcc" and at + 4 <= len(buffer):
            buffer[at : at + 4] = draw(st.sampled_from([b"moov", b"trak", b"mdat", b"moof", b"sidx", b"mvex", b"stsd"]))
        elif kind == "byte" and buffer:
            buffer[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del buffer[at:]
        elif kind == "insert":
            buffer[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(buffer)


@st.composite
def mutated_mp4s(draw: st.DrawFn) -> bytes:
    return _mutate(draw(st.sampled_from(VALID_MP4S)), draw)


@st.composite
def mutated_mkvs(draw: st.DrawFn) -> bytes:
    seed = draw(st.sampled_from(VALID_MKVS))
    data = bytearray(seed)
    # Past the EBML header (its 4-byte ID, 8-byte size and DocType): any byte may start an element.
    headers = list(range(30, len(seed)))
    for _ in range(draw(st.integers(1, 6))):
        at = _position(draw, headers, len(data))
        what = draw(st.sampled_from(["id", "size", "unknown", "byte", "cut"]))
        if what == "id":
            data[at:at] = draw(
                st.sampled_from([b"\x18\x53\x80\x67", b"\x15\x49\xa9\x66", b"\x16\x54\xae\x6b", b"\xae"])
            )
        elif what == "size":
            length = draw(st.integers(1, 8))
            value = draw(st.integers(0, (1 << (7 * length)) - 1))
            data[at:at] = ((1 << (7 * length)) | value).to_bytes(length, "big")
        elif what == "unknown":
            data[at:at] = b"\x01\xff\xff\xff\xff\xff\xff\xff"
        elif what == "byte" and data:
            data[at] = draw(st.integers(0, 255))
        else:
            del data[at:]
    return bytes(data)


@FUZZ
@given(mutated_mp4s(), st.booleans())
def test_mutated_mp4_headers_are_refused_or_read_within_the_budget(data: bytes, claim_large: bool) -> None:
    probed(data, CLAIMED if claim_large and data else len(data))


@FUZZ
@given(mutated_mkvs(), st.booleans())
def test_mutated_matroska_headers_are_refused_or_read_within_the_budget(data: bytes, claim_large: bool) -> None:
    probed(data, CLAIMED if claim_large and data else len(data))


def test_the_valid_seeds_are_read() -> None:
    for data in VALID_MP4S + VALID_MKVS:
        result, _ = probed(data, len(data))
        assert isinstance(result, MediaInfo), result
        assert result.duration_seconds, result
