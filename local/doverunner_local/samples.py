"""Sample suspect videos for the local DoveRunner: real, playable MP4, MOV and MKV files carrying a simulated mark.

Each is a short H.264 clip encoded here with PyAV (a moving test pattern, 2 s at 25 fps), with the marker in a
region players skip near the start (a `free` box right after `ftyp`, a Void element early in the Segment), so a
file cut short still carries it. A size larger than the clip is reached with padding players also skip: a trailing
top-level `free` box, or a Void element closing the Segment. The local DoveRunner reads the marker as the
watermark a real detection would find (see content.py).

Needs the `av` package (PyAV); used by the local demo and the tests only, never by a Lambda.
"""

from __future__ import annotations

import functools
import io
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import av  # imported where used: the package imports this module without needing PyAV

KINDS = ("mp4", "mov", "mkv")
WIDTH, HEIGHT, FPS, SECONDS = 320, 240, 25, 2
_FORMATS = {"mp4": "mp4", "mov": "mov", "mkv": "matroska"}
_CHUNK = 1 << 20
_ZEROS = memoryview(bytes(_CHUNK))
_ISO_CONTAINERS = (b"moov", b"trak", b"mdia", b"minf", b"stbl")
_VOID, _SEGMENT = 0xEC, 0x18538067
_EBML_MAX_SIZE = (1 << 56) - 2  # the largest size an 8-byte EBML size can hold (all ones means "unknown")


def marker(*, mark: str | None = None, fail: str | None = None) -> bytes:
    if mark and fail:
        raise ValueError("a sample carries a forensic mark or a failure code, not both")
    if mark:
        return f"DRSIM:MARK={mark};".encode("ascii")
    if fail:
        return f"DRSIM:FAIL={fail};".encode("ascii")
    return b""


# ---- the clip ------------------------------------------------------------------------------------------------


def _triangle(n: int) -> bytes:
    # A ramp up then down (16..235, video range): smooth, so it moves without costing many bits.
    return bytes(16 + abs((i % 440) - 220) for i in range(n))


