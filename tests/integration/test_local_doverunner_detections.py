"""Detections move through the guide's statuses and end as the video itself decides."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from aws_clients import unique_name
from media_corpus import build_corpus

from doverunner import DoveRunnerApiError, DoveRunnerClient
from doverunner_local.samples import make_sample
from doverunner_local.server import LocalDoveRunner

FAILED_BY_ANALYSIS = ["D000", "D002", "D003", "D004", "D005", "D006", "D007", "D008", "D009", "D012", "D013"]


def run_url(client: DoveRunnerClient, url: str, title: str = "suspect") -> dict[str, object]:
    detection_id = client.detect_url(title, url)
    return client.wait(detection_id, interval=0.02, timeout=20).to_dict()


def test_detection_walks_through_every_status_of_the_guide(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, sample: Callable[..., Path], file_server: str
) -> None:
    sample("a.mp4", mark="0000000000000001")

    detection_id = client.detect_url("walk", f"{file_server}/a.mp4")
    client.wait(detection_id, interval=0.02, timeout=20)

    history = local_doverunner.emulator.detections[detection_id].history
    assert [(h["detect_status"], h["detect_progress_status"]) for h in history] == [
        ("FD001", ""),
        ("FD002", "FD210"),
        ("FD002", "FD220"),
        ("FD003", "FD311"),
        ("FD003", "FD312"),
        ("FD004", "FD400"),
    ]


def test_video_with_a_known_sessions_mark_reports_that_session(
    client: DoveRunnerClient, sample: Callable[..., Path], file_server: str
) -> None:
    sample("pirated.mkv", mark="00000000000000ff")

    result = run_url(client, f"{file_server}/pirated.mkv")

    assert result["watermark_found"] is True
    assert result["wm_key"] == "00000000000000ff"
    assert "sess-1255" in str(result["wm_data"])


def test_video_with_a_mark_of_no_known_session_completes_without_session_data(
    client: DoveRunnerClient, sample: Callable[..., Path], file_server: str
) -> None:
    sample("a.mov", mark="0000000000abcdef")

    result = run_url(client, f"{file_server}/a.mov")

    assert (result["detect_status"], result["wm_key"], result["wm_data"]) == ("FD004", "0000000000abcdef", "")


def test_video_without_a_mark_completes_with_no_watermark(
    client: DoveRunnerClient, sample: Callable[..., Path], file_server: str
) -> None:
    sample("clean.mp4")

    result = run_url(client, f"{file_server}/clean.mp4")

    assert (result["detect_status"], result["watermark_found"]) == ("FD004", False)


@pytest.mark.parametrize("d_code", FAILED_BY_ANALYSIS)
def test_analysis_failure_ends_in_fd007_with_its_d_code(
    client: DoveRunnerClient, sample: Callable[..., Path], file_server: str, d_code: str
) -> None:
    sample("bad.mp4", fail=d_code)

    result = run_url(client, f"{file_server}/bad.mp4")

    assert (result["detect_status"], result["detect_progress_status"], result["error_code"]) == (
        "FD007",
        "FD700",
        d_code,
    )
    assert result["failure"]["description"]  # type: ignore[index]


def test_unreachable_video_ends_in_fd006_d001(client: DoveRunnerClient, file_server: str) -> None:
    result = run_url(client, f"{file_server}/missing.mp4")

    assert (result["detect_status"], result["error_code"]) == ("FD006", "D001")


def test_video_url_with_another_extension_ends_in_d010(
    client: DoveRunnerClient, sample: Callable[..., Path], file_server: str
) -> None:
    sample("clip.mp4").rename(Path(str(sample("x.mp4")).replace("x.mp4", "clip.avi")))

    result = run_url(client, f"{file_server}/clip.avi")

    assert (result["detect_status"], result["error_code"]) == ("FD006", "D010")


def test_file_that_is_no_video_container_ends_in_d011(
    client: DoveRunnerClient, tmp_path: Path, file_server: str
) -> None:
    (tmp_path / "text.mp4").write_text("this is not a video " * 100)

    result = run_url(client, f"{file_server}/text.mp4")

    assert (result["detect_status"], result["error_code"]) == ("FD006", "D011")


def test_marker_split_across_download_chunks_is_still_found(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, tmp_path: Path, file_server: str
) -> None:
    judge_media(local_doverunner, on=False)  # bytes shaped for the marker reader, no video
    body = b"\x00\x00\x00\x18ftypisom" + b"\x00" * (64 * 1024 - 20) + b"DRSIM:MARK=0000000000000002;" + b"\x00" * 100
    (tmp_path / "split.mp4").write_bytes(body)

    assert run_url(client, f"{file_server}/split.mp4")["wm_key"] == "0000000000000002"


def test_admin_outcome_overrides_what_the_video_says(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, sample: Callable[..., Path], file_server: str
) -> None:
    sample("a.mp4", mark="0000000000000001")
    local_doverunner.emulator.add_outcome("forced", fail="D008")

    result = run_url(client, f"{file_server}/a.mp4", title="a forced failure")

    assert result["error_code"] == "D008"


def test_live_stream_detection_reads_the_manifest_and_its_segments(
    client: DoveRunnerClient, tmp_path: Path, file_server: str
) -> None:
    (tmp_path / "seg0.ts").write_bytes(b"\x47" + b"\x00" * 187 + b"\x47" + b"\x00" * 500)
    (tmp_path / "seg1.ts").write_bytes(b"\x47" + b"\x00" * 200 + b"DRSIM:MARK=0000000000000001;")
    (tmp_path / "media.m3u8").write_text("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\nseg0.ts\n#EXTINF:6,\nseg1.ts\n")
    (tmp_path / "master.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=2000000\nmedia.m3u8\n")

    detection_id = client.detect_live("live channel", f"{file_server}/master.m3u8")
    result = client.wait(detection_id, interval=0.02, timeout=20)

    assert (result.req_type, result.wm_key) == ("stream", "0000000000000001")


def test_live_stream_that_is_no_hls_manifest_ends_in_d011(
    client: DoveRunnerClient, tmp_path: Path, file_server: str
) -> None:
    (tmp_path / "not.m3u8").write_text("hello")

    result = client.wait(client.detect_live("live", f"{file_server}/not.m3u8"), interval=0.02, timeout=20)

    assert result.error_code == "D011"


def test_revoke_token_of_a_known_session_verifies(client: DoveRunnerClient, local_doverunner: LocalDoveRunner) -> None:
    token = local_doverunner.emulator.sessions["0000000000000001"].revoke_token

    assert client.verify_token(token).is_valid is True


def test_unknown_revoke_token_does_not_verify(client: DoveRunnerClient) -> None:
    assert client.verify_token("bm90LWEtdG9rZW4=").is_valid is False


def test_session_added_through_the_admin_surface_is_found_and_verifies(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, sample: Callable[..., Path], file_server: str
) -> None:
    local_doverunner.emulator.add_session("1234567890abcdef", "session_id=s-9", revoke_token="Ab+/Cd==")
    sample("a.mp4", mark="1234567890abcdef")

    result = run_url(client, f"{file_server}/a.mp4")

    assert result["wm_data"] == "session_id=s-9"
    assert client.verify_token("Ab+/Cd==").is_valid is True


def test_url_detection_downloads_a_presigned_url_of_a_local_s3(
    client: DoveRunnerClient, aws_client: Callable[..., Any], tmp_path: Path
) -> None:
    s3 = aws_client("s3")
    bucket = unique_name("suspects-")
    s3.create_bucket(Bucket=bucket)
    path = make_sample(tmp_path / "leak.mp4", mark="0000000000000001")
    s3.upload_file(str(path), bucket, "inbox/leak.mp4")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "inbox/leak.mp4"}, ExpiresIn=300)

    result = run_url(client, url)

    assert (result["detect_status"], result["wm_key"]) == ("FD004", "0000000000000001")


def clean_live_stream(folder: Path, segments: int = 2) -> None:
    """An HLS media playlist of MPEG-TS segments that carry no mark."""
    names = [f"seg{i}.ts" for i in range(segments)]
    for name in names:
        (folder / name).write_bytes(b"\x47" + b"\x00" * 187 + b"\x47" + b"\x00" * 500)
    write_playlist(folder, names)


def write_playlist(folder: Path, names: list[str]) -> None:
    entries = "".join(f"#EXTINF:6,\n{name}\n" for name in names)
    (folder / "live.m3u8").write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:6\n{entries}")


def wait_until_analyzing(client: DoveRunnerClient, detection_id: int) -> None:
    deadline = time.monotonic() + 20
    while client.detail(detection_id).detect_progress_status != "FD311":
        assert time.monotonic() < deadline, "the live detection never reached FD003/FD311"
        time.sleep(0.02)


def steps(local: LocalDoveRunner, count: int) -> None:
    time.sleep(count * local.config.step_seconds)


def test_live_detection_of_a_clean_stream_stays_analyzing_over_several_steps(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, tmp_path: Path, file_server: str
) -> None:
    clean_live_stream(tmp_path)
    detection_id = client.detect_live("clean channel", f"{file_server}/live.m3u8")
    wait_until_analyzing(client, detection_id)

    steps(local_doverunner, 15)
    result = client.detail(detection_id)

    assert (result.detect_status, result.detect_progress_status) == ("FD003", "FD311")


def test_live_detection_of_a_clean_stream_ends_stopped_after_a_stop_request(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, tmp_path: Path, file_server: str
) -> None:
    clean_live_stream(tmp_path)
    detection_id = client.detect_live("clean channel", f"{file_server}/live.m3u8")
    wait_until_analyzing(client, detection_id)

    client.stop(detection_id)
    result = client.wait(detection_id, interval=0.02, timeout=20)

    assert (result.detect_status, result.detect_progress_status) == ("FD005", "FD520")
    history = local_doverunner.emulator.detections[detection_id].history
    assert [h["detect_progress_status"] for h in history[-2:]] == ["FD510", "FD520"]


def test_stopping_a_live_detection_that_already_ended_is_a4028(
    client: DoveRunnerClient, tmp_path: Path, file_server: str
) -> None:
    clean_live_stream(tmp_path)
    detection_id = client.detect_live("clean channel", f"{file_server}/live.m3u8")
    wait_until_analyzing(client, detection_id)
    client.stop(detection_id)
    client.wait(detection_id, interval=0.02, timeout=20)

    with pytest.raises(DoveRunnerApiError) as refused:
        client.stop(detection_id)

    assert refused.value.code == "A4028"


def test_live_detection_finds_a_mark_that_appears_in_a_new_segment_while_it_runs(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, tmp_path: Path, file_server: str
) -> None:
    clean_live_stream(tmp_path)
    detection_id = client.detect_live("live channel", f"{file_server}/live.m3u8")
    wait_until_analyzing(client, detection_id)
    steps(local_doverunner, 5)

    (tmp_path / "seg2.ts").write_bytes(b"\x47" + b"\x00" * 200 + b"DRSIM:MARK=0000000000000002;")
    write_playlist(tmp_path, ["seg0.ts", "seg1.ts", "seg2.ts"])
    result = client.wait(detection_id, interval=0.02, timeout=20)

    assert (result.detect_status, result.detect_progress_status, result.wm_key) == (
        "FD004",
        "FD400",
        "0000000000000002",
    )
    assert result.wm_data == local_doverunner.emulator.sessions["0000000000000002"].session_data


def test_live_detection_keeps_watching_while_its_manifest_is_unreachable(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, tmp_path: Path, file_server: str
) -> None:
    clean_live_stream(tmp_path)
    detection_id = client.detect_live("flaky channel", f"{file_server}/live.m3u8")
    wait_until_analyzing(client, detection_id)

    (tmp_path / "live.m3u8").unlink()
    steps(local_doverunner, 10)
    (tmp_path / "seg2.ts").write_bytes(b"\x47" + b"\x00" * 200 + b"DRSIM:MARK=0000000000000001;")
    write_playlist(tmp_path, ["seg0.ts", "seg1.ts", "seg2.ts"])
    result = client.wait(detection_id, interval=0.02, timeout=20)

    assert (result.detect_status, result.wm_key) == ("FD004", "0000000000000001")


def test_live_detection_never_stopped_ends_stopped_after_live_max_seconds(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, tmp_path: Path, file_server: str
) -> None:
    requests.patch(f"{local_doverunner.url}/_emulator/config", json={"live_max_seconds": 0.3}, timeout=5)
    clean_live_stream(tmp_path)

    result = client.wait(client.detect_live("endless", f"{file_server}/live.m3u8"), interval=0.02, timeout=20)

    assert (result.detect_status, result.detect_progress_status) == ("FD005", "FD520")


def test_detection_quota_refuses_a_live_registration_past_it_with_a4019(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, file_server: str
) -> None:
    requests.patch(f"{local_doverunner.url}/_emulator/config", json={"detection_quota": 1}, timeout=5)
    client.detect_url("first", f"{file_server}/missing.mp4")

    with pytest.raises(DoveRunnerApiError) as refused:
        client.detect_live("second", f"{file_server}/live.m3u8")

    assert refused.value.code == "A4019"


@pytest.mark.parametrize("quota", [None, 5])
def test_detection_quota_raised_or_cleared_at_run_time_lets_registrations_through(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, file_server: str, quota: int | None
) -> None:
    config_url = f"{local_doverunner.url}/_emulator/config"
    requests.patch(config_url, json={"detection_quota": 1}, timeout=5)
    client.detect_url("first", f"{file_server}/missing.mp4")

    changed = requests.patch(config_url, json={"detection_quota": quota}, timeout=5)
    detection_id = client.detect_url("second", f"{file_server}/missing.mp4")

    assert changed.json()["detection_quota"] == quota
    assert detection_id in local_doverunner.emulator.detections


# ---- judge_media: the video's real metadata against DoveRunner's requirements ----------------------------------

CORPUS_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "media-corpus"  # as test_media_corpus.py
COMPLIANT = "h264_720p_6m_faststart_1.3mbps.mp4"
# A file of the corpus, and the requirement it fails first: its code and the status it ends in.
FAILING = [
    ("h264_720p_10s_1.3mbps.mp4", "FD007", "D002"),
    ("mpeg4_720p_6m_1.3mbps.mp4", "FD007", "D003"),
    ("h264_360p_6m_moovlast_low.mp4", "FD007", "D004"),
    ("h264_480p_6m_faststart_low.mp4", "FD007", "D005"),
    ("text_renamed.mp4", "FD006", "D011"),
]


@pytest.fixture(scope="module")
def corpus() -> dict[str, Path]:
    return {file.name: file.path for file in build_corpus(CORPUS_CACHE)}


def judge_media(local: LocalDoveRunner, on: bool = True) -> None:
    changed = requests.patch(f"{local.url}/_emulator/config", json={"judge_media": on}, timeout=5)
    assert changed.json()["judge_media"] is on


def run_upload(client: DoveRunnerClient, path: Path, title: str = "suspect upload") -> dict[str, object]:
    with path.open("rb") as stream:
        receipt = client.detect_upload(stream, path.stat().st_size, title=title, extension=path.suffix)
    assert receipt.detection is not None
    return client.wait(receipt.detection.detection_id, interval=0.02, timeout=20).to_dict()


def ending(result: dict[str, object]) -> tuple[object, object]:
    return result["detect_status"], result["error_code"]


@pytest.mark.xdist_group("media-corpus")
@pytest.mark.parametrize(("name", "status", "code"), FAILING)
def test_judged_upload_failing_a_requirement_ends_with_its_code(
    client: DoveRunnerClient,
    local_doverunner: LocalDoveRunner,
    corpus: dict[str, Path],
    name: str,
    status: str,
    code: str,
) -> None:
    judge_media(local_doverunner)

    result = run_upload(client, corpus[name])

    assert ending(result) == (status, code)


@pytest.mark.xdist_group("media-corpus")
@pytest.mark.parametrize(("name", "status", "code"), [FAILING[0], FAILING[-1]])
def test_judged_url_detection_failing_a_requirement_ends_with_its_code(
    client: DoveRunnerClient,
    local_doverunner: LocalDoveRunner,
    corpus: dict[str, Path],
    tmp_path: Path,
    file_server: str,
    name: str,
    status: str,
    code: str,
) -> None:
    judge_media(local_doverunner)
    (tmp_path / name).symlink_to(corpus[name])

    result = run_url(client, f"{file_server}/{name}")

    assert ending(result) == (status, code)


@pytest.mark.xdist_group("media-corpus")
def test_judged_upload_meeting_every_requirement_completes_with_no_watermark(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, corpus: dict[str, Path]
) -> None:
    judge_media(local_doverunner)

    result = run_upload(client, corpus[COMPLIANT])

    assert (result["detect_status"], result["error_code"], result["watermark_found"]) == ("FD004", "", False)


@pytest.mark.xdist_group("media-corpus")
def test_judged_url_detection_meeting_every_requirement_completes_with_no_watermark(
    client: DoveRunnerClient,
    local_doverunner: LocalDoveRunner,
    corpus: dict[str, Path],
    tmp_path: Path,
    file_server: str,
) -> None:
    judge_media(local_doverunner)
    (tmp_path / COMPLIANT).symlink_to(corpus[COMPLIANT])

    result = run_url(client, f"{file_server}/{COMPLIANT}")

    assert (result["detect_status"], result["error_code"], result["watermark_found"]) == ("FD004", "", False)


def test_judged_short_sample_with_a_mark_fails_d002_before_its_mark_is_read(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, sample: Callable[..., Path], file_server: str
) -> None:
    judge_media(local_doverunner)
    sample("short.mp4", mark="0000000000000001", short=True)

    result = run_url(client, f"{file_server}/short.mp4")

    assert (result["detect_status"], result["error_code"], result["wm_key"]) == ("FD007", "D002", "")


def test_short_sample_with_judging_turned_off_completes_as_its_marker_says(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, sample: Callable[..., Path], file_server: str
) -> None:
    judge_media(local_doverunner, on=False)
    sample("short.mp4", mark="0000000000000001", short=True)

    result = run_url(client, f"{file_server}/short.mp4")

    assert (result["detect_status"], result["wm_key"]) == ("FD004", "0000000000000001")


def test_short_upload_with_judging_turned_off_completes_with_no_watermark(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, sample: Callable[..., Path]
) -> None:
    judge_media(local_doverunner, on=False)

    result = run_upload(client, sample("short.mp4", short=True))

    assert (result["detect_status"], result["watermark_found"]) == ("FD004", False)


def test_admin_outcome_by_title_wins_over_judging_the_video(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, sample: Callable[..., Path], file_server: str
) -> None:
    judge_media(local_doverunner)
    sample("short.mp4", short=True)
    local_doverunner.emulator.add_outcome("forced", mark="0000000000000002")

    result = run_url(client, f"{file_server}/short.mp4", title="a forced mark")

    assert (result["detect_status"], result["wm_key"]) == ("FD004", "0000000000000002")


def test_judge_media_set_to_a_non_boolean_is_refused(local_doverunner: LocalDoveRunner) -> None:
    refused = requests.patch(f"{local_doverunner.url}/_emulator/config", json={"judge_media": "yes"}, timeout=5)

    assert refused.status_code == 400
    assert local_doverunner.config.judge_media is True


def test_judging_leaves_no_temporary_file_behind(
    client: DoveRunnerClient,
    local_doverunner: LocalDoveRunner,
    sample: Callable[..., Path],
    tmp_path: Path,
    file_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))  # where the in-process emulator spools its videos
    judge_media(local_doverunner)
    sample("short.mp4", short=True)

    run_url(client, f"{file_server}/short.mp4")
    run_upload(client, sample("upload.mp4"))

    assert list(spool.iterdir()) == []
