"""The local DoveRunner is strict where the guide is strict: raw HTTP in, the guide's codes out."""

from __future__ import annotations

import base64
import http.client
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from doverunner import crypto
from doverunner_local.server import LocalDoveRunner

SITE = "DEMO"


class Raw:
    """Hand-made requests to the local DoveRunner, so each part of a request can be got wrong on purpose."""

    def __init__(self, local: LocalDoveRunner) -> None:
        self.local = local
        self.url = local.url
        env = local.credentials()
        self.site_key = env["DOVERUNNER_SITE_KEY"]
        self.access_key = env["DOVERUNNER_ACCESS_KEY"]
        basic = base64.b64encode(f"{env['DOVERUNNER_ACCOUNT_ID']}:{self.access_key}".encode()).decode()
        self.basic = f"Basic {basic}"

    def token(self) -> str:
        body = requests.get(f"{self.url}/api/token/{SITE}/", headers={"Authorization": self.basic}, timeout=5).json()
        return str(body["data"]["token"])

    def apidata(
        self,
        payload: dict[str, Any],
        *,
        site_key: str | None = None,
        access_key: str | None = None,
        now: datetime | None = None,
        site: str = SITE,
    ) -> str:
        return crypto.encode_api_data(
            payload,
            site_id=site,
            site_key=site_key or self.site_key,
            access_key=access_key or self.access_key,
            now=now,
        )

    def call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        apidata: str | None = None,
        **json_body: Any,
    ) -> requests.Response:
        headers = {"Authorization": token if token is not None else self.token()}
        if apidata is not None:
            headers["pallycon-apidata"] = apidata
        elif payload is not None:
            headers["pallycon-apidata"] = self.apidata(payload)
        return requests.request(method, f"{self.url}{path}", headers=headers, json=json_body or None, timeout=10)


@pytest.fixture
def raw(local_doverunner: LocalDoveRunner) -> Raw:
    return Raw(local_doverunner)


def code(response: requests.Response) -> str:
    return str(response.json()["error_code"])


def wait_terminal(local: LocalDoveRunner) -> None:
    assert local.emulator.wait_idle(10)


# ---- auth ----------------------------------------------------------------------------------------------------


def test_token_api_answers_a_bearer_token_for_the_right_basic_auth(raw: Raw) -> None:
    assert raw.token().startswith("Bearer ")


def test_token_api_also_answers_on_the_v2_path_of_the_guides_sample(raw: Raw) -> None:
    r = requests.get(f"{raw.url}/api/v2/token/{SITE}", headers={"Authorization": raw.basic}, timeout=5)

    assert code(r) == "0000"


def test_token_api_refuses_a_wrong_access_key_with_401(raw: Raw) -> None:
    wrong = "Basic " + base64.b64encode(b"local-account:nope").decode()

    r = requests.get(f"{raw.url}/api/token/{SITE}", headers={"Authorization": wrong}, timeout=5)

    assert (r.status_code, code(r)) == (401, "A9008")


def test_token_api_refuses_a_missing_authorization_with_401(raw: Raw) -> None:
    r = requests.get(f"{raw.url}/api/token/{SITE}", timeout=5)

    assert (r.status_code, code(r)) == (401, "A9001")


def test_token_api_refuses_an_unknown_site_with_a1003(raw: Raw) -> None:
    r = requests.get(f"{raw.url}/api/token/ZZZZ", headers={"Authorization": raw.basic}, timeout=5)

    assert code(r) == "A1003"


@pytest.mark.parametrize("token", ["", "Basic abc", "Bearer not-a-jwt"])
def test_api_call_without_a_valid_token_format_is_401_a9001(raw: Raw, token: str) -> None:
    r = raw.call("GET", f"/api/v2/detect/{SITE}/PD002/list", {}, token=token)

    assert (r.status_code, code(r)) == (401, "A9001")


def test_api_call_with_a_forged_token_is_401_a9002(raw: Raw) -> None:
    head, body, _ = raw.token().split(".")

    r = raw.call("GET", f"/api/v2/detect/{SITE}/PD002/list", {}, token=f"{head}.{body}.Zm9yZ2Vk")

    assert (r.status_code, code(r)) == (401, "A9002")


def test_api_call_with_an_expired_token_is_401_a9002(raw: Raw, local_doverunner: LocalDoveRunner) -> None:
    token = raw.token()
    local_doverunner.emulator.expire_tokens()

    r = raw.call("GET", f"/api/v2/detect/{SITE}/PD002/list", {}, token=token)

    assert (r.status_code, code(r)) == (401, "A9002")


