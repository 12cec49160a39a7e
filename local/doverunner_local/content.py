"""How the local DoveRunner reads a video: streamed, in constant memory, deciding the outcome from its bytes.

A file carries its forensic mark as an ASCII marker anywhere in its bytes (the sample generator writes it in a
`free` box of an MP4/MOV or a Void element of an MKV):

    DRSIM:MARK=<hex payload>;   the watermark of the session with that forensic mark is found
    DRSIM:FAIL=<D-code>;        detection fails with that code (D000..D013)

No marker: the detection completes with no watermark. Bytes that are no video container (ISO BMFF, Matroska or
MPEG-TS): D011, the media specification cannot be read.

With `read_media` (the emulator's `judge_media` setting) the bytes are also spooled, as they come, to a temporary
file on disk, which FFmpeg (through PyAV) opens once the last byte is in, to read the video's metadata; the file is
deleted at once. `media_failure` applies DoveRunner's requirements to what it read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from types import TracebackType
from typing import BinaryIO

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


# DoveRunner's requirements of a video (the guide's table)
MIN_DURATION_SECONDS = 300.0  # D002
CODECS = ("h264", "hevc")  # D003, as FFmpeg names H.264 and H.265
MIN_SHORT_SIDE = 480  # D004
MIN_BITRATE = 1_000_000  # D005, bits per second: file size * 8 / duration


@dataclass(frozen=True)
class MediaReading:
    """What FFmpeg read of a video: its demuxer and first video stream; `error` when it could not open it or found
    no video stream."""

    error: str = ""
    format_name: str = ""
    codec: str = ""
    width: int = 0
    height: int = 0
    duration: float | None = None


def media_of(path: str) -> MediaReading:
    """Opens the file with FFmpeg (through PyAV): the format, the first video stream's codec and picture, the
    duration (the container's, else the stream's)."""
    import av  # imported where used: the emulator runs without PyAV while `judge_media` is off

    try:
        with av.open(path) as container:
            fmt = container.format.name
            if not container.streams.video:
                return MediaReading("no video stream", fmt)
            stream = container.streams.video[0]
            duration = None
            if container.duration is not None:
                duration = container.duration / av.time_base
            elif stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            context = stream.codec_context
            return MediaReading("", fmt, context.name or "", context.width or 0, context.height or 0, duration)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as error:
        return MediaReading(f"{type(error).__name__}: {error}")


def media_failure(media: MediaReading, size: int) -> str | None:
    """The D-code of the first requirement the video fails, in the guide's order; None when it meets them all."""
    if media.error:
        return "D011"
    if media.duration is None or media.duration < MIN_DURATION_SECONDS:
        return "D002"
    if media.codec not in CODECS:
        return "D003"
    if min(media.width, media.height) < MIN_SHORT_SIDE:
        return "D004"
    if size * 8 / media.duration < MIN_BITRATE:
        return "D005"
    return None


@dataclass(frozen=True)
class Inspection:
    size: int
    sha256: str
    container: str | None
    marker_kind: str | None  # "MARK" or "FAIL"
    marker_value: str | None
    media: MediaReading | None = None  # read only with `read_media`


class ContentInspector:
    """Fed chunk by chunk; keeps only the first bytes and a short carry-over, whatever the size.

    With `read_media` it also writes every chunk to a temporary file (chunks of zeros as holes, so padding takes no
    room on disk) that `result` has FFmpeg read and then deletes; `close` (or leaving a `with` block) deletes it
    when the bytes never all came. Memory stays constant either way."""

    def __init__(self, *, read_media: bool = False) -> None:
        self._head = b""
        self._tail = b""
        self._size = 0
        self._hash = hashlib.sha256()
        self._marker: tuple[str, str] | None = None
        self._spool: BinaryIO | None = None
        self._spool_path: str | None = None
        if read_media:
            handle, self._spool_path = tempfile.mkstemp(prefix="doverunner-local-media-", suffix=".video")
            self._spool = os.fdopen(handle, "wb")

    def __enter__(self) -> ContentInspector:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Deletes the temporary file, if any; safe to call more than once."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        if self._spool_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._spool_path)
            self._spool_path = None

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._size += len(chunk)
        self._hash.update(chunk)
        if self._spool is not None:
            if chunk.count(0) == len(chunk):
                self._spool.seek(len(chunk), os.SEEK_CUR)  # a hole; `result` sets the file's length
            else:
                self._spool.write(chunk)
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
        media = None
        if self._spool is not None and self._spool_path is not None:
            try:
                self._spool.truncate(self._size)  # trailing zeros were skipped, not written
                self._spool.close()
                self._spool = None
                media = media_of(self._spool_path)
            finally:
                self.close()
        return Inspection(self._size, self._hash.hexdigest(), container_of(self._head), kind, value, media)
