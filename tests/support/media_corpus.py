"""A corpus of small real videos (and non-videos) with what FFmpeg says of each: the proof of domain/media.py.

`build_corpus(folder)` encodes each entry with PyAV (libx264, libx265, mpeg4, libvpx-vp9) into `folder/<key>/`, the
key a hash of this file's source, so an edit here makes a new corpus and an unchanged one is reused. Each file is
then opened with PyAV (FFmpeg's demuxers) and what FFmpeg says is kept beside it (manifest.json).

Kept small and fast: a frame every 5 seconds (a 6-minute video is 72 frames, a few hundred KB) with a GOP of 10.
DoveRunner's 1 Mbps needs 37.5 MB for 5 minutes; the files above it get there with padding players skip, a
trailing `free` box (MP4, MOV) or a Void element closing the Segment (MKV), written as a sparse hole: the file's
apparent size is tens of MB, its blocks on disk a few hundred KB, and neither FFmpeg nor the reader reads it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

SECONDS_PER_FRAME = 5
GOP = 10
PADDED_BITRATE = 1_300_000  # the bitrate a padded file reaches: 30% above DoveRunner's 1 Mbps, clear of the line


@dataclass(frozen=True)
class Video:
    """An encoded video: codec, picture, length, container (`fmt` as FFmpeg names the muxer) and muxer flags."""

    codec: str
    width: int
    height: int
    seconds: int
    fmt: str
    movflags: str = ""
    codec_tag: str = ""
    pad: bool = False  # padded to PADDED_BITRATE
    cut: str = ""  # "mid-mdat", "mid-moov", "before-moov", "no-moov", "mid-fragment", "mid-cluster", "at-100"


@dataclass(frozen=True)
class Raw:
    """A file that is no video container (or not one the reader supports), made by `make(path)`."""

    make: str  # the name of a maker in MAKERS


@dataclass(frozen=True)
class FFmpegView:
    """What FFmpeg (through PyAV) says of a file: its demuxer, first video stream, duration; or why it cannot."""

    opened: bool
    error: str = ""
    format_name: str = ""
    major_brand: str = ""
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None


@dataclass(frozen=True)
class CorpusFile:
    name: str
    path: Path
    size: int
    ffmpeg: FFmpegView
    spec: dict[str, Any] = field(default_factory=dict)


SIX = 360  # six minutes
ENTRIES: dict[str, Video | Raw] = {
    # H.264 in MP4: moov first and last, resolutions, portrait, lengths, bitrates
    "h264_720p_6m_faststart_1.3mbps.mp4": Video("libx264", 1280, 720, SIX, "mp4", "+faststart", pad=True),
    "h264_720p_6m_moovlast_1.3mbps.mp4": Video("libx264", 1280, 720, SIX, "mp4", pad=True),
    "h264_480p_6m_faststart_low.mp4": Video("libx264", 854, 480, SIX, "mp4", "+faststart"),
    "h264_360p_6m_moovlast_low.mp4": Video("libx264", 640, 360, SIX, "mp4"),
    "h264_480x854_6m_portrait_1.3mbps.mp4": Video("libx264", 480, 854, SIX, "mp4", "+faststart", pad=True),
    "h264_360x640_6m_portrait_low.mp4": Video("libx264", 360, 640, SIX, "mp4"),
    "h264_720p_10s_1.3mbps.mp4": Video("libx264", 1280, 720, 10, "mp4", "+faststart", pad=True),
    "h264_720p_4m50s_low.mp4": Video("libx264", 1280, 720, 290, "mp4"),
    "h264_720p_1h_low.mp4": Video("libx264", 1280, 720, 3600, "mp4", "+faststart"),
    # MOV, MKV, WebM
    "h264_720p_6m_1.3mbps.mov": Video("libx264", 1280, 720, SIX, "mov", pad=True),
    "h264_480p_6m_low.mov": Video("libx264", 854, 480, SIX, "mov", "+faststart"),
    "h264_720p_6m_1.3mbps.mkv": Video("libx264", 1280, 720, SIX, "matroska", pad=True),
    "h264_480p_6m_low.mkv": Video("libx264", 854, 480, SIX, "matroska"),
    "vp9_360p_20s_webm_doctype_low.mkv": Video("libvpx-vp9", 640, 360, 20, "webm"),
    # H.265
    "hevc_720p_6m_hev1_1.3mbps.mp4": Video("libx265", 1280, 720, SIX, "mp4", "+faststart", pad=True),
    "hevc_720p_6m_hvc1_1.3mbps.mp4": Video("libx265", 1280, 720, SIX, "mp4", codec_tag="hvc1", pad=True),
    "hevc_480p_6m_1.3mbps.mkv": Video("libx265", 854, 480, SIX, "matroska", pad=True),
    "hevc_360p_20s_low.mov": Video("libx265", 640, 360, 20, "mov"),
    # MPEG-4 Part 2, VP9
    "mpeg4_720p_6m_1.3mbps.mp4": Video("mpeg4", 1280, 720, SIX, "mp4", "+faststart", pad=True),
    "mpeg4_480p_6m_low.mkv": Video("mpeg4", 854, 480, SIX, "matroska"),
    "vp9_720p_6m_1.3mbps.webm": Video("libvpx-vp9", 1280, 720, SIX, "webm", pad=True),
    "vp9_480p_6m_low.mkv": Video("libvpx-vp9", 854, 480, SIX, "matroska"),
    "vp9_720p_6m_low.mp4": Video("libvpx-vp9", 1280, 720, SIX, "mp4", "+faststart"),
    # fragmented MP4
    "frag_h264_720p_6m_empty_moov_1.3mbps.mp4": Video(
        "libx264", 1280, 720, SIX, "mp4", "+frag_keyframe+empty_moov", pad=True
    ),
    "frag_h264_480p_6m_default_base_moof_low.mp4": Video(
        "libx264", 854, 480, SIX, "mp4", "+frag_keyframe+empty_moov+default_base_moof"
    ),
    "frag_h264_720p_6m_keyframe_low.mp4": Video("libx264", 1280, 720, SIX, "mp4", "+frag_keyframe"),
    "frag_h264_720p_6m_global_sidx_1.3mbps.mp4": Video(
        "libx264", 1280, 720, SIX, "mp4", "+frag_keyframe+empty_moov+global_sidx", pad=True
    ),
    "frag_h264_720p_6m_dash_low.mp4": Video("libx264", 1280, 720, SIX, "mp4", "+frag_keyframe+empty_moov+dash"),
    "frag_hevc_720p_6m_empty_moov_low.mp4": Video("libx265", 1280, 720, SIX, "mp4", "+frag_keyframe+empty_moov"),
    "frag_h264_720p_6m_cut_mid_fragment.mp4": Video(
        "libx264", 1280, 720, SIX, "mp4", "+frag_keyframe+empty_moov", cut="mid-fragment"
    ),
    "frag_h264_360p_4m_default_base_moof_low.mov": Video(
        "libx264", 640, 360, 240, "mov", "+frag_keyframe+empty_moov+default_base_moof"
    ),
    # cut short, broken
    "cut_mid_mdat_faststart.mp4": Video("libx264", 1280, 720, SIX, "mp4", "+faststart", cut="mid-mdat"),
    "cut_mid_moov_moovlast.mp4": Video("libx264", 1280, 720, SIX, "mp4", cut="mid-moov"),
    "cut_before_moov_moovlast.mp4": Video("libx264", 1280, 720, SIX, "mp4", cut="before-moov"),
    "no_moov_ftyp_mdat.mp4": Video("libx264", 1280, 720, SIX, "mp4", cut="no-moov"),
    "cut_mid_cluster.mkv": Video("libx264", 1280, 720, SIX, "matroska", cut="mid-cluster"),
    "cut_at_100_bytes.mkv": Video("libx264", 1280, 720, SIX, "matroska", cut="at-100"),
    # no video container (renamed)
    "text_renamed.mp4": Raw("text"),
    "jpeg_renamed.mp4": Raw("jpeg"),
    "mpegts_renamed.mp4": Raw("mpegts"),
    "avi_renamed.mkv": Raw("avi"),
    "audio_only.mp4": Raw("audio"),
    "empty.mp4": Raw("empty"),
    "random_bytes.mov": Raw("random"),
}


def corpus_key() -> str:
    """A hash of this file's source: a new corpus for every change of the generator."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def build_corpus(cache: Path) -> list[CorpusFile]:
    """The corpus in `cache/<key>/`, generated once (the manifest.json there holds FFmpeg's views).

    Made in a folder of this process's own and renamed into place, so two test workers making it at once do not
    mix their files; corpora of older keys are removed."""
    folder = cache / corpus_key()
    if not (folder / "manifest.json").exists():
        partial = cache / f"{folder.name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        views = {}
        for name, entry in ENTRIES.items():
            path = partial / name
            if isinstance(entry, Video):
                _write_video(path, entry)
            else:
                MAKERS[entry.make](path)
            views[name] = asdict(ffmpeg_view(path))
        (partial / "manifest.json").write_text(json.dumps(views, indent=1))
        try:
            partial.rename(folder)
        except OSError:  # another worker was first: its corpus is the same
            shutil.rmtree(partial, ignore_errors=True)
        for old in cache.iterdir():
            if old.is_dir() and not old.name.startswith(folder.name) and ".partial-" not in old.name:
                shutil.rmtree(old, ignore_errors=True)
    views = json.loads((folder / "manifest.json").read_text())
    return [
        CorpusFile(name, folder / name, (folder / name).stat().st_size, FFmpegView(**views[name]), _spec(entry))
        for name, entry in ENTRIES.items()
    ]