def test_token_lifetime_is_configurable(raw: Raw, local_doverunner: LocalDoveRunner) -> None:
    local_doverunner.config.token_ttl_seconds = 1
    token = raw.token()
    time.sleep(1.1)

    assert code(raw.call("GET", f"/api/v2/detect/{SITE}/PD002/list", {}, token=token)) == "A9002"


# ---- pallycon-apidata ----------------------------------------------------------------------------------------


def test_data_encrypted_with_a_wrong_site_key_is_a1006(raw: Raw) -> None:
    r = raw.call("GET", f"/api/v2/detect/{SITE}/PD002/list", apidata=raw.apidata({}, site_key="w" * 32))

    assert code(r) == "A1006"


def test_hash_made_with_a_wrong_access_key_is_a1007(raw: Raw) -> None:
    r = raw.call("GET", f"/api/v2/detect/{SITE}/PD002/list", apidata=raw.apidata({}, access_key="wrong"))

    assert code(r) == "A1007"


def test_hash_made_for_another_site_id_is_a1007(raw: Raw) -> None:
    r = raw.call("GET", f"/api/v2/detect/{SITE}/PD002/list", apidata=raw.apidata({}, site="ABCD"))

    assert code(r) == "A1007"


@pytest.mark.parametrize("header", ["%%%", base64.b64encode(b'{"data": 1}').decode()])
def test_malformed_apidata_is_a7008(raw: Raw, header: str) -> None:
    assert code(raw.call("GET", f"/api/v2/detect/{SITE}/PD002/list", apidata=header)) == "A7008"


def test_missing_apidata_is_a7008(raw: Raw) -> None:
    assert code(raw.call("GET", f"/api/v2/detect/{SITE}/PD002/list")) == "A7008"


@pytest.mark.parametrize("skew", [timedelta(minutes=-10), timedelta(minutes=10)])
def test_stale_or_future_timestamp_is_refused(raw: Raw, skew: timedelta) -> None:
    r = raw.call("GET", f"/api/v2/detect/{SITE}/PD002/list", apidata=raw.apidata({}, now=datetime.now(UTC) + skew))

    assert code(r) == "A7008"
    assert "stale" in r.json()["error_message"]


def test_apidata_as_a_query_parameter_is_accepted_like_the_older_sample(raw: Raw) -> None:
    r = requests.get(
        f"{raw.url}/api/v2/detect/{SITE}/PD002/list",
        params={"pallycon-apidata": raw.apidata({})},
        headers={"Authorization": raw.token()},
        timeout=5,
    )

    assert code(r) == "0000"


# ---- path and fields -----------------------------------------------------------------------------------------


def test_unknown_site_in_the_path_is_a1003(raw: Raw) -> None:
    assert code(raw.call("GET", "/api/v2/detect/ZZZZ/PD002/list", {})) == "A1003"


@pytest.mark.parametrize("service", ["PD999", "FWM", "xx"])
def test_unsupported_service_code_is_a4002(raw: Raw, service: str) -> None:
    assert code(raw.call("GET", f"/api/v2/detect/{SITE}/{service}/list", {})) == "A4002"


def test_service_not_enabled_for_the_site_is_a1108(raw: Raw, local_doverunner: LocalDoveRunner) -> None:
    local_doverunner.config.services = ("PD002",)

    assert code(raw.call("GET", f"/api/v2/detect/{SITE}/PD006/list", {})) == "A1108"


@pytest.mark.parametrize("payload", [{"file_path": "http://x/a.mp4"}, {"title": "", "file_path": "http://x/a.mp4"}])
def test_url_detection_without_a_title_is_a1000(raw: Raw, payload: dict[str, Any]) -> None:
    assert code(raw.call("POST", f"/api/v2/detect/{SITE}/PD002/url", payload)) == "A1000"


@pytest.mark.parametrize(
    "payload", [{"title": "t"}, {"title": "t", "file_path": ""}, {"title": "t", "file_path": "  "}]
)
def test_url_detection_without_a_file_path_is_a4005(raw: Raw, payload: dict[str, Any]) -> None:
    assert code(raw.call("POST", f"/api/v2/detect/{SITE}/PD002/url", payload)) == "A4005"


def test_detail_without_a_detection_id_is_a1000(raw: Raw) -> None:
    assert code(raw.call("GET", f"/api/v2/detect/{SITE}/PD002/detail", {"site_id": SITE})) == "A1000"


def test_detail_of_an_unknown_detection_is_a4009(raw: Raw) -> None:
    assert code(raw.call("GET", f"/api/v2/detect/{SITE}/PD002/detail", {"detection_id": 424242})) == "A4009"


