"""The upload streams: the uploading process's peak memory does not grow with the file's size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from doverunner_local.samples import make_sample

CHILD = Path(__file__).resolve().parents[2] / "bench" / "upload_child.py"
MIB = 1 << 20


def peak_rss_kib(env: dict[str, str], mode: str, video: Path) -> int:
    done = subprocess.run(
        [sys.executable, str(CHILD), mode, str(video)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(json.loads(done.stdout)["max_rss_kib"])


def sparse_video(path: Path, size: int) -> Path:
    make_sample(path, 4096)
    os.truncate(path, size)  # sparse: a large file that costs no disk
    return path


@pytest.mark.slow
def test_peak_memory_of_an_upload_does_not_grow_with_the_file_size(env: dict[str, str], tmp_path: Path) -> None:
    small = peak_rss_kib(env, "client", sparse_video(tmp_path / "small.mp4", 8 * MIB))

    large = peak_rss_kib(env, "client", sparse_video(tmp_path / "large.mp4", 384 * MIB))

    assert large - small < 16 * 1024, f"peak memory grew by {(large - small) // 1024} MiB for 376 MiB more data"


@pytest.mark.slow
def test_the_measurement_sees_growth_when_a_file_is_read_whole(env: dict[str, str], tmp_path: Path) -> None:
    # The same measurement, on the naive way of uploading, must show the file's size: else it proves nothing.
    small = peak_rss_kib(env, "read-all", sparse_video(tmp_path / "small.mp4", 8 * MIB))

    large = peak_rss_kib(env, "read-all", sparse_video(tmp_path / "large.mp4", 128 * MIB))

    assert large - small > 100 * 1024
