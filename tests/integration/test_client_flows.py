"""The client against the local DoveRunner: detections end to end, uploads, paging, faults."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from doverunner import DoveRunnerApiError, DoveRunnerClient, TransportError, UploadExpiredError
from doverunner.models import UploadTicket
from doverunner_local.samples import COMPLIANT_SIZE
from doverunner_local.server import LocalDoveRunner


def api_calls(local: LocalDoveRunner, operation: str) -> int:
    return sum(1 for r in local.emulator.requests_seen if r.get("operation") == operation)


def test_url_detection_reaches_a_terminal_status_seen_in_detail_and_list(
    client: DoveRunnerClient, sample: Callable[..., Path], file_server: str
) -> None:
    sample("a.mp4", mark="0000000000000001")

    detection_id = client.detect_url("url flow", f"{file_server}/a.mp4")
    final = client.wait(detection_id, interval=0.02, timeout=20)
    listed = client.list_detections(keyword="url flow").items

    assert final.is_terminal
    assert final.watermark_found
    assert [(d.detection_id, d.detect_status) for d in listed] == [(detection_id, "FD004")]


def test_upload_detection_reaches_a_terminal_status_seen_in_detail_and_list(
    client: DoveRunnerClient, sample_stream: Callable[..., io.BytesIO]
) -> None:
    stream = sample_stream("mkv", mark="0000000000000002")

    receipt = client.detect_upload(stream, COMPLIANT_SIZE, title="upload flow", extension="mkv")
    assert receipt.detection is not None
    final = client.wait(receipt.detection.detection_id, interval=0.02, timeout=20)
    listed = client.list_detections(keyword=receipt.title, req_types=["file"]).items

    assert (final.detect_status, final.req_type, final.wm_key) == ("FD004", "file", "0000000000000002")
    assert [d.detection_id for d in listed] == [final.detection_id]


def test_upload_title_gets_a_unique_suffix_so_its_detection_can_be_found(
    client: DoveRunnerClient, sample_stream: Callable[..., io.BytesIO]
) -> None:
    first = client.detect_upload(sample_stream(size=64 * 1024, short=True), 64 * 1024, title="same", extension="mp4")
    second = client.detect_upload(sample_stream(size=64 * 1024, short=True), 64 * 1024, title="same", extension="mp4")

    assert first.title.startswith("same #")
    assert second.title.startswith("same #")
    assert first.detection
    assert second.detection
    assert first.detection.detection_id != second.detection.detection_id


def test_upload_with_an_exact_title_keeps_it(
    client: DoveRunnerClient, sample_stream: Callable[..., io.BytesIO]
) -> None:
    receipt = client.detect_upload(
        sample_stream(size=64 * 1024, short=True), 64 * 1024, title="exact 제목", extension="mp4", make_unique=False
    )

    assert receipt.detection
    assert receipt.detection.title == "exact 제목"


def test_upload_reset_midway_is_sent_again_with_a_fresh_url_and_registers_once(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, sample_stream: Callable[..., io.BytesIO]
) -> None:
    size = 48 * 1024 * 1024  # larger than socket buffers, so the client sees the reset before its last byte
    local_doverunner.config.faults.next_upload_resets = 1

    receipt = client.detect_upload(sample_stream(size=size), size, title="reset", extension="mp4")

    assert receipt.detection is not None
    assert api_calls(local_doverunner, "token") == 2  # a second signed URL was requested
    assert len(local_doverunner.emulator.detections) == 1


def test_unanswered_upload_whose_detection_never_appears_is_uploaded_again_and_registers_once(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, sample_stream: Callable[..., io.BytesIO]
) -> None:
    # Given a file of one chunk, reset halfway by the storage after the connection took all of it
    size = 256 * 1024
    local_doverunner.config.faults.next_upload_resets = 1

    receipt = client.detect_upload(
        sample_stream(size=size, short=True), size, title="unanswered", extension="mp4", find_timeout=1
    )

    # Then nothing was found in time, so it was uploaded again with a fresh URL: one detection
    assert receipt.detection is not None
    assert api_calls(local_doverunner, "token") == 2
    assert len(local_doverunner.emulator.detections) == 1


def test_unanswered_upload_without_find_leaves_the_decision_to_the_caller(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, sample_stream: Callable[..., io.BytesIO]
) -> None:
    size = 256 * 1024
    local_doverunner.config.faults.next_upload_resets = 1

    receipt = client.detect_upload(
        sample_stream(size=size, short=True), size, title="caller decides", extension="mp4", find=False
    )

    assert (receipt.complete, receipt.detection) == (None, None)
    assert api_calls(local_doverunner, "token") == 1


def test_upload_with_an_expired_url_is_refused_before_sending(client: DoveRunnerClient) -> None:
    ticket = UploadTicket("http://127.0.0.1:9/upload", "t", "mp4", issued_at=-1000.0)

    with pytest.raises(UploadExpiredError, match=r"valid for 60s"):
        client.upload(ticket, io.BytesIO(b"x"), 1)


def test_url_the_server_says_expired_is_reported_as_such(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner
) -> None:
    local_doverunner.config.upload_url_ttl_seconds = -1
    ticket = client.request_upload_url("late", "mp4")

    with pytest.raises(TransportError, match="expired"):
        client.upload(ticket, io.BytesIO(b"x" * 10), 10)


def test_list_pages_through_every_detection(client: DoveRunnerClient, local_doverunner: LocalDoveRunner) -> None:
    created = {client.detect_url(f"paged {i}", "http://127.0.0.1:9/a.mp4") for i in range(17)}

    seen = [d.detection_id for d in client.iter_detections(page_unit=5, keyword="paged")]

    assert sorted(seen) == sorted(created)


def test_list_filters_by_status_and_type(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner, sample_stream: Callable[..., io.BytesIO]
) -> None:
    url_id = client.detect_url("by url", "http://127.0.0.1:9/a.mp4")
    client.detect_upload(sample_stream(size=64 * 1024, short=True), 64 * 1024, title="by file", extension="mp4")
    local_doverunner.emulator.wait_idle(10)

    errors = client.list_detections(status="FD006").items
    files = client.list_detections(req_types=["file"]).items

    assert [d.detection_id for d in errors] == [url_id]
    assert [d.title.split(" #")[0] for d in files] == ["by file"]


def test_list_filters_by_creation_time_and_shows_dates_in_the_asked_zone(client: DoveRunnerClient) -> None:
    client.detect_url("timed", "http://127.0.0.1:9/a.mp4")

    none_later = client.list_detections(date_from="2999-01-01T00:00:00Z").items
    seoul = client.list_detections(date_from="2000-01-01T00:00:00Z", time_zone="09:00")

    assert none_later == []
    assert seoul.time_zone == "+09:00"
    assert len(seoul.items) == 1


def test_search_by_detection_id(client: DoveRunnerClient) -> None:
    wanted = client.detect_url("one", "http://127.0.0.1:9/a.mp4")
    client.detect_url("two", "http://127.0.0.1:9/a.mp4")

    found = client.list_detections(keyword=str(wanted), condition="detection_id").items

    assert [d.detection_id for d in found] == [wanted]


def test_dwm_detections_are_kept_apart_from_fwm(client: DoveRunnerClient) -> None:
    client.detect_url("dwm one", "http://127.0.0.1:9/a.mp4", service="DWM")

    assert client.list_detections(service="DWM").total_count == 1
    assert client.list_detections().total_count == 0


def test_expired_token_is_refreshed_once_and_the_call_goes_through(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner
) -> None:
    client.list_detections()
    local_doverunner.emulator.expire_tokens()

    client.list_detections()

    assert api_calls(local_doverunner, "auth") == 2


def test_wrong_account_credentials_fail_with_the_token_apis_code(
    make_client: Callable[..., DoveRunnerClient],
) -> None:
    client = make_client({"DOVERUNNER_ACCOUNT_ID": "someone-else"})

    with pytest.raises(DoveRunnerApiError) as caught:
        client.list_detections()

    assert (caught.value.code, caught.value.http_status) == ("A9008", 401)


def test_read_call_is_retried_through_injected_server_errors(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner
) -> None:
    local_doverunner.config.faults.next_errors = 2
    local_doverunner.config.faults.error_path = "/list"

    assert client.list_detections().total_count == 0


def test_read_call_is_retried_through_rate_limiting(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner
) -> None:
    local_doverunner.config.faults.next_rate_limits = 3

    assert client.list_detections().total_count == 0


def test_detection_request_is_not_repeated_after_a_server_error(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner
) -> None:
    local_doverunner.config.faults.next_errors = 1
    local_doverunner.config.faults.error_path = "/url"

    with pytest.raises(TransportError):
        client.detect_url("once", "http://127.0.0.1:9/a.mp4")

    assert api_calls(local_doverunner, "url") == 0
    assert sum(1 for r in local_doverunner.emulator.requests_seen if r.get("injected")) == 1


def test_random_faults_are_survived_by_reads(
    make_client: Callable[..., DoveRunnerClient], local_doverunner: LocalDoveRunner
) -> None:
    client = make_client(max_attempts=8)  # 30% of requests fail: 0.3^8 leaves no realistic chance of giving up
    faults = local_doverunner.config.faults
    faults.error_rate, faults.rate_limit_rate, faults.latency_seconds = 0.2, 0.1, 0.01

    results = [client.list_detections().total_count for _ in range(20)]

    assert results == [0] * 20


def test_apidata_sent_as_query_parameter_when_configured(
    make_client: Callable[..., DoveRunnerClient],
) -> None:
    client = make_client({"DOVERUNNER_APIDATA_IN": "query"})

    assert client.list_detections().total_count == 0


def test_stop_cancels_a_running_detection(client: DoveRunnerClient, local_doverunner: LocalDoveRunner) -> None:
    local_doverunner.config.step_seconds = 0.3
    detection_id = client.detect_url("stop me", "http://127.0.0.1:9/a.mp4")

    assert client.stop(detection_id) == detection_id
    assert client.wait(detection_id, interval=0.05, timeout=20).detect_status == "FD005"


def test_notification_apis_round_trip(client: DoveRunnerClient) -> None:
    noti_id = client.register_notification("n", "arn:aws:sns:us-east-1:123456789012:t", "AK", "SK")
    client.update_notification(noti_id, name="renamed")

    assert [n.noti_name for n in client.list_notifications()] == ["renamed"]
    assert client.notification(noti_id).aws_arn == "arn:aws:sns:us-east-1:123456789012:t"
    assert client.delete_notification(noti_id) == noti_id
    assert client.list_notifications() == []
