"""A URL request's video read in HTTP ranges for the pre-flight check (adapters/http_media.py), against local
servers: one that answers ranges, one that does not, one that is slow."""

from __future__ import annotations

from pathlib import Path

import pytest
from iso_media import ftyp, mdat_header, moov, mvhd, trak
from range_server import range_server

from antipiracy.adapters.http_media import HttpMedia
from antipiracy.domain.media import probe
from antipiracy.domain.preflight import Unchecked

CLIP = ftyp() + moov(mvhd(1000, 2000), trak(b"avc1", (320, 240))) + mdat_header(200_008) + bytes(200_000)


def test_a_server_that_answers_ranges_gives_the_videos_size_and_its_metadata_in_a_few_kib() -> None:
    with range_server({"/v/clip.mp4": CLIP}) as base:
        read, size = HttpMedia().open(f"{base}/v/clip.mp4")
        info = probe(read, size)

    assert (size, info.duration_seconds, info.width, info.height) == (len(CLIP), 2.0, 320, 240)
    assert info.bytes_read <= 64 * 1024


def test_a_server_that_answers_no_range_request_leaves_the_video_unchecked(tmp_path: Path, file_server: str) -> None:
    (tmp_path / "clip.mp4").write_bytes(CLIP)

    with pytest.raises(Unchecked, match="does not answer range requests"):
        HttpMedia().open(f"{file_server}/clip.mp4")


def test_a_missing_video_leaves_it_unchecked_with_the_status() -> None:
    with range_server({}) as base, pytest.raises(Unchecked, match="HTTP 404"):
        HttpMedia().open(f"{base}/gone.mp4")


def test_a_slow_server_is_given_up_at_the_deadline() -> None:
    with range_server({"/v/clip.mp4": CLIP}, delay=0.5) as base, pytest.raises(Unchecked):
        HttpMedia(timeout=0.2, deadline=0.3).open(f"{base}/v/clip.mp4")


def test_an_unreachable_host_leaves_the_video_unchecked() -> None:
    with pytest.raises(Unchecked, match="could not be read"):
        HttpMedia(timeout=0.5).open("http://127.0.0.1:9/clip.mp4")