def _spec(entry: Video | Raw) -> dict[str, Any]:
    return asdict(entry)


def ffmpeg_view(path: Path) -> FFmpegView:
    """What FFmpeg says of the file: the demuxer, the first video stream's codec and picture, the duration."""
    import av

    try:
        with av.open(str(path)) as container:
            fmt = container.format.name
            brand = str(container.metadata.get("major_brand", ""))
            if not container.streams.video:
                return FFmpegView(True, "no video stream", fmt, brand)
            stream = container.streams.video[0]
            duration = None
            if container.duration is not None:
                duration = container.duration / av.time_base
            elif stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            return FFmpegView(
                True,
                "",
                fmt,
                brand,
                stream.codec_context.name,
                stream.codec_context.width or None,
                stream.codec_context.height or None,
                duration,
            )
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        return FFmpegView(False, f"{type(error).__name__}: {error}")


# ---- encoding --------------------------------------------------------------------------------------------------


def _encode(path: Path, video: Video) -> None:
    import av

    options = {"fflags": "+bitexact"}
    if video.movflags:
        options["movflags"] = video.movflags
    codec_options = {"g": str(GOP)}
    if video.codec in ("libx264", "libx265"):
        codec_options["preset"] = "ultrafast"
    if video.codec == "libx265":
        codec_options["x265-params"] = "log-level=error"
    if video.codec == "libvpx-vp9":
        codec_options.update({"deadline": "realtime", "cpu-used": "8"})
    frames = max(1, video.seconds // SECONDS_PER_FRAME)
    with av.open(str(path), "w", format=video.fmt, options=options) as container:
        stream = container.add_stream(video.codec, rate=Fraction(1, SECONDS_PER_FRAME), options=codec_options)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
        if video.codec_tag:
            stream.codec_context.codec_tag = video.codec_tag
        ramp = bytes(16 + (x * 3) % 220 for x in range(2 * video.width))
        for index in range(frames):
            frame = av.VideoFrame(video.width, video.height, "yuv420p")
            luma = frame.planes[0]
            shift = (index * 7) % video.width
            luma.update((ramp[shift : shift + video.width] + bytes(luma.line_size - video.width)) * video.height)
            for plane in frame.planes[1:]:
                plane.update(b"\x80" * plane.buffer_size)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _write_video(path: Path, video: Video) -> None:
    _encode(path, video)
    if video.pad:
        _pad(path, video)
    if video.cut:
        _cut(path, video.cut)


def _pad(path: Path, video: Video) -> None:
    """Grows the file to PADDED_BITRATE with padding players skip, as a sparse hole (no blocks on disk)."""
    target = PADDED_BITRATE * video.seconds // 8
    size = path.stat().st_size
    gap = target - size
    if gap <= 16:
        return
    with path.open("r+b") as file:
        if video.fmt in ("matroska", "webm"):
            # A Void element closing the Segment, whose 8-byte size grows to take it in.
            segment_at = _ebml_payload_end(file, 0)
            file.seek(segment_at + 4)
            raw = int.from_bytes(file.read(8), "big")
            if raw >> 56 != 0x01:
                raise ValueError("the muxer wrote no 8-byte Segment size")
            segment_size = raw & ((1 << 56) - 1)
            file.seek(segment_at + 4)
            file.write(((1 << 56) | (segment_size + gap)).to_bytes(8, "big"))
            file.seek(size)
            file.write(b"\xec" + ((1 << 56) | (gap - 9)).to_bytes(8, "big"))
        else:
            file.seek(size)
            file.write(struct.pack(">I4s", gap, b"free"))
        file.truncate(target)  # the rest is a hole: zeros that take no room


def _ebml_payload_end(file: Any, at: int) -> int:
    file.seek(at)
    head = file.read(12)
    id_length = 9 - head[0].bit_length()
    size_length = 9 - head[id_length].bit_length()
    body = at + id_length + size_length
    size = int.from_bytes(head[id_length : id_length + size_length], "big") & ((1 << (7 * size_length)) - 1)
    return int(body + size)


def top_level_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, end) of an ISO file's top-level boxes, as far as they go."""
    boxes, at = [], 0
    while at + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, at)
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, at + 8)
        elif size == 0:
            size = len(data) - at
        if size < 8:
            break
        boxes.append((kind, at, at + size))
        at += size
    return boxes


