"""Pre-flight media checks: what a video's container says about it, read from its metadata alone (docs/media.md).

DoveRunner's detector fails a video that is too short (D002), in another codec than H.264/H.265 (D003), below 480p
(D004), below 1 Mbps (D005), in another container than MP4/MOV/MKV (D010), or that is no video container at all
(D011). `probe` reads the few KiB of metadata that answer those questions through a `Reader` (the S3 adapter gives
one doing ranged GETs), never the media data: an MP4's `moov` box (wherever it is: `mdat` is skipped by its header),
a Matroska file's EBML header, SeekHead, Info and Tracks (clusters skipped by their headers). `shortfalls` turns the
answer into the D-codes the detector would return.

Pure Python, no FFmpeg: the Lambda layer stays small and cold starts fast. Hostile input is bounded: every read is
charged to a budget (`read_budget`, plus the `moov` box itself when it is read whole), every loop advances and is
capped in count, and every failure is `NotAVideo` or `Unreadable` with a message saying what was found. Errors the
reader raises itself (an S3 error) are not about the bytes and propagate unchanged.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

Reader = Callable[[int, int], bytes]
"""read(offset, length) -> at most `length` bytes from `offset` (fewer at the end of the object)."""

MIB = 1 << 20
MOOV_READ_WHOLE = 16 * MIB  # a moov up to this size is read in one request; a larger one is descended box by box
ELEMENT_READ_MAX = 4 * MIB  # the largest box/element read whole besides moov (moof, stsd, Info, Tracks, SeekHead)
FIRST_READ = 4096  # the first request: the file's signature and, usually, its first few headers
HEADER_READ = 16  # an ISO box header (with a 64-bit size); an EBML header needs at most 12
MAX_TOP_LEVEL = 100_000  # top-level boxes/elements walked (moof + mdat pairs of a fragmented file included)
MAX_CHILDREN = 4096  # boxes/elements inside one parent
MAX_TRACKS = 256
MAX_SEEKS = 4  # SeekHead jumps (a SeekHead pointing at another SeekHead included)

MIN_SECONDS = 300
MIN_LINES = 480
MIN_BITRATE = 1_000_000
CONTAINERS = ("mp4", "mov", "mkv")

_ISO_TOP_LEVEL = frozenset(
    {"ftyp", "styp", "moov", "mdat", "free", "skip", "wide", "pnot", "sidx", "moof", "uuid", "pdin", "meta", "junk"}
)
_ISO_CODECS = {
    "avc1": "h264",
    "avc3": "h264",
    "hvc1": "hevc",
    "hev1": "hevc",
    "mp4v": "mpeg4",
    "vp09": "vp9",
    "vp08": "vp8",
    "av01": "av1",
}
_MKV_CODECS = {
    "V_MPEG4/ISO/AVC": "h264",
    "V_MPEGH/ISO/HEVC": "hevc",
    "V_MPEG4/ISO/ASP": "mpeg4",
    "V_MPEG4/ISO/SP": "mpeg4",
    "V_MPEG4/ISO/AP": "mpeg4",
    "V_VP9": "vp9",
    "V_VP8": "vp8",
    "V_AV1": "av1",
}

# Matroska element IDs (with their length marker, as written).
_EBML, _DOCTYPE, _SEGMENT, _CLUSTER = 0x1A45DFA3, 0x4282, 0x18538067, 0x1F43B675
_SEEKHEAD, _SEEK, _SEEK_ID, _SEEK_POSITION = 0x114D9B74, 0x4DBB, 0x53AB, 0x53AC
_INFO, _TIMESTAMP_SCALE, _DURATION = 0x1549A966, 0x2AD7B1, 0x4489
_TRACKS, _TRACK_ENTRY, _TRACK_TYPE, _CODEC_ID = 0x1654AE6B, 0xAE, 0x83, 0x86
_VIDEO, _PIXEL_WIDTH, _PIXEL_HEIGHT = 0xE0, 0xB0, 0xBA


class NotAVideo(Exception):
    """The bytes are no video container (DoveRunner's D011): the message says what they look like."""


class Unreadable(Exception):
    """A video container whose metadata is broken, hostile or beyond the read budget: the message says what."""


@dataclass(frozen=True)
class MediaInfo:
    container: str  # "mp4", "mov", "mkv", "webm": as the file says (ftyp brand "qt  " -> mov; EBML DocType)
    duration_seconds: float | None
    video_codec: str | None  # "h264", "hevc", "mpeg4", "vp9", "av1", "vp8", else the raw fourcc/CodecID
    width: int | None
    height: int | None
    size: int  # the object's size in bytes
    fragmented: bool
    bytes_read: int  # total bytes the reader was asked for

    @property
    def bitrate_bps(self) -> float | None:
        if self.duration_seconds is None or self.duration_seconds <= 0:
            return None
        return self.size * 8 / self.duration_seconds


def read_budget(size: int) -> int:
    """The bytes probe may read beyond the moov box itself: 1 MiB, or 1% of a file larger than 100 MiB."""
    return max(MIB, size // 100)


def probe(read: Reader, size: int, *, budget: int | None = None) -> MediaInfo:
    """What the container of an object of `size` bytes says, read through `read`; NotAVideo or Unreadable else."""
    if size <= 0:
        raise NotAVideo("the object is empty")
    source = _Source(read, size, read_budget(size) if budget is None else budget)
    try:
        head = source.read(0, FIRST_READ, "the file's signature")
        if head[:4] == struct.pack(">I", _EBML):
            return _probe_matroska(source)
        if _looks_isobmff(head):
            return _probe_isobmff(source)
        raise NotAVideo(f"no video container: {_describe(head, size)}")
    except _ReaderFailed as failed:
        raise failed.error from None
    except _OverBudget as error:
        raise Unreadable(str(error)) from error
    except (NotAVideo, Unreadable):
        raise
    except (struct.error, IndexError, ValueError, OverflowError, UnicodeError, ZeroDivisionError) as error:
        # The parsers check what they read; this is the net under them, so hostile bytes never crash the caller.
        raise Unreadable(f"malformed metadata ({type(error).__name__}: {error})") from error


# ---- reading ---------------------------------------------------------------------------------------------------


class _OverBudget(Unreadable):
    pass


class _ReaderFailed(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _Source:
    """The reader, charged: every byte asked for counts against the allowance (the budget, plus a moov read whole).

    The last block read is kept, so headers inside it (the first 4 KiB, a moof and the header after it) cost no
    request."""

    def __init__(self, read: Reader, size: int, budget: int) -> None:
        self._read, self.size, self.budget = read, size, budget
        self.allowance, self.bytes_read = budget, 0
        self._cached_at, self._cached = 0, b""

    def grant(self, extra: int) -> None:
        self.allowance += extra

    def read(self, offset: int, length: int, what: str) -> bytes:
        if offset < 0 or offset >= self.size or length <= 0:
            return b""
        length = min(length, self.size - offset)
        start = offset - self._cached_at
        if start >= 0 and start + length <= len(self._cached):
            return self._cached[start : start + length]
        if self.bytes_read + length > self.allowance:
            raise _OverBudget(
                f"reading {what} ({length} bytes at offset {offset}) would pass the read budget of "
                f"{self.allowance} bytes ({self.bytes_read} read)"
            )
        self.bytes_read += length
        try:
            raw = self._read(offset, length)
        except Exception as error:  # the reader's own failure (S3 down): handed back to the caller as it is
            raise _ReaderFailed(error) from error
        if not isinstance(raw, bytes | bytearray | memoryview):
            raise TypeError(f"the reader returned {type(raw).__name__}, not bytes")
        data = bytes(raw[:length])
        self._cached_at, self._cached = offset, data
        return data


class _Memory:
    """Bytes already read (a moov read whole), addressed by their offsets in the file."""

    def __init__(self, data: bytes, base: int) -> None:
        self._data, self._base = data, base

    def read(self, offset: int, length: int, what: str) -> bytes:
        start = offset - self._base
        if start < 0 or length <= 0:
            return b""
        return self._data[start : start + length]


_Space = _Source | _Memory


def _uint(data: bytes, at: int, width: int, what: str) -> int:
    if at < 0 or at + width > len(data):
        raise Unreadable(f"{what} is cut short")
    return int.from_bytes(data[at : at + width], "big")


def _ticks_to_seconds(ticks: int, timescale: int, width: int) -> float | None:
    """A duration in a timescale; None when unknown (zero timescale, zero or all-ones duration)."""
    if timescale <= 0 or ticks <= 0 or ticks == (1 << (8 * width)) - 1:
        return None
    return ticks / timescale


# ---- sniffing --------------------------------------------------------------------------------------------------


def _fourcc(raw: bytes) -> str:
    return raw.decode("latin-1") if all(32 <= b < 127 for b in raw) else "0x" + raw.hex()


def _is_fourcc(raw: bytes) -> bool:
    return len(raw) == 4 and all(32 <= b < 127 for b in raw)


def _looks_isobmff(head: bytes) -> bool:
    if len(head) < 8:
        return False
    size = int.from_bytes(head[:4], "big")
    kind = head[4:8].decode("latin-1")
    return kind in _ISO_TOP_LEVEL and (size in (0, 1) or size >= 8)


def _describe(head: bytes, size: int) -> str:
    """What bytes that are no video container look like, for the message."""
    signatures = [
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"\x89PNG", "a PNG image"),
        (b"GIF8", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"ID3", "MP3 audio"),
        (b"OggS", "an Ogg stream"),
        (b"FLV", "a Flash video (FLV), not supported"),
        (b"\x00\x00\x01\xba", "an MPEG program stream, not supported"),
        (b"\x1f\x8b", "a gzip archive"),
    ]
    if head[:4] == b"RIFF" and len(head) >= 12:
        kind = head[8:12].decode("latin-1").strip()
        return f"a RIFF file ({kind}){', not supported' if kind == 'AVI' else ''}"
    for signature, name in signatures:
        if head.startswith(signature):
            return name
    sample = head[:512]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as error:  # a character cut by the sample's end is still text
        text = sample[: error.start].decode("utf-8") if error.start >= len(sample) - 3 else ""
    if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return f"text ({text[:24]!r}...)"
    if head[:1] == b"G" and (len(head) < 189 or head[188:189] == b"G"):
        return "an MPEG transport stream (TS), not supported"
    return f"unknown bytes (starting {head[:8].hex()}, {size} bytes)"


# ---- ISO BMFF (MP4, MOV) ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Box:
    kind: str
    start: int
    header: int
    end: int

    @property
    def body(self) -> int:
        return self.start + self.header

    @property
    def size(self) -> int:
        return self.end - self.start


def _box_at(space: _Space, at: int, limit: int, parent: str) -> _Box | None:
    """The box whose header is at `at`, inside [.., limit); None when no full header is left."""
    head = space.read(at, HEADER_READ, f"a box header in {parent}")
    if len(head) < 8 or at + 8 > limit:
        return None
    size, kind = int.from_bytes(head[:4], "big"), _fourcc(head[4:8])
    header = 8
    if size == 1:
        if len(head) < 16:
            return None
        size, header = int.from_bytes(head[8:16], "big"), 16
    elif size == 0:
        size = limit - at
    if size < header:
        raise Unreadable(f"box {kind!r} at offset {at} in {parent} declares {size} bytes, less than its header")
    return _Box(kind, at, header, at + size)


def _children(space: _Space, parent: _Box, skip: int = 0) -> Iterator[_Box]:
    """The boxes inside `parent` (after `skip` bytes of its own fields); a child running past it is refused."""
    at, count = parent.body + skip, 0
    while at < parent.end:
        count += 1
        if count > MAX_CHILDREN:
            raise Unreadable(f"box {parent.kind!r} holds more than {MAX_CHILDREN} boxes")
        box = _box_at(space, at, parent.end, parent.kind)
        if box is None:
            return  # a few trailing bytes (QuickTime ends some lists with 4 zero bytes)
        if box.end > parent.end:
            raise Unreadable(
                f"box {box.kind!r} at offset {box.start} declares {box.size} bytes, past the end of its parent "
                f"{parent.kind!r} at {parent.end}"
            )
        yield box
        at = box.end


def _payload(space: _Space, box: _Box, most: int) -> bytes:
    return space.read(box.body, min(box.end - box.body, most), f"box {box.kind!r}")


@dataclass
class _Track:
    track_id: int = 0
    handler: str = ""
    tkhd_width: int = 0
    tkhd_height: int = 0
    timescale: int = 0
    duration: float | None = None
    fourcc: str | None = None
    entry_width: int = 0
    entry_height: int = 0


@dataclass
class _Movie:
    timescale: int = 0
    duration: float | None = None
    fragmented: bool = False
    fragment_duration: float | None = None  # mvex/mehd
    tracks: list[_Track] = field(default_factory=list)
    trex_durations: dict[int, int] = field(default_factory=dict)  # track id -> default sample duration


def _probe_isobmff(source: _Source) -> MediaInfo:
    container = "mov"  # a QuickTime file may have no ftyp
    size, at, moov = source.size, 0, None
    seen: list[str] = []
    for _ in range(MAX_TOP_LEVEL):
        box = _box_at(source, at, size, "the file")
        if box is None:
            break
        head = source.read(at, HEADER_READ, "a box header")
        if not _is_fourcc(head[4:8]):
            raise Unreadable(f"no moov box: the bytes at offset {at} are no box (after {', '.join(seen)})")
        if box.kind == "ftyp" and len(seen) == 0:
            brand = source.read(box.body, 4, "the ftyp brand")
            container = "mov" if brand == b"qt  " else "mp4"
        seen.append(box.kind)
        if box.kind == "moov":
            moov = box
            break
        at = box.end
    else:
        raise Unreadable(f"no moov box in the first {MAX_TOP_LEVEL} top-level boxes")
    if moov is None:
        found = ", ".join(seen[:8]) + (", ..." if len(seen) > 8 else "")
        raise Unreadable(f"no moov box (top-level boxes: {found}; the file may be cut short)")
    if moov.end > size:
        raise Unreadable(
            f"the moov box is cut short: it declares {moov.size} bytes at offset {moov.start}, the file ends at {size}"
        )
    space: _Space = source
    if moov.size <= MOOV_READ_WHOLE:
        source.grant(moov.size)
        space = _Memory(source.read(moov.start, moov.size, "the moov box"), moov.start)
    movie = _read_moov(space, moov)
    video = next((track for track in movie.tracks if track.handler == "vide"), None)
    if video is None:
        handlers = ", ".join(track.handler or "?" for track in movie.tracks) or "none"
        raise NotAVideo(f"an {container} file with no video track (track handlers: {handlers})")
    duration = movie.duration if movie.duration is not None else video.duration
    if movie.fragmented:
        duration = movie.fragment_duration or _fragments_duration(source, moov, video, movie)
    width = video.entry_width or video.tkhd_width or None
    height = video.entry_height or video.tkhd_height or None
    codec = _ISO_CODECS.get(video.fourcc, video.fourcc) if video.fourcc else None
    return MediaInfo(container, duration, codec, width, height, size, movie.fragmented, source.bytes_read)


def _read_moov(space: _Space, moov: _Box) -> _Movie:
    movie = _Movie()
    mehd: tuple[int, int] | None = None
    for box in _children(space, moov):
        if box.kind == "mvhd":
            data = _payload(space, box, 32)
            wide = 8 if data[:1] == b"\x01" else 4
            movie.timescale = _uint(data, 4 + 2 * wide, 4, "mvhd")
            movie.duration = _ticks_to_seconds(_uint(data, 8 + 2 * wide, wide, "mvhd"), movie.timescale, wide)
        elif box.kind == "trak":
            if len(movie.tracks) >= MAX_TRACKS:
                raise Unreadable(f"the moov box holds more than {MAX_TRACKS} tracks")
            movie.tracks.append(_read_trak(space, box))
        elif box.kind == "mvex":
            movie.fragmented = True
            for child in _children(space, box):
                if child.kind == "mehd":
                    data = _payload(space, child, 12)
                    wide = 8 if data[:1] == b"\x01" else 4
                    mehd = (_uint(data, 4, wide, "mehd"), wide)
                elif child.kind == "trex":
                    data = _payload(space, child, 24)
                    movie.trex_durations[_uint(data, 4, 4, "trex")] = _uint(data, 12, 4, "trex")
    if mehd is not None:
        movie.fragment_duration = _ticks_to_seconds(mehd[0], movie.timescale, mehd[1])
    return movie


def _read_trak(space: _Space, trak: _Box) -> _Track:
    track = _Track()
    for box in _children(space, trak):
        if box.kind == "tkhd":
            data = _payload(space, box, 96)
            wide = 8 if data[:1] == b"\x01" else 4
            track.track_id = _uint(data, 4 + 2 * wide, 4, "tkhd")
            at = 4 + 3 * wide + 8 + 8 + 8 + 36  # version/flags, times, track id + reserved, duration, ..., matrix
            track.tkhd_width = _uint(data, at, 4, "tkhd") >> 16
            track.tkhd_height = _uint(data, at + 4, 4, "tkhd") >> 16
        elif box.kind == "mdia":
            _read_mdia(space, box, track)
    return track


def _read_mdia(space: _Space, mdia: _Box, track: _Track) -> None:
    for box in _children(space, mdia):
        if box.kind == "mdhd":
            data = _payload(space, box, 32)
            wide = 8 if data[:1] == b"\x01" else 4
            track.timescale = _uint(data, 4 + 2 * wide, 4, "mdhd")
            track.duration = _ticks_to_seconds(_uint(data, 8 + 2 * wide, wide, "mdhd"), track.timescale, wide)
        elif box.kind == "hdlr":
            track.handler = _fourcc(_payload(space, box, 12)[8:12])
        elif box.kind == "minf":
            for stbl in _children(space, box):
                if stbl.kind == "stbl":
                    for stsd in _children(space, stbl):
                        if stsd.kind == "stsd":
                            _read_stsd(space, stsd, track)


def _read_stsd(space: _Space, stsd: _Box, track: _Track) -> None:
    # version/flags, entry count, then the first sample entry: size, format, 6 reserved, data reference index,
    # and for a visual sample entry 16 bytes of pre-defined/reserved fields, then width and height (16 bits each).
    data = _payload(space, stsd, 8 + 36)
    if _uint(data, 4, 4, "stsd") == 0 or len(data) < 16:
        return
    entry_size = _uint(data, 8, 4, "stsd")
    track.fourcc = _fourcc(data[12:16])
    if entry_size >= 36 and len(data) >= 8 + 36:
        track.entry_width = _uint(data, 8 + 32, 2, "stsd")
        track.entry_height = _uint(data, 8 + 34, 2, "stsd")


def _fragments_duration(source: _Source, moov: _Box, video: _Track, movie: _Movie) -> float | None:
    """A fragmented file's duration without mehd: from its mfra, a sidx indexing every fragment, or its fragments.

    1. mfra (the random-access index FFmpeg and most packagers write last): the last moof it lists for the video
       track is read, and the fragments after it, if any; its tfdt places it in time. A few requests in all.
    2. Else the top-level boxes after moov are walked: the first sidx before any moof is used when it indexes the
       rest of the file; else each moof is read (with the header after it, in one request) and the video track's
       sample durations are added up (tfdt, when present, places a fragment in time).
    The walk is charged to the read budget: when it runs out, the duration is unknown and the file Unreadable. A
    moof cut short by the end of the file ends the walk (what came before it counts, as FFmpeg counts it)."""
    if video.timescale <= 0:
        raise Unreadable("fragmented file: the video track has no timescale")
    start_ticks = 0.0
    if video.duration is not None:  # samples in moov itself (a fragmented file without empty_moov)
        start_ticks = video.duration * video.timescale
    try:
        last_moof = _last_indexed_moof(source, moov, video.track_id)
        if last_moof is not None:
            ticks = _walk_fragments(source, last_moof, video, movie, None, use_sidx=False)
            if ticks is not None:
                return ticks / video.timescale if ticks > 0 else None
        ticks = _walk_fragments(source, moov.end, video, movie, start_ticks, use_sidx=True)
    except _OverBudget as error:
        raise Unreadable(
            f"fragmented file without mehd, mfra or sidx: duration unknown within {source.budget} bytes ({error})"
        ) from error
    return ticks / video.timescale if ticks is not None and ticks > 0 else None


def _last_indexed_moof(source: _Source, moov: _Box, track_id: int) -> int | None:
    """Where the last moof the mfra box lists for the track is; None without a usable mfra."""
    tail = source.read(source.size - 16, 16, "the mfro box") if source.size >= 16 else b""
    if len(tail) < 16 or tail[4:8] != b"mfro":
        return None
    mfra_size = _uint(tail, 12, 4, "mfro")
    mfra_at = source.size - mfra_size
    if not 16 <= mfra_size <= ELEMENT_READ_MAX or mfra_at < moov.end:
        return None
    data = source.read(mfra_at, mfra_size, "the mfra box")
    mfra = _box_at(_Memory(data, mfra_at), mfra_at, source.size, "the file")
    if mfra is None or mfra.kind != "mfra" or mfra.end != source.size:
        return None
    last = None
    for tfra in _children(_Memory(data, mfra_at), mfra):
        if tfra.kind != "tfra":
            continue
        body = data[tfra.body - mfra_at : tfra.end - mfra_at]
        if _uint(body, 4, 4, "tfra") != track_id:
            continue
        wide = 8 if body[:1] == b"\x01" else 4
        sizes = _uint(body, 8, 4, "tfra")
        record = 2 * wide + sum(((sizes >> shift) & 3) + 1 for shift in (4, 2, 0))
        count = _uint(body, 12, 4, "tfra")
        if count == 0 or 16 + record * count > len(body):
            return None
        offsets = (_uint(body, 16 + record * index + wide, wide, "tfra") for index in range(count))
        last = max(offsets)
    if last is None or not moov.end <= last < mfra_at:
        return None
    found = _box_at(source, last, source.size, "the file")
    return last if found is not None and found.kind == "moof" else None


def _walk_fragments(
    source: _Source, at: int, video: _Track, movie: _Movie, start_ticks: float | None, *, use_sidx: bool
) -> float | None:
    """The video track's end time (in its timescale) after the fragments from `at` on.

    `start_ticks` None: the first fragment must carry a tfdt (None is returned when it does not)."""
    end_ticks, moofs = start_ticks, 0
    for _ in range(MAX_TOP_LEVEL):
        box = _box_at(source, at, source.size, "the file")
        if box is None:
            break
        if box.kind == "sidx" and moofs == 0 and use_sidx:
            indexed = _sidx_duration(source, box)
            if indexed is not None:
                return indexed * video.timescale
        elif box.kind == "moof":
            if box.end > source.size:
                break  # cut short by the end of the file
            if box.size > ELEMENT_READ_MAX:
                raise Unreadable(f"a moof box of {box.size} bytes at offset {box.start}: larger than expected")
            moofs += 1
            data = source.read(box.start, box.size + HEADER_READ, "a moof box")
            end_ticks = _moof_end(_Memory(data, box.start), box, video.track_id, movie, end_ticks)
            if end_ticks is None:
                return None
        elif box.kind == "mfra":
            break
        at = box.end
    else:
        raise Unreadable(f"fragmented file: more than {MAX_TOP_LEVEL} top-level boxes")
    return end_ticks


def _sidx_duration(source: _Source, sidx: _Box) -> float | None:
    """The duration a sidx gives, when it indexes the whole rest of the file (not just its own fragment)."""
    data = source.read(sidx.body, min(sidx.size - sidx.header, ELEMENT_READ_MAX), "a sidx box")
    wide = 8 if data[:1] == b"\x01" else 4
    timescale = _uint(data, 8, 4, "sidx")
    earliest = _uint(data, 12, wide, "sidx")
    first_offset = _uint(data, 12 + wide, wide, "sidx")
    at = 12 + 2 * wide + 2
    count = _uint(data, at, 2, "sidx")
    if timescale == 0 or at + 2 + 12 * count > len(data):
        return None
    referenced, ticks = 0, earliest
    for index in range(count):
        entry = at + 2 + 12 * index
        referenced += _uint(data, entry, 4, "sidx") & 0x7FFFFFFF
        ticks += _uint(data, entry + 4, 4, "sidx")
    after = sidx.end + first_offset + referenced
    following = _box_at(source, after, source.size, "the file") if after < source.size else None
    if following is not None and following.kind in ("moof", "sidx", "mdat", "styp"):
        return None  # the index covers only part of the fragments (one sidx per fragment): walk them instead
    return ticks / timescale if ticks > 0 else None


def _moof_end(space: _Memory, moof: _Box, track_id: int, movie: _Movie, end_ticks: float | None) -> float | None:
    """The video track's end time (in its timescale) after this fragment; None when the time before it is unknown
    and the fragment has no tfdt to say it."""
    for traf in _children(space, moof):
        if traf.kind != "traf":
            continue
        tfhd_track, default_duration, base, total = -1, movie.trex_durations.get(track_id, 0), None, 0
        for box in _children(space, traf):
            data = _payload(space, box, ELEMENT_READ_MAX)
            flags = _uint(data, 1, 3, box.kind) if box.kind in ("tfhd", "tfdt", "trun") else 0
            if box.kind == "tfhd":
                tfhd_track = _uint(data, 4, 4, "tfhd")
                at = 8 + (8 if flags & 0x1 else 0) + (4 if flags & 0x2 else 0)
                default_duration = movie.trex_durations.get(tfhd_track, 0)
                if flags & 0x8:  # a default sample duration of its own
                    default_duration = _uint(data, at, 4, "tfhd")
            elif box.kind == "tfdt":
                base = _uint(data, 4, 8 if data[:1] == b"\x01" else 4, "tfdt")
            elif box.kind == "trun":
                total += _trun_ticks(data, flags, default_duration)
        if tfhd_track == track_id:
            start = base if base is not None else end_ticks
            if start is None:
                return None
            end_ticks = start + total
    return end_ticks


def _trun_ticks(data: bytes, flags: int, default_duration: int) -> int:
    count = _uint(data, 4, 4, "trun")
    at = 8 + (4 if flags & 0x1 else 0) + (4 if flags & 0x4 else 0)
    record = 4 * sum(1 for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit)
    if not flags & 0x100:
        return count * default_duration
    if at + record * count > len(data):
        raise Unreadable(f"a trun box claims {count} samples, more than its {len(data)} bytes hold")
    return sum(int.from_bytes(data[at + record * i : at + record * i + 4], "big") for i in range(count))


# ---- Matroska (MKV, WebM) --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Element:
    id: int
    start: int
    body: int
    end: int | None  # None: unknown size

    def name(self) -> str:
        return f"0x{self.id:X}"


def _vint(data: bytes, at: int, what: str, *, is_id: bool) -> tuple[int, int, bool]:
    """(value, length, all ones) of the EBML variable-length integer at `at`."""
    if at >= len(data):
        raise Unreadable(f"{what} is cut short")
    first = data[at]
    length = 9 - first.bit_length()
    if first == 0 or length > (4 if is_id else 8):
        raise Unreadable(f"{what}: invalid EBML {'ID' if is_id else 'size'} byte 0x{first:02x} at {at}")
    if at + length > len(data):
        raise Unreadable(f"{what} is cut short")
    raw = int.from_bytes(data[at : at + length], "big")
    if is_id:
        return raw, length, False
    value = raw & ((1 << (7 * length)) - 1)
    return value, length, value == (1 << (7 * length)) - 1


def _element(data: bytes, at: int, base: int, what: str) -> _Element:
    """The element whose header is at data[at:], `base` being data's offset in the file."""
    ident, id_length, _ = _vint(data, at, what, is_id=True)
    size, size_length, unknown = _vint(data, at + id_length, what, is_id=False)
    body = base + at + id_length + size_length
    return _Element(ident, base + at, body, None if unknown else body + size)


def _elements(data: bytes, base: int, start: int, end: int, parent: str) -> Iterator[_Element]:
    """The children of an element read whole (file offsets [start, end), data starting at `base`)."""
    at, count = start, 0
    while at < end:
        count += 1
        if count > MAX_CHILDREN:
            raise Unreadable(f"{parent} holds more than {MAX_CHILDREN} elements")
        element = _element(data, at - base, base, parent)
        if element.end is None:
            raise Unreadable(f"element {element.name()} in {parent} has an unknown size")
        if element.end > end:
            raise Unreadable(f"element {element.name()} at offset {element.start} runs past the end of {parent}")
        yield element
        at = element.end


def _body(data: bytes, base: int, element: _Element) -> bytes:
    end = element.end if element.end is not None else element.body
    return data[element.body - base : end - base]


def _ebml_uint(raw: bytes, what: str) -> int:
    if len(raw) > 8:
        raise Unreadable(f"{what}: an integer of {len(raw)} bytes")
    return int.from_bytes(raw, "big")


def _read_whole(source: _Source, element: _Element, what: str) -> bytes:
    """The element read whole (header and body); refused when larger than any real one."""
    if element.end is None:
        raise Unreadable(f"the {what} element at offset {element.start} has an unknown size")
    if element.end > source.size:
        raise Unreadable(f"the {what} element at offset {element.start} is cut short by the end of the file")
    if element.end - element.start > ELEMENT_READ_MAX:
        raise Unreadable(f"the {what} element at offset {element.start} claims {element.end - element.start} bytes")
    return source.read(element.start, element.end - element.start, f"the {what} element")


def _header_at(source: _Source, at: int, what: str) -> _Element:
    return _element(source.read(at, 12, what), 0, at, what)


@dataclass
class _MatroskaState:
    duration: float | None = None
    has_info: bool = False
    has_tracks: bool = False
    video: tuple[str, int, int] | None = None  # CodecID, width, height
    seeks: dict[int, int] = field(default_factory=dict)  # element id -> offset in the file
    track_types: list[int] = field(default_factory=list)


def _probe_matroska(source: _Source) -> MediaInfo:
    header = _header_at(source, 0, "the EBML header")
    data = _read_whole(source, header, "EBML header")
    doctype = ""
    for element in _elements(data, 0, header.body, header.end or header.body, "the EBML header"):
        if element.id == _DOCTYPE:
            doctype = _body(data, 0, element).rstrip(b"\x00").decode("ascii", "replace")
    if doctype not in ("matroska", "webm"):
        raise NotAVideo(f"an EBML document of type {doctype!r}, no Matroska video")
    container = "mkv" if doctype == "matroska" else "webm"

    at = header.end or header.body
    for _ in range(16):  # a Segment follows the EBML header (maybe after a Void or CRC)
        segment = _header_at(source, at, "the Segment")
        if segment.id == _SEGMENT or segment.end is None:
            break
        at = segment.end
    if segment.id != _SEGMENT:
        raise Unreadable(f"no Segment after the EBML header (found element {segment.name()} at offset {at})")
    segment_end = source.size if segment.end is None else min(segment.end, source.size)
    state = _MatroskaState()
    _walk_segment(source, segment.body, segment.body, segment_end, state)
    if not state.has_tracks:
        raise Unreadable("no Tracks element in the Matroska segment (the file may be cut short)")
    if state.video is None:
        raise NotAVideo(f"a {container} file with no video track (track types: {state.track_types or 'none'})")
    codec_id, width, height = state.video
    return MediaInfo(
        container,
        state.duration,
        _MKV_CODECS.get(codec_id, codec_id or None),
        width or None,
        height or None,
        source.size,
        False,
        source.bytes_read,
    )


def _walk_segment(source: _Source, segment_body: int, start: int, end: int, state: _MatroskaState) -> None:
    at, jumps = start, 0
    for _ in range(MAX_TOP_LEVEL):
        if state.has_info and state.has_tracks:
            return
        if at + 2 > end:
            break
        element = _header_at(source, at, "a Segment element")
        if element.id in (_SEEKHEAD, _INFO, _TRACKS):
            data = _read_whole(source, element, {_SEEKHEAD: "SeekHead", _INFO: "Info", _TRACKS: "Tracks"}[element.id])
            end_of = element.end or element.body
            if element.id == _SEEKHEAD:
                _read_seekhead(data, element, segment_body, state)
            elif element.id == _INFO and not state.has_info:
                _read_info(data, element, end_of, state)
            elif element.id == _TRACKS and not state.has_tracks:
                _read_tracks(data, element, end_of, state)
        elif element.id == _CLUSTER or element.end is None:
            # Media data: Info and Tracks should have come first. Jump where the SeekHead says they are, if it does.
            missing = [ident for ident in (_INFO, _TRACKS) if not _has(state, ident) and ident in state.seeks]
            if missing and jumps < MAX_SEEKS:
                jumps += 1
                target = state.seeks[missing[0]]
                if target <= at:
                    raise Unreadable(f"the SeekHead points backwards, at offset {target}")
                at = target
                continue
            if element.end is None:
                raise Unreadable(
                    f"Info/Tracks not found before an element of unknown size at offset {at}, and no SeekHead "
                    "points to them"
                )
        at = element.end if element.end is not None else end
    if not (state.has_info and state.has_tracks):
        # Past the end of the walk: the SeekHead may still point at what is missing (after a cut).
        for ident in (_INFO, _TRACKS):
            if not _has(state, ident) and ident in state.seeks and jumps < MAX_SEEKS:
                jumps += 1
                target = state.seeks.pop(ident)
                if target < end:
                    _walk_segment(source, segment_body, target, end, state)


def _has(state: _MatroskaState, ident: int) -> bool:
    return state.has_info if ident == _INFO else state.has_tracks


def _read_seekhead(data: bytes, element: _Element, segment_body: int, state: _MatroskaState) -> None:
    for seek in _elements(data, element.start, element.body, element.end or element.body, "the SeekHead"):
        if seek.id != _SEEK:
            continue
        ident = position = None
        for child in _elements(data, element.start, seek.body, seek.end or seek.body, "a Seek"):
            if child.id == _SEEK_ID:
                ident = _ebml_uint(_body(data, element.start, child), "SeekID")
            elif child.id == _SEEK_POSITION:
                position = _ebml_uint(_body(data, element.start, child), "SeekPosition")
        if ident in (_INFO, _TRACKS) and position is not None:
            state.seeks.setdefault(ident, segment_body + position)


def _read_info(data: bytes, element: _Element, end: int, state: _MatroskaState) -> None:
    scale, duration = 1_000_000, None
    for child in _elements(data, element.start, element.body, end, "Info"):
        raw = _body(data, element.start, child)
        if child.id == _TIMESTAMP_SCALE:
            scale = _ebml_uint(raw, "TimestampScale")
        elif child.id == _DURATION and len(raw) in (4, 8):
            duration = struct.unpack(">f" if len(raw) == 4 else ">d", raw)[0]
    state.has_info = True
    if duration is not None and scale > 0 and math.isfinite(duration) and duration > 0:
        seconds = duration * scale / 1e9
        state.duration = seconds if math.isfinite(seconds) else None


def _read_tracks(data: bytes, element: _Element, end: int, state: _MatroskaState) -> None:
    state.has_tracks = True
    for count, entry in enumerate(_elements(data, element.start, element.body, end, "Tracks")):
        if count >= MAX_TRACKS:
            raise Unreadable(f"the Tracks element holds more than {MAX_TRACKS} entries")
        if entry.id != _TRACK_ENTRY:
            continue
        track_type, codec_id, width, height = 0, "", 0, 0
        for child in _elements(data, element.start, entry.body, entry.end or entry.body, "a TrackEntry"):
            raw = _body(data, element.start, child)
            if child.id == _TRACK_TYPE:
                track_type = _ebml_uint(raw, "TrackType")
            elif child.id == _CODEC_ID:
                codec_id = raw.rstrip(b"\x00").decode("ascii", "replace")
            elif child.id == _VIDEO:
                for pixel in _elements(data, element.start, child.body, child.end or child.body, "a Video element"):
                    if pixel.id == _PIXEL_WIDTH:
                        width = _ebml_uint(_body(data, element.start, pixel), "PixelWidth")
                    elif pixel.id == _PIXEL_HEIGHT:
                        height = _ebml_uint(_body(data, element.start, pixel), "PixelHeight")
        state.track_types.append(track_type)
        if track_type == 1 and state.video is None:
            state.video = (codec_id, width, height)


# ---- the verdict -----------------------------------------------------------------------------------------------


_SUBJECTS = {
    "D002": ("the video is {} long", "the video's length is unknown"),
    "D003": ("the video codec is {}", "the video codec is unknown"),
    "D004": ("the picture is {}", "the picture size is unknown"),
    "D005": ("the bitrate is {}", "the bitrate is unknown"),
    "D010": ("the container is {}", "the container is unknown"),
}


@dataclass(frozen=True)
class Shortfall:
    """A requirement of DoveRunner's detector the video does not meet, with its D-code."""

    code: str
    measured: str  # "2.0 s", "vp9", "640x360", "0.25 Mbps", "webm"; "unknown" when the metadata does not say
    requirement: str

    def message(self) -> str:
        known, unknown = _SUBJECTS[self.code]
        said = unknown if self.measured == "unknown" else known.format(self.measured)
        return f"{self.code}: {said}; DoveRunner needs {self.requirement}"


def shortfalls(info: MediaInfo) -> list[Shortfall]:
    """Every requirement of DoveRunner's detector the video misses, in D-code order (D002, D003, D004, D005, D010).

    - D002: an unknown duration is a shortfall (DoveRunner cannot check the length either); the bitrate is then
      unknown too, and no D005 is added for it (the D002 already stops the video).
    - D010: WebM counts as Matroska. DoveRunner names mkv, and a file whose DocType says webm is a Matroska file
      (WebM is a subset of it) that a Matroska demuxer reads like any other; the pipeline refuses a `.webm` key by
      its extension before it gets here anyway, so a webm DocType seen here is an `.mkv` file, and passes.
    """
    found = []
    duration = info.duration_seconds
    if duration is None:
        found.append(Shortfall("D002", "unknown", "at least 5 minutes"))
    elif duration < MIN_SECONDS:
        found.append(Shortfall("D002", f"{duration:.1f} s", "at least 5 minutes"))
    if info.video_codec not in ("h264", "hevc"):
        found.append(Shortfall("D003", info.video_codec or "unknown", "H.264 or H.265 video"))
    if info.width is None or info.height is None:
        found.append(Shortfall("D004", "unknown", "at least 480p"))
    elif min(info.width, info.height) < MIN_LINES:
        found.append(Shortfall("D004", f"{info.width}x{info.height}", "at least 480p"))
    bitrate = info.bitrate_bps
    if duration is not None and bitrate is None:
        found.append(Shortfall("D005", "unknown", "at least 1 Mbps"))
    elif bitrate is not None and bitrate < MIN_BITRATE:
        shown = f"{bitrate / 1e6:.2f} Mbps" if bitrate >= 10_000 else f"{bitrate:.0f} bit/s"
        found.append(Shortfall("D005", shown, "at least 1 Mbps"))
    family = "mkv" if info.container == "webm" else info.container
    if family not in CONTAINERS:
        found.append(Shortfall("D010", info.container or "unknown", "an MP4, MOV or MKV container"))
    return found