@pytest.mark.parametrize("extension", ["avi", "mpk", "", "MP3"])
def test_upload_url_for_an_unsupported_extension_is_refused(raw: Raw, extension: str) -> None:
    r = raw.call("POST", f"/api/v2/detect/{SITE}/PD002/token", {"title": "t", "file_extension": extension})

    assert code(r) == ("A1000" if not extension else "A4023")


def test_wrong_http_method_is_refused(raw: Raw) -> None:
    r = raw.call("POST", f"/api/v2/detect/{SITE}/PD002/list", {})

    assert (r.status_code, code(r)) == (405, "A1000")


def test_trial_site_refuses_a_third_detection_with_a4015(raw: Raw, local_doverunner: LocalDoveRunner) -> None:
    local_doverunner.config.trial = True
    request = {"title": "t", "file_path": "http://127.0.0.1:9/a.mp4"}
    answers = [code(raw.call("POST", f"/api/v2/detect/{SITE}/PD002/url", request)) for _ in range(3)]

    assert answers == ["0000", "0000", "A4015"]


def test_detection_quota_refuses_past_the_limit_with_a4019(raw: Raw, local_doverunner: LocalDoveRunner) -> None:
    local_doverunner.config.detection_quota = 1
    raw.call("POST", f"/api/v2/detect/{SITE}/PD002/token", {"title": "t", "file_extension": "mp4"})

    assert (
        code(raw.call("POST", f"/api/v2/detect/{SITE}/PD002/token", {"title": "u", "file_extension": "mp4"})) == "A4019"
    )


# ---- stop ----------------------------------------------------------------------------------------------------


def test_stopping_a_finished_detection_is_a4028(raw: Raw, local_doverunner: LocalDoveRunner) -> None:
    created = raw.call(
        "POST", f"/api/v2/detect/{SITE}/PD002/url", {"title": "t", "file_path": "http://127.0.0.1:9/a.mp4"}
    )
    wait_terminal(local_doverunner)

    r = raw.call("PUT", f"/api/v2/detect/{SITE}/PD002/stop", {"detection_id": created.json()["detection_id"]})

    assert code(r) == "A4028"


def test_stopping_a_running_detection_cancels_it(raw: Raw, local_doverunner: LocalDoveRunner) -> None:
    local_doverunner.config.step_seconds = 0.5
    created = raw.call(
        "POST", f"/api/v2/detect/{SITE}/PD002/url", {"title": "t", "file_path": "http://127.0.0.1:9/a.mp4"}
    )
    detection_id = created.json()["detection_id"]

    stopped = raw.call("PUT", f"/api/v2/detect/{SITE}/PD002/stop", {"detection_id": detection_id})
    wait_terminal(local_doverunner)
    detail = raw.call("GET", f"/api/v2/detect/{SITE}/PD002/detail", {"detection_id": detection_id}).json()["data"]

    assert stopped.json()["data"] == detection_id
    assert (detail["detect_status"], detail["detect_progress_status"]) == ("FD005", "FD520")


# ---- notifications -------------------------------------------------------------------------------------------

NOTI = {
    "noti_name": "n",
    "aws_arn": "arn:aws:sns:ap-northeast-2:123456789012:revoke",
    "aws_access_key": "AK",
    "aws_secret_key": "SK",
}


def test_second_notification_registration_is_a4029(raw: Raw) -> None:
    first = raw.call("POST", f"/api/v2/noti/detect/{SITE}", NOTI)

    assert code(first) == "0000"
    assert code(raw.call("POST", f"/api/v2/noti/detect/{SITE}", NOTI)) == "A4029"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sqs:us-east-1:123456789012:q",
        "arn:aws:sns:us-east-1:1234:t",
        "topic",
        "arn:aws:sns:us-east-1:123456789012:",
    ],
)
def test_malformed_sns_arn_is_a4030(raw: Raw, arn: str) -> None:
    assert code(raw.call("POST", f"/api/v2/noti/detect/{SITE}", {**NOTI, "aws_arn": arn})) == "A4030"


def test_notification_registration_missing_a_key_is_a1000(raw: Raw) -> None:
    assert code(raw.call("POST", f"/api/v2/noti/detect/{SITE}", {**NOTI, "aws_secret_key": ""})) == "A1000"


def test_unknown_notification_is_a4032(raw: Raw) -> None:
    assert code(raw.call("GET", f"/api/v2/noti/detect/{SITE}/77", {})) == "A4032"


