"""Sample videos: real H.264 clips that players open, carrying the marker the local DoveRunner reads, any size."""

from __future__ import annotations

import io
import struct
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from antipiracy.domain.media import probe, shortfalls
from doverunner_local import samples
from doverunner_local.content import ContentInspector, Inspection, media_failure, media_of
from doverunner_local.samples import COMPLIANT_SIZE, make_sample, write_sample

MIB = 1 << 20
KINDS = ("mp4", "mov", "mkv")
CONTAINER = {"mp4": "mp4", "mov": "mp4", "mkv": "mkv"}  # as the local DoveRunner names them
FRAMES = 50  # the short clip: 2 s at 25 fps


def decode(path: Path) -> tuple[str, int, int, int]:
    """The codec, width, height and number of decoded frames of a file's video stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        return stream.codec_context.name, frames[0].width, frames[0].height, len(frames)


def reader(path: Path) -> Callable[[int, int], bytes]:
    """read(offset, length) over a file, as the pre-flight check reads an object."""

    def read(offset: int, length: int) -> bytes:
        with path.open("rb") as source:
            source.seek(offset)
            return source.read(length)

    return read


def inspect(path: Path, chunk: int = 64 * 1024) -> Inspection:
    inspector = ContentInspector()
    with path.open("rb") as source:
        while piece := source.read(chunk):
            inspector.feed(piece)
    return inspector.result()


class CountingSink(io.BytesIO):
    """Counts what is written and keeps only its first bytes."""

    def __init__(self, keep: int = 0) -> None:
        super().__init__()
        self.count = 0
        self.keep = keep
        self.head = b""

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        size = len(memoryview(data))
        if len(self.head) < self.keep:
            self.head += bytes(memoryview(data)[: self.keep - len(self.head)])
        self.count += size
        return size


def clip_size(kind: str, **options: str) -> int:
    """The size of the short clip with its marker: a requested size below it gives the clip alone."""
    return write_sample(io.BytesIO(), kind, 0, short=True, **options)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_an_h264_clip_that_decodes_into_every_frame(kind: str, tmp_path: Path) -> None:
    path = make_sample(tmp_path / f"clip.{kind}", mark="0000000000000001")

    codec, width, height, frames = decode(path)

    assert (codec, width, height, frames) == ("h264", 854, 480, 302)


@pytest.mark.parametrize("kind", KINDS)
def test_a_default_sample_meets_every_requirement_of_doverunners_detector(kind: str, tmp_path: Path) -> None:
    path = make_sample(tmp_path / f"clip.{kind}", mark="0000000000000001")

    media = media_of(str(path))

    assert path.stat().st_size == COMPLIANT_SIZE
    assert media_failure(media, COMPLIANT_SIZE) is None
    assert shortfalls(probe(reader(path), COMPLIANT_SIZE)) == []


@pytest.mark.parametrize("kind", KINDS)
def test_the_short_clip_is_too_short_and_too_small_for_doverunner(kind: str, tmp_path: Path) -> None:
    path = make_sample(tmp_path / f"short.{kind}", short=True)

    found = shortfalls(probe(reader(path), path.stat().st_size))

    assert [shortfall.code for shortfall in found] == ["D002", "D004", "D005"]
    assert media_failure(media_of(str(path)), path.stat().st_size) == "D002"


def test_a_sample_written_to_disk_leaves_its_padding_as_a_hole(tmp_path: Path) -> None:
    path = make_sample(tmp_path / "sparse.mkv")

    on_disk = path.stat().st_blocks * 512

    assert path.stat().st_size == COMPLIANT_SIZE
    assert on_disk < 2 * MIB


def test_an_encoded_clip_is_cached_on_disk_and_read_back_instead_of_encoded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an empty cache folder, and a first sample encoded into it
    monkeypatch.setenv("DOVERUNNER_SAMPLES_CACHE", str(tmp_path / "cache"))
    samples._clip.cache_clear()
    samples._video.cache_clear()
    first = write_sample(io.BytesIO(), "mp4", 0, short=True)

    # When the process forgets it and the encoder is gone
    samples._clip.cache_clear()
    samples._video.cache_clear()
    monkeypatch.setattr(samples, "_encode", lambda *_: pytest.fail("encoded again"))
    again = io.BytesIO()
    write_sample(again, "mp4", 0, short=True)

    # Then the same clip comes from the cache
    assert len(list((tmp_path / "cache").iterdir())) == 1
    assert len(again.getvalue()) == first
    samples._clip.cache_clear()
    samples._video.cache_clear()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("options", "found"),
    [({"mark": "00000000000000ff"}, ("MARK", "00000000000000ff")), ({"fail": "D007"}, ("FAIL", "D007"))],
)
def test_the_local_doverunner_finds_the_marker_and_recognizes_the_container(
    kind: str, options: dict[str, str], found: tuple[str, str], tmp_path: Path
) -> None:
    path = make_sample(tmp_path / f"sample.{kind}", 300_000, short=True, **options)

    inspection = inspect(path)

    assert (inspection.marker_kind, inspection.marker_value) == found
    assert inspection.container == CONTAINER[kind]
    assert inspection.size == path.stat().st_size


@pytest.mark.parametrize("kind", KINDS)
def test_the_marker_sits_near_the_start_so_a_file_cut_short_still_carries_it(kind: str, tmp_path: Path) -> None:
    path = make_sample(tmp_path / f"sample.{kind}", 8 * MIB, mark="0000000000abcdef", short=True)

    inspector = ContentInspector()
    with path.open("rb") as source:
        inspector.feed(source.read(2048))

    assert inspector.result().marker_value == "0000000000abcdef"


@pytest.mark.parametrize("kind", KINDS)
def test_a_sample_without_a_mark_or_failure_carries_no_marker(kind: str, tmp_path: Path) -> None:
    path = make_sample(tmp_path / f"clean.{kind}", 300_000, short=True)

    inspection = inspect(path)

    assert (inspection.marker_kind, inspection.marker_value) == (None, None)
    assert b"DRSIM" not in path.read_bytes()
    assert inspection.container == CONTAINER[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_a_requested_size_of_8_mib_gives_a_file_of_about_that_size_that_still_decodes(
    kind: str, tmp_path: Path
) -> None:
    path = make_sample(tmp_path / f"big.{kind}", 8 * MIB, mark="0000000000000002", short=True)

    size = path.stat().st_size

    assert abs(size - 8 * MIB) <= 8 * MIB // 100
    assert decode(path) == ("h264", 320, 240, FRAMES)
    assert inspect(path, chunk=MIB).marker_value == "0000000000000002"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("extra", [1, 2, 7, 8, 9, 1000])
def test_any_size_above_the_clip_gives_at_least_that_many_bytes_of_a_file_that_decodes(
    kind: str, extra: int, tmp_path: Path
) -> None:
    requested = clip_size(kind, fail="D002") + extra

    path = make_sample(tmp_path / f"odd.{kind}", requested, fail="D002", short=True)

    assert requested <= path.stat().st_size <= requested + 7  # a padding header may need a few bytes more
    assert decode(path)[3] == FRAMES


@pytest.mark.parametrize("kind", KINDS)
def test_a_size_below_the_clip_gives_the_whole_clip(kind: str, tmp_path: Path) -> None:
    path = make_sample(tmp_path / f"tiny.{kind}", 4096, mark="0000000000000001", short=True)

    written = path.stat().st_size

    assert written > 4096
    assert written == clip_size(kind, mark="0000000000000001")
    assert decode(path)[3] == FRAMES


def test_a_mov_sample_is_a_quicktime_file_and_an_mp4_an_iso_one(tmp_path: Path) -> None:
    mov = make_sample(tmp_path / "a.mov", short=True).read_bytes()

    mp4 = make_sample(tmp_path / "a.mp4", short=True).read_bytes()

    assert mov[4:12] == b"ftypqt  "
    assert mp4[4:12] == b"ftypisom"


def test_write_sample_returns_the_bytes_it_wrote() -> None:
    out = io.BytesIO()

    written = write_sample(out, "mkv", 123_456, mark="0000000000000001", short=True)

    assert written == len(out.getvalue()) == 123_456


def test_a_sample_over_4_gib_pads_with_a_64_bit_free_box() -> None:
    size = 5 << 30
    clip = clip_size("mp4")
    sink = CountingSink(keep=clip + 16)

    written = write_sample(sink, "mp4", size, short=True)

    assert written == sink.count == size
    assert sink.head[clip:] == struct.pack(">I", 1) + b"free" + struct.pack(">Q", size - clip)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_writing_a_256_mib_sample_does_not_grow_peak_memory(kind: str) -> None:
    # Given the clip already encoded (once per process), only the padding is left to write.
    write_sample(io.BytesIO(), kind, 0, short=True)
    sink = CountingSink()
    tracemalloc.start()
    try:
        write_sample(sink, kind, 256 * MIB, mark="0000000000000001", short=True)

        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert sink.count == 256 * MIB
    assert peak < 2 * MIB, f"peak {peak / MIB:.1f} MiB"


def test_make_sample_refuses_an_unknown_extension_without_creating_the_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported sample kind"):
        make_sample(tmp_path / "clip.avi")

    assert not (tmp_path / "clip.avi").exists()


def test_a_sample_carries_a_mark_or_a_failure_not_both(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        make_sample(tmp_path / "clip.mp4", mark="0000000000000001", fail="D007")
