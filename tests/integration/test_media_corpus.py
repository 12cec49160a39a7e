"""The container reader (domain/media.py) against FFmpeg on real files: for every file of the corpus
(tests/support/media_corpus.py), what probe reads agrees with what FFmpeg (through PyAV) says, the D-code verdict
computed from each is the same, and probe reads no more than its budget plus the moov box plus a few headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_corpus import ENTRIES, CorpusFile, FFmpegView, build_corpus, file_reader, moov_size

from antipiracy.domain.media import MediaInfo, NotAVideo, Unreadable, probe, read_budget, shortfalls

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "media-corpus"  # .cache/ is ignored by git
HEADERS = 64 * 1024
# One worker makes the corpus (about 10 s) and runs these tests, rather than every worker making its own.
pytestmark = pytest.mark.xdist_group("media-corpus")


@pytest.fixture(scope="session")
def corpus() -> dict[str, CorpusFile]:
    return {file.name: file for file in build_corpus(CACHE)}


def family(view: FFmpegView) -> str:
    """The container as FFmpeg names it: its ISO demuxer says mov for brand 'qt  ', mp4 for the others."""
    if view.format_name.startswith("mov,mp4"):
        return "mov" if view.major_brand.strip() == "qt" else "mp4"
    if view.format_name.startswith("matroska"):
        return "matroska"
    return view.format_name


def ffmpeg_verdict(view: FFmpegView, size: int) -> list[str]:
    """DoveRunner's requirements applied to FFmpeg's metadata, independently of media.shortfalls."""
    if not view.opened or view.codec is None or family(view) not in ("mp4", "mov", "matroska"):
        return ["D011"] if not view.opened or view.codec is None else ["D010"]
    codes = []
    if view.duration is None or view.duration < 300:
        codes.append("D002")
    if view.codec not in ("h264", "hevc"):
        codes.append("D003")
    if view.width is None or view.height is None or min(view.width, view.height) < 480:
        codes.append("D004")
    if view.duration is not None and view.duration > 0 and size * 8 / view.duration < 1_000_000:
        codes.append("D005")
    return codes


def probe_file(file: CorpusFile) -> MediaInfo | NotAVideo | Unreadable:
    read, size = file_reader(file.path)
    try:
        return probe(read, size)
    except (NotAVideo, Unreadable) as refusal:
        return refusal


def test_the_corpus_has_the_files_the_reader_is_proven_on(corpus: dict[str, CorpusFile]) -> None:
    assert len(corpus) >= 30
    assert set(corpus) == set(ENTRIES)


@pytest.mark.parametrize("name", list(ENTRIES))
def test_probe_agrees_with_ffmpeg(corpus: dict[str, CorpusFile], name: str) -> None:
    file = corpus[name]
    view = file.ffmpeg

    result = probe_file(file)

    if not view.opened or view.codec is None or family(view) not in ("mp4", "mov", "matroska"):
        assert isinstance(result, (NotAVideo, Unreadable)), f"FFmpeg: {view}; probe: {result}"
        return
    assert isinstance(result, MediaInfo), f"FFmpeg: {view}; probe: {result}"
    reader_family = "matroska" if result.container in ("mkv", "webm") else result.container
    assert reader_family == family(view)
    assert (result.video_codec, result.width, result.height) == (view.codec, view.width, view.height)
    assert view.duration is not None
    assert result.duration_seconds is not None
    assert result.duration_seconds == pytest.approx(view.duration, abs=max(0.1, view.duration / 100))
    assert result.fragmented == name.startswith("frag_")


@pytest.mark.parametrize("name", list(ENTRIES))
def test_the_verdict_from_probe_is_the_verdict_from_ffmpeg(corpus: dict[str, CorpusFile], name: str) -> None:
    file = corpus[name]
    expected = ffmpeg_verdict(file.ffmpeg, file.size)

    result = probe_file(file)

    if isinstance(result, MediaInfo):
        assert [shortfall.code for shortfall in shortfalls(result)] == expected
    else:
        # Refused before any requirement: D011 (no video container) or D010 (one the reader does not take: TS, AVI).
        assert expected in (["D011"], ["D010"]), f"probe: {result}; FFmpeg's verdict: {expected}"


@pytest.mark.parametrize("name", list(ENTRIES))
def test_probe_reads_within_its_budget_plus_the_moov_box(corpus: dict[str, CorpusFile], name: str) -> None:
    file = corpus[name]
    read, size = file_reader(file.path)
    asked = 0

    def counting(offset: int, length: int) -> bytes:
        nonlocal asked
        asked += length
        return read(offset, length)

    result: MediaInfo | Exception
    try:
        result = probe(counting, size)
    except (NotAVideo, Unreadable) as refusal:
        result = refusal

    assert asked <= read_budget(size) + moov_size(file.path) + HEADERS
    if isinstance(result, MediaInfo):
        assert result.bytes_read == asked


def test_the_corpus_is_read_in_a_few_kib_a_file(corpus: dict[str, CorpusFile]) -> None:
    read = {}
    for name, file in corpus.items():
        result = probe_file(file)
        if isinstance(result, MediaInfo):
            read[name] = result.bytes_read
    assert read, "no file was read"
    assert max(read.values()) <= 16 * 1024, read