def moov_size(path: Path) -> int:
    """The size of the moov box an ISO file declares (0 for other files): the reader may read it whole."""
    with path.open("rb") as file:
        head = file.read(8)
        if len(head) < 8 or head[4:8] not in (b"ftyp", b"moov", b"mdat", b"free", b"wide"):
            return 0
        at, size = 0, path.stat().st_size
        while at + 8 <= size:
            file.seek(at)
            header = file.read(16)
            length, kind = struct.unpack_from(">I4s", header)
            if length == 1:
                (length,) = struct.unpack_from(">Q", header, 8)
            elif length == 0:
                length = size - at
            if kind == b"moov":
                return int(length)
            if length < 8:
                return 0
            at += length
    return 0


def _cut(path: Path, how: str) -> None:
    data = path.read_bytes()
    boxes = {kind: (start, end) for kind, start, end in top_level_boxes(data)}
    if how == "mid-mdat":  # moov first: the media data cut short, the metadata whole
        start, end = boxes[b"mdat"]
        data = data[: (start + end) // 2]
    elif how == "mid-moov":  # moov last, cut inside it
        start, end = boxes[b"moov"]
        data = data[: (start + end) // 2]
    elif how == "before-moov":  # moov last, cut inside mdat: no moov left
        start, end = boxes[b"mdat"]
        data = data[: (start + end) // 2]
    elif how == "no-moov":  # ftyp and mdat only
        data = b"".join(data[start:end] for kind, (start, end) in boxes.items() if kind in (b"ftyp", b"mdat"))
    elif how == "mid-fragment":  # fragmented: cut inside the mdat of a fragment halfway through the file
        mdats = [(start, end) for kind, start, end in top_level_boxes(data) if kind == b"mdat"]
        start, end = mdats[len(mdats) // 2]
        data = data[: (start + end) // 2]
    elif how == "mid-cluster":
        data = data[: len(data) * 2 // 3]
    elif how == "at-100":
        data = data[:100]
    path.write_bytes(data)


# ---- files that are no video container -------------------------------------------------------------------------


def _text(path: Path) -> None:
    path.write_text("This is not a video, only a text file renamed to .mp4.\n" * 40)


def _jpeg(path: Path) -> None:
    header = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffdb004300")
    path.write_bytes(header + bytes(range(64)) + b"\xff\xd9")


def _mpegts(path: Path) -> None:
    _encode(path, Video("libx264", 640, 360, 20, "mpegts"))


def _avi(path: Path) -> None:
    _encode(path, Video("mpeg4", 640, 360, 20, "avi"))


def _audio(path: Path) -> None:
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=8000, layout="mono")
        for index in range(20):
            frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
            frame.planes[0].update(bytes(frame.planes[0].buffer_size))
            frame.sample_rate, frame.pts = 8000, index * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _random(path: Path) -> None:
    path.write_bytes(hashlib.sha512(b"random").digest() * 64)


MAKERS: dict[str, Callable[[Path], None]] = {
    "text": _text,
    "jpeg": _jpeg,
    "mpegts": _mpegts,
    "avi": _avi,
    "audio": _audio,
    "empty": _empty,
    "random": _random,
}


def file_reader(path: Path) -> tuple[Callable[[int, int], bytes], int]:
    """A Reader over a file (what the S3 adapter's ranged GETs are to an object), and the file's size."""
    size = path.stat().st_size

    def read(offset: int, length: int) -> bytes:
        with path.open("rb") as file:
            file.seek(offset)
            return file.read(length)

    return read, size


__all__ = ["ENTRIES", "CorpusFile", "FFmpegView", "build_corpus", "file_reader", "moov_size"]