def _frames() -> Iterator[av.VideoFrame]:
    import av

    frames = FPS * SECONDS
    luma_ramp = _triangle(WIDTH + HEIGHT + 4 * frames)
    cw, ch = WIDTH // 2, HEIGHT // 2
    bars = [(90, 240), (54, 34), (240, 110), (166, 16)]  # (U, V): red, green, blue, yellow-ish
    for t in range(frames):
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        box_x, box_y = (t * 6) % (WIDTH - 48), 96
        luma = bytearray()
        for y in range(HEIGHT):
            row = bytearray(luma_ramp[y + 4 * t : y + 4 * t + WIDTH])
            if box_y <= y < box_y + 48:
                row[box_x : box_x + 48] = b"\xeb" * 48  # a bright square crossing the picture
            luma += row + bytes(frame.planes[0].line_size - WIDTH)
        frame.planes[0].update(bytes(luma))
        for plane_index in (1, 2):
            plane = frame.planes[plane_index]
            row = bytearray()
            for x in range(cw):
                u, v = bars[((x + t) * len(bars) // cw) % len(bars)]
                row.append(u if plane_index == 1 else v)
            plane.update((bytes(row) + bytes(plane.line_size - cw)) * ch)
        frame.pts = t
        yield frame


@functools.cache
def _clip(kind: str) -> bytes:
    """The encoded clip in the kind's container, as the muxer wrote it; encoded once per process."""
    import av

    buffer = io.BytesIO()
    # bitexact: no random UIDs nor version strings, so a sample is the same bytes on every run.
    options = {"fflags": "+bitexact"}
    if kind == "mkv":
        # Room reserved for the index leaves a Void early in the file: room for a long marker too.
        options["reserve_index_space"] = "1024"
    with av.open(buffer, "w", format=_FORMATS[kind], options=options) as container:
        # H.264, as DoveRunner detects on H.264 and H.265 only.
        stream = container.add_stream("libx264", rate=FPS, options={"crf": "28", "preset": "medium"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for frame in _frames():
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


# ---- ISO BMFF (MP4, MOV) ---------------------------------------------------------------------------------------


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _iso_boxes(
    data: bytes | bytearray, start: int = 0, end: int | None = None
) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, box start, payload start, box end) of each box in data[start:end]."""
    end = len(data) if end is None else end
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, at + 8)
            header = 16
        elif size == 0:
            size = end - at
        yield kind, at, at + header, at + size
        at += size


def _shift_chunk_offsets(moov: bytearray, start: int, end: int, delta: int) -> None:
    # Chunk offsets (stco, co64) are absolute file positions: bytes inserted before mdat move them all.
    for kind, _, body, box_end in _iso_boxes(moov, start, end):
        if kind in _ISO_CONTAINERS:
            _shift_chunk_offsets(moov, body, box_end, delta)
        elif kind in (b"stco", b"co64"):
            fmt, width = (">I", 4) if kind == b"stco" else (">Q", 8)
            (count,) = struct.unpack_from(">I", moov, body + 4)
            for i in range(count):
                at = body + 8 + i * width
                struct.pack_into(fmt, moov, at, struct.unpack_from(fmt, moov, at)[0] + delta)


def _iso_with_leading(clip: bytes, tag: bytes) -> bytes:
    """The clip with a `free` box holding `tag` right after `ftyp`, its chunk offsets moved to match."""
    boxes = list(_iso_boxes(clip))
    if not boxes or boxes[0][0] != b"ftyp":
        raise ValueError("the muxer wrote no ftyp box first")
    free = _box(b"free", tag)
    ftyp_end = boxes[0][3]
    parts = [clip[:ftyp_end], free]
    for kind, start, body, end in boxes[1:]:
        box = bytearray(clip[start:end])
        if kind == b"moov":
            _shift_chunk_offsets(box, body - start, end - start, len(free))
        parts.append(bytes(box))
    return b"".join(parts)


def _iso_padding_header(gap: int) -> bytes:
    """A top-level `free` box header for a box of `gap` bytes in all (at least 8)."""
    if gap < 1 << 32:
        return struct.pack(">I", gap) + b"free"
    return struct.pack(">I", 1) + b"free" + struct.pack(">Q", gap)


# ---- Matroska (MKV) -------------------------------------------------------------------------------------------


def _ebml_size(n: int, length: int = 8) -> bytes:
    # An EBML size of `length` bytes: a marker bit for the length, then the value.
    return ((1 << (7 * length)) | n).to_bytes(length, "big")


def _ebml_element(data: bytes, at: int) -> tuple[int, int, int]:
    """The ID, payload start and payload size of the EBML element at `at`."""
    id_length = 9 - data[at].bit_length()
    size_length = 9 - data[at + id_length].bit_length()
    body = at + id_length + size_length
    size = int.from_bytes(data[at + id_length : body], "big") & ((1 << (7 * size_length)) - 1)
    return int.from_bytes(data[at : at + id_length], "big"), body, size


def _mkv_segment(clip: bytes) -> int:
    """Where the Segment starts: right after the EBML header, with the 8-byte size the muxer reserves."""
    _, body, size = _ebml_element(clip, 0)
    at = body + size
    element, segment_body, _ = _ebml_element(clip, at)
    if element != _SEGMENT or segment_body != at + 12:
        raise ValueError("the muxer wrote no Segment with an 8-byte size after the EBML header")
    return at


def _mkv_with_leading(clip: bytes, tag: bytes) -> bytes:
    """The clip with `tag` written into the first Void element of its Segment that has room for it."""
    # A Void inside the Segment rather than a new element: a new one before the Segment confuses some demuxers,
    # one inside it would move the positions SeekHead and Cues hold (relative to the Segment's start).
    at = _mkv_segment(clip) + 12
    while at < len(clip):
        element, body, size = _ebml_element(clip, at)
        if element == _VOID and size >= len(tag):
            return clip[:body] + tag + bytes(size - len(tag)) + clip[body + size :]
        at = body + size
    raise ValueError(f"no room for a {len(tag)}-byte marker in the Matroska clip")


def _mkv_grow_segment(video: bytes, extra: int) -> bytes:
    """The video with its Segment, which ends the file, made `extra` bytes longer: room for a Void at its end."""
    # Padding inside the Segment rather than after it, which some demuxers warn about.
    at = _mkv_segment(video)
    _, _, size = _ebml_element(video, at)
    if size + extra > _EBML_MAX_SIZE:
        raise ValueError(f"a Matroska sample cannot be {len(video) + extra} bytes")
    return video[: at + 4] + _ebml_size(size + extra) + video[at + 12 :]


def _mkv_padding_header(gap: int) -> bytes:
    """A Void element header for an element of `gap` bytes in all (at least 2)."""
    for length in range(1, 9):
        payload = gap - 1 - length
        if 0 <= payload < (1 << (7 * length)) - 1:
            return bytes([_VOID]) + _ebml_size(payload, length)
    raise ValueError(f"a sample cannot be padded by {gap} bytes")


# ---- samples -------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _video(kind: str, tag: bytes) -> bytes:
    clip = _clip(kind)
    return _mkv_with_leading(clip, tag) if kind == "mkv" else _iso_with_leading(clip, tag)


def write_sample(out: BinaryIO, kind: str, size: int, *, mark: str | None = None, fail: str | None = None) -> int:
    """Writes a playable sample of `size` bytes (more if the clip alone is larger; a few more when the gap
    is too small for a padding header) to `out`, padding in 1 MiB chunks; the bytes written."""
    if kind not in KINDS:
        raise ValueError(f"unsupported sample kind {kind!r}: use mp4, mov or mkv")
    video = _video(kind, marker(mark=mark, fail=fail))
    gap = size - len(video)
    if gap <= 0:
        out.write(video)
        return len(video)
    if kind == "mkv":
        gap = max(gap, 2)
        out.write(_mkv_grow_segment(video, gap))
        head = _mkv_padding_header(gap)
    else:
        gap = max(gap, 8)
        out.write(video)
        head = _iso_padding_header(gap)
    out.write(head)
    left = gap - len(head)
    while left > 0:
        piece = _ZEROS[: min(left, _CHUNK)]
        out.write(piece)
        left -= len(piece)
    return len(video) + gap


def make_sample(path: Path | str, size: int = 256 * 1024, *, mark: str | None = None, fail: str | None = None) -> Path:
    """A sample file at `path`; the container follows its extension (.mp4, .mov, .mkv)."""
    target = Path(path)
    kind = target.suffix.lower().lstrip(".")
    if kind not in KINDS:
        raise ValueError(f"unsupported sample kind {kind!r}: use mp4, mov or mkv")
    with target.open("wb") as out:
        write_sample(out, kind, size, mark=mark, fail=fail)
    return target