def test_notification_list_shows_the_one_registration_as_the_guide_does(raw: Raw) -> None:
    raw.call("POST", f"/api/v2/noti/detect/{SITE}", NOTI)

    data = raw.call("GET", f"/api/v2/noti/detect/{SITE}", {}).json()["data"]

    assert data["total_count"] == 1
    assert data["noti_list"]["aws_arn"] == NOTI["aws_arn"]
    assert "aws_secret_key" not in data["noti_list"]


def test_request_log_never_keeps_the_registered_aws_keys(raw: Raw, local_doverunner: LocalDoveRunner) -> None:
    raw.call("POST", f"/api/v2/noti/detect/{SITE}", NOTI)

    log = requests.get(f"{raw.url}/_emulator/requests", timeout=5).json()["requests"]

    assert "SK" not in json.dumps([e.get("payload") for e in log])


# ---- signed upload URL ---------------------------------------------------------------------------------------


def upload_url(raw: Raw, extension: str = "mp4") -> str:
    r = raw.call("POST", f"/api/v2/detect/{SITE}/PD002/token", {"title": "up", "file_extension": extension})
    return str(r.json()["upload_url"])


def put(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    conn.putrequest("PUT", f"{parts.path}?{parts.query}")
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(body)
    response = conn.getresponse()
    result = response.status, response.read()
    conn.close()
    return result


def test_signed_url_takes_a_plain_put_and_registers_a_detection(raw: Raw, local_doverunner: LocalDoveRunner) -> None:
    status, _ = put(upload_url(raw), b"\x00\x00\x00\x18ftypisom", {"Content-Length": "12"})

    assert status == 200
    assert len(local_doverunner.emulator.detections) == 1


def test_signed_url_refuses_a_chunked_body_like_s3(raw: Raw) -> None:
    status, body = put(upload_url(raw), b"5\r\nhello\r\n0\r\n\r\n", {"Transfer-Encoding": "chunked"})

    assert status == 501
    assert b"NotImplemented" in body


def test_signed_url_refuses_a_body_without_length(raw: Raw) -> None:
    status, body = put(upload_url(raw), b"", {})

    assert status == 411
    assert b"MissingContentLength" in body


def test_signed_url_expires(raw: Raw, local_doverunner: LocalDoveRunner) -> None:
    local_doverunner.config.upload_url_ttl_seconds = -1

    status, body = put(upload_url(raw), b"abc", {"Content-Length": "3"})

    assert status == 403
    assert b"Request has expired" in body
    assert local_doverunner.emulator.detections == {}


def test_signed_url_with_a_tampered_signature_is_refused(raw: Raw) -> None:
    url = upload_url(raw)

    status, body = put(url[:-4] + "0000", b"abc", {"Content-Length": "3"})

    assert status == 403
    assert b"SignatureDoesNotMatch" in body


def test_curl_upload_file_works_against_the_signed_url(
    raw: Raw, local_doverunner: LocalDoveRunner, tmp_path: Any
) -> None:
    import shutil
    import subprocess

    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 2_000_000)

    done = subprocess.run(["curl", "-sf", "--upload-file", str(video), upload_url(raw)], check=False, timeout=30)

    assert done.returncode == 0
    assert len(local_doverunner.emulator.detections) == 1


# ---- admin surface -------------------------------------------------------------------------------------------


def test_admin_config_refuses_an_unknown_setting(local_doverunner: LocalDoveRunner) -> None:
    r = requests.patch(f"{local_doverunner.url}/_emulator/config", json={"nope": 1}, timeout=5)

    assert r.status_code == 400
    assert "unknown setting" in r.json()["error"]


def test_admin_reset_forgets_detections(raw: Raw, local_doverunner: LocalDoveRunner) -> None:
    raw.call("POST", f"/api/v2/detect/{SITE}/PD002/url", {"title": "t", "file_path": "http://127.0.0.1:9/a.mp4"})

    requests.post(f"{local_doverunner.url}/_emulator/reset", timeout=5)

    assert requests.get(f"{local_doverunner.url}/_emulator/state", timeout=5).json()["detections"] == []


def test_admin_config_never_shows_the_site_or_access_key(local_doverunner: LocalDoveRunner) -> None:
    shown = requests.get(f"{local_doverunner.url}/_emulator/config", timeout=5).text

    assert local_doverunner.config.site_key not in shown
    assert local_doverunner.config.access_key not in shown


def test_quota_counts_an_uploaded_signed_url_once(raw: Raw, local_doverunner: LocalDoveRunner) -> None:
    local_doverunner.config.detection_quota = 2
    put(upload_url(raw), b"\x00\x00\x00\x18ftypisom", {"Content-Length": "12"})

    second = raw.call("POST", f"/api/v2/detect/{SITE}/PD002/token", {"title": "u", "file_extension": "mp4"})

    assert code(second) == "0000"
