"""Sample suspect videos for the local DoveRunner: real, playable MP4, MOV and MKV files carrying a simulated mark.

Each is an H.264 clip encoded here with PyAV (a moving test pattern) with the marker in a region players skip near
the start (a `free` box right after `ftyp`, a Void element early in the Segment), so a file cut short still carries
it. A size larger than the clip is reached with padding players also skip: a trailing top-level `free` box, or a
Void element closing the Segment. The local DoveRunner reads the marker as the watermark a real detection would find
(see content.py).

Two clips:
- COMPLIANT (the default) meets what DoveRunner's detector needs (the guide's first table): 302 s at 854x480, at one
  frame a second so it encodes in about a second, padded to COMPLIANT_SIZE so its average bitrate (size x 8 /
  duration, as FFmpeg and the pre-flight check measure it) is above 1 Mbps. A smaller `size` makes it D005.
- SHORT: 2 s at 320x240, 25 fps; DoveRunner refuses it (D002, D004). For what is meant to fail, and for load tests
  that send many videos and care about the pipeline, not the verdict.

An encoded clip is cached on disk (DOVERUNNER_SAMPLES_CACHE, by default ~/.cache/doverunner-local/samples; the
encoding is bit-exact, so the cache only saves time). A sample written to a file leaves its padding as a hole, so a
40 MB sample takes well under 1 MB of disk.

Needs the `av` package (PyAV); used by the local demo and the tests only, never by a Lambda.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import av  # imported where used: the package imports this module without needing PyAV

KINDS = ("mp4", "mov", "mkv")


@dataclass(frozen=True)
class Clip:
    name: str
    width: int
    height: int
    fps: int
    seconds: int


COMPLIANT = Clip("compliant", 854, 480, 1, 302)
SHORT = Clip("short", 320, 240, 25, 2)
COMPLIANT_SIZE = 40_000_000  # 1.06 Mbps over 302 s; DoveRunner needs 1 Mbps
_ENCODING = 2  # raise when the frames or the encoder settings change: the disk cache is keyed by it

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


def _frames(clip: Clip) -> Iterator[av.VideoFrame]:
    import av

    width, height = clip.width, clip.height
    frames = clip.fps * clip.seconds
    luma_ramp = _triangle(width + height + 4 * frames)
    cw, ch = width // 2, height // 2
    bars = [(90, 240), (54, 34), (240, 110), (166, 16)]  # (U, V): red, green, blue, yellow-ish
    for t in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        box_x, box_y = (t * 6) % (width - 48), height * 2 // 5
        luma = bytearray()
        for y in range(height):
            row = bytearray(luma_ramp[y + 4 * t : y + 4 * t + width])
            if box_y <= y < box_y + 48:
                row[box_x : box_x + 48] = b"\xeb" * 48  # a bright square crossing the picture
            luma += row + bytes(frame.planes[0].line_size - width)
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


def _encode(kind: str, clip: Clip) -> bytes:
    import av

    buffer = io.BytesIO()
    # bitexact: no random UIDs nor version strings, so a sample is the same bytes on every run.
    options = {"fflags": "+bitexact"}
    if kind == "mkv":
        # Room reserved for the index leaves a Void early in the file: room for a long marker too.
        options["reserve_index_space"] = "1024"
    with av.open(buffer, "w", format=_FORMATS[kind], options=options) as container:
        # H.264, as DoveRunner detects on H.264 and H.265 only.
        stream = container.add_stream("libx264", rate=clip.fps, options={"crf": "28", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = clip.width, clip.height, "yuv420p"
        for frame in _frames(clip):
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def _cache_folder() -> Path:
    configured = os.environ.get("DOVERUNNER_SAMPLES_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "doverunner-local" / "samples"


@functools.cache
def _clip(kind: str, clip: Clip) -> bytes:
    """The encoded clip in the kind's container, as the muxer wrote it: from the disk cache, else encoded (and
    cached). A cache that cannot be written only costs the encoding next time."""
    import av

    folder = _cache_folder()
    path = (
        folder
        / f"{clip.name}-{clip.width}x{clip.height}-{clip.fps}fps-{clip.seconds}s-{_ENCODING}-av{av.__version__}.{kind}"
    )
    try:
        return path.read_bytes()
    except OSError:
        pass
    encoded = _encode(kind, clip)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as out:
            out.write(encoded)
        os.replace(out.name, path)  # whole or not at all, whatever runs beside
    except OSError:
        pass
    return encoded


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
def _video(kind: str, tag: bytes, clip: Clip) -> bytes:
    encoded = _clip(kind, clip)
    return _mkv_with_leading(encoded, tag) if kind == "mkv" else _iso_with_leading(encoded, tag)


def _skip(out: BinaryIO, count: int) -> bool:
    """Leaves `count` zero bytes as a hole when `out` is a file on disk; False for anything else."""
    try:
        out.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False
    out.seek(count - 1, io.SEEK_CUR)
    out.write(b"\0")
    return True


def write_sample(
    out: BinaryIO,
    kind: str,
    size: int | None = None,
    *,
    mark: str | None = None,
    fail: str | None = None,
    short: bool = False,
) -> int:
    """Writes a playable sample of `size` bytes (COMPLIANT_SIZE for the compliant clip, the clip alone for the short
    one, when None; more if the clip alone is larger; a few more when the gap is too small for a padding header) to
    `out`, padding in 1 MiB chunks (as a hole in a file on disk); the bytes written."""
    if kind not in KINDS:
        raise ValueError(f"unsupported sample kind {kind!r}: use mp4, mov or mkv")
    clip = SHORT if short else COMPLIANT
    if size is None:
        size = 0 if short else COMPLIANT_SIZE
    video = _video(kind, marker(mark=mark, fail=fail), clip)
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
    if left > 0 and _skip(out, left):
        return len(video) + gap
    while left > 0:
        piece = _ZEROS[: min(left, _CHUNK)]
        out.write(piece)
        left -= len(piece)
    return len(video) + gap


def make_sample(
    path: Path | str,
    size: int | None = None,
    *,
    mark: str | None = None,
    fail: str | None = None,
    short: bool = False,
) -> Path:
    """A sample file at `path` (its padding a hole); the container follows its extension (.mp4, .mov, .mkv)."""
    target = Path(path)
    kind = target.suffix.lower().lstrip(".")
    if kind not in KINDS:
        raise ValueError(f"unsupported sample kind {kind!r}: use mp4, mov or mkv")
    with target.open("wb") as out:
        write_sample(out, kind, size, mark=mark, fail=fail, short=short)
    return target
