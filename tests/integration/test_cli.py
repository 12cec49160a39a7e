"""Every `doverunner` command against the local DoveRunner, and every error it can meet, as an operator sees it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from doverunner_local.server import LocalDoveRunner

Cli = Callable[..., Any]
ARN = "arn:aws:sns:ap-northeast-2:123456789012:revocations"


def wait_args() -> list[str]:
    return ["--wait", "--interval", "0.02", "--timeout", "20"]


# ---- detection requests -------------------------------------------------------------------------------------


def test_detect_url_prints_the_detection_id(run_cli: Cli, sample: Callable[..., Path], file_server: str) -> None:
    sample("a.mp4")

    result = run_cli("detect", "url", "--title", "T", "--file-path", f"{file_server}/a.mp4")

    assert result.code == 0
    assert isinstance(result.json["detection_id"], int)


def test_detect_url_with_demo_flag_marks_demo_contents(
    run_cli: Cli, local_doverunner: LocalDoveRunner, sample: Callable[..., Path], file_server: str
) -> None:
    sample("a.mp4")

    detection_id = run_cli("detect", "url", "--title", "T", "--file-path", f"{file_server}/a.mp4", "--demo").json[
        "detection_id"
    ]

    assert local_doverunner.emulator.detections[detection_id].demo is True


def test_detect_url_with_wait_follows_it_to_the_end(
    run_cli: Cli, sample: Callable[..., Path], file_server: str
) -> None:
    sample("a.mp4", mark="0000000000000001")

    result = run_cli("detect", "url", "--title", "T", "--file-path", f"{file_server}/a.mp4", *wait_args())

    assert result.json["detection"]["detect_status"] == "FD004"
    assert "FD004" in result.err


def test_detect_live_takes_an_hls_manifest(run_cli: Cli, tmp_path: Path, file_server: str) -> None:
    # A live detection of a clean stream runs until stopped: the segment carries a mark, so it ends FD004.
    (tmp_path / "s.ts").write_bytes((b"\x47" + b"\x00" * 187) * 2 + b"DRSIM:MARK=0000000000000001;")
    (tmp_path / "live.m3u8").write_text("#EXTM3U\n#EXTINF:6,\ns.ts\n")

    result = run_cli("detect", "live", "--title", "L", "--file-path", f"{file_server}/live.m3u8", *wait_args())

    assert (result.json["detection"]["req_type"], result.json["detection"]["detect_status"]) == (
        "stream",
        "FD004",
    )


def test_detect_upload_streams_the_file_with_progress_and_finds_its_detection(
    run_cli: Cli, sample: Callable[..., Path]
) -> None:
    video = sample("pirated copy.mov", mark="0000000000000002")

    result = run_cli("detect", "upload", str(video), "--title", "해적판", *wait_args())

    assert result.code == 0
    assert result.json["title"].startswith("해적판 #")
    assert result.json["detection"]["wm_key"] == "0000000000000002"
    assert "100%" in result.err


def test_detect_upload_defaults_the_title_to_the_file_name(run_cli: Cli, sample: Callable[..., Path]) -> None:
    video = sample("movie.mp4")

    assert run_cli("detect", "upload", str(video), "--quiet").json["title"].startswith("movie.mp4 #")


def test_detect_upload_of_an_empty_file_is_refused_before_any_call(
    run_cli: Cli, tmp_path: Path, local_doverunner: LocalDoveRunner
) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")

    result = run_cli("detect", "upload", str(tmp_path / "empty.mp4"))

    assert result.code == 2
    assert "empty" in result.err
    assert local_doverunner.emulator.requests_seen == []


# ---- reading ------------------------------------------------------------------------------------------------


@pytest.fixture
def three_detections(
    run_cli: Cli, sample: Callable[..., Path], file_server: str, local_doverunner: LocalDoveRunner
) -> list[int]:
    sample("a.mp4")
    ids = [
        run_cli("detect", "url", "--title", f"movie {i}", "--file-path", f"{file_server}/a.mp4").json["detection_id"]
        for i in range(2)
    ]
    ids.append(run_cli("detect", "upload", str(sample("b.mkv")), "--title", "upload", "--quiet").json["detection_id"])
    local_doverunner.emulator.wait_idle(10)
    return ids


def test_list_shows_every_detection(run_cli: Cli, three_detections: list[int]) -> None:
    result = run_cli("list")

    assert sorted(d["detection_id"] for d in result.json["detections"]) == sorted(three_detections)


def test_list_filters_by_keyword_type_status_and_dates(run_cli: Cli, three_detections: list[int]) -> None:
    assert len(run_cli("list", "--keyword", "movie").json["detections"]) == 2
    assert len(run_cli("list", "--type", "file").json["detections"]) == 1
    assert len(run_cli("list", "--type", "file", "--type", "url").json["detections"]) == 3
    assert len(run_cli("list", "--status", "FD004").json["detections"]) == 3
    assert run_cli("list", "--status", "FD001").json["detections"] == []
    assert (
        len(run_cli("list", "--from", "2000-01-01T00:00:00Z", "--to", "2999-01-01T00:00:00Z").json["detections"]) == 3
    )
    assert run_cli("list", "--to", "2000-01-01T00:00:00Z").json["detections"] == []


def test_list_all_walks_every_page(run_cli: Cli, three_detections: list[int]) -> None:
    result = run_cli("list", "--all", "--page-size", "1")

    assert result.json["total_count"] == 3


def test_list_one_page_at_a_time(run_cli: Cli, three_detections: list[int]) -> None:
    second = run_cli("list", "--page", "2", "--page-size", "2").json

    assert (second["total_count"], len(second["detections"])) == (3, 1)


def test_detail_explains_the_status(run_cli: Cli, three_detections: list[int]) -> None:
    result = run_cli("detail", str(three_detections[0]))

    assert (result.json["detect_status"], result.json["status_description"], result.json["terminal"]) == (
        "FD004",
        "Completed",
        True,
    )


def test_wait_follows_a_detection(run_cli: Cli, three_detections: list[int]) -> None:
    assert run_cli("wait", str(three_detections[0]), "--interval", "0.02").json["terminal"] is True


def test_stop_requests_the_end_of_a_running_detection(run_cli: Cli, local_doverunner: LocalDoveRunner) -> None:
    local_doverunner.config.step_seconds = 0.3
    detection_id = run_cli("detect", "url", "--title", "S", "--file-path", "http://127.0.0.1:9/a.mp4").json[
        "detection_id"
    ]

    result = run_cli("stop", str(detection_id))
    local_doverunner.emulator.wait_idle(10)

    assert result.json == {"detection_id": detection_id, "stop_requested": True}
    assert run_cli("detail", str(detection_id)).json["detect_status"] == "FD005"


def test_token_prints_the_authorization_value(run_cli: Cli) -> None:
    assert run_cli("token").json["authorization"].startswith("Bearer ")


def test_verify_token_answers_for_a_known_and_an_unknown_token(run_cli: Cli, local_doverunner: LocalDoveRunner) -> None:
    known = local_doverunner.emulator.sessions["0000000000000001"].revoke_token

    assert run_cli("verify-token", known).json == {"revoke_token": known, "is_valid": True}
    assert run_cli("verify-token", "bm9wZQ==").json["is_valid"] is False


@pytest.mark.parametrize("position", ["before", "after"])
def test_service_option_works_before_or_after_the_subcommand(run_cli: Cli, position: str) -> None:
    run_cli("detect", "url", "--service", "DWM", "--title", "d", "--file-path", "http://127.0.0.1:9/a.mp4")
    args = ["--service", "DWM", "list"] if position == "before" else ["list", "--service", "DWM"]

    assert run_cli(*args).json["total_count"] == 1
    assert run_cli("list").json["total_count"] == 0


# ---- notifications ------------------------------------------------------------------------------------------


def test_noti_register_list_detail_update_delete(run_cli: Cli) -> None:
    keys = ["--aws-access-key", "AKIALOCAL"]

    noti_id = run_cli(
        "noti", "register", "--name", "revocations", "--arn", ARN, *keys, DOVERUNNER_NOTI_AWS_SECRET_KEY="secret"
    ).json["noti_id"]
    listed = run_cli("noti", "list").json
    updated = run_cli("noti", "update", str(noti_id), "--name", "renamed").json
    detail = run_cli("noti", "detail", str(noti_id)).json
    deleted = run_cli("noti", "delete", str(noti_id)).json

    assert listed["notifications"][0]["aws_arn"] == ARN
    assert updated == {"noti_id": noti_id}
    assert detail["noti_name"] == "renamed"
    assert deleted == {"noti_id": noti_id, "deleted": True}
    assert run_cli("noti", "list").json["total_count"] == 0


def test_noti_register_takes_the_aws_keys_from_the_environment(run_cli: Cli) -> None:
    result = run_cli(
        "noti",
        "register",
        "--name",
        "n",
        "--arn",
        ARN,
        DOVERUNNER_NOTI_AWS_ACCESS_KEY="AKIALOCAL",
        DOVERUNNER_NOTI_AWS_SECRET_KEY="secret",
    )

    assert result.code == 0


def test_noti_register_without_aws_keys_names_what_is_missing(run_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOVERUNNER_NOTI_AWS_ACCESS_KEY", raising=False)

    result = run_cli("noti", "register", "--name", "n", "--arn", ARN)

    assert result.code == 2
    assert "--aws-access-key" in result.err


def test_noti_register_without_the_secret_key_names_where_it_comes_from(
    run_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOVERUNNER_NOTI_AWS_SECRET_KEY", raising=False)
    monkeypatch.delenv("DOVERUNNER_NOTI_AWS_KEYS_SECRET", raising=False)

    result = run_cli("noti", "register", "--name", "n", "--arn", ARN, "--aws-access-key", "AKIALOCAL")

    assert result.code == 2
    assert "DOVERUNNER_NOTI_AWS_SECRET_KEY" in result.err
    assert "--aws-keys-secret" in result.err


@pytest.mark.parametrize("action", ["register", "update"])
def test_noti_refuses_a_secret_key_on_the_command_line(
    run_cli: Cli, action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["--name", "n", "--arn", ARN] if action == "register" else ["1"]

    with pytest.raises(SystemExit) as exited:
        run_cli("noti", action, *target, "--aws-access-key", "AKIALOCAL", "--aws-secret-key", "on-the-command-line")

    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "process list" in err
    assert "DOVERUNNER_NOTI_AWS_SECRET_KEY" in err
    assert "on-the-command-line" not in err


def test_noti_register_reads_the_keys_from_a_secrets_manager_secret(
    run_cli: Cli,
    local_doverunner: LocalDoveRunner,
    aws_client: Callable[..., Any],
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the publisher's keys in a secret, as the stack writes them (NotificationPublisherSecretArn)
    keys = {"aws_access_key": "AKIAFROMTHESECRET", "aws_secret_key": "secret-from-secrets-manager"}
    arn = aws_client("secretsmanager").create_secret(Name=f"publisher-{os.getpid()}", SecretString=json.dumps(keys))[
        "ARN"
    ]
    for name in ("DOVERUNNER_NOTI_AWS_ACCESS_KEY", "DOVERUNNER_NOTI_AWS_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    aws = {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_DEFAULT_REGION": "us-east-1"}
    aws |= {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

    # When the topic is registered with it
    result = run_cli("noti", "register", "--name", "n", "--arn", ARN, "--aws-keys-secret", arn, **aws)

    # Then DoveRunner got the keys of the secret, and the output does not show the secret key
    assert result.code == 0, result.err
    registered = local_doverunner.emulator.notification(str(result.json["noti_id"]))
    assert (registered.aws_access_key, registered.aws_secret_key) == ("AKIAFROMTHESECRET", keys["aws_secret_key"])
    assert keys["aws_secret_key"] not in result.out + result.err


def test_noti_register_with_an_unreadable_secret_says_so(
    run_cli: Cli, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws = {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_DEFAULT_REGION": "us-east-1"}
    aws |= {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

    result = run_cli("noti", "register", "--name", "n", "--arn", ARN, "--aws-keys-secret", "no-such-secret", **aws)

    assert result.code == 1
    assert "cannot read the AWS keys from the secret 'no-such-secret'" in result.err


# ---- errors, each with DoveRunner's code and the guide's explanation ----------------------------------------


def api_error(result: Any, code: str) -> None:
    assert result.code == 3, result.err
    assert result.out == ""
    assert code in result.err
    assert "cause:" in result.err or "HTTP 401" in result.err


def test_wrong_site_key_surfaces_as_a1006(run_cli: Cli) -> None:
    api_error(run_cli("list", DOVERUNNER_SITE_KEY="w" * 32), "A1006")


def test_wrong_site_access_key_surfaces_as_a1007(run_cli: Cli, env: dict[str, str]) -> None:
    result = run_cli("list", DOVERUNNER_ACCESS_KEY="wrong", DOVERUNNER_ACCOUNT_ACCESS_KEY=env["DOVERUNNER_ACCESS_KEY"])

    api_error(result, "A1007")


def test_apidata_in_a_place_the_server_does_not_read_surfaces_as_a7008(
    run_cli: Cli, local_doverunner: LocalDoveRunner
) -> None:
    local_doverunner.config.accept_query_apidata = False

    api_error(run_cli("list", DOVERUNNER_APIDATA_IN="query"), "A7008")


def test_clock_drift_surfaces_as_a_stale_timestamp(run_cli: Cli, local_doverunner: LocalDoveRunner) -> None:
    local_doverunner.config.clock_skew_seconds = 3600

    result = run_cli("list")

    api_error(result, "A7008")
    assert "stale" in result.err


def test_unknown_site_surfaces_as_a1003(run_cli: Cli) -> None:
    api_error(run_cli("list", DOVERUNNER_SITE_ID="ZZZZ"), "A1003")


def test_unsupported_service_code_surfaces_as_a4002(run_cli: Cli) -> None:
    api_error(run_cli("list", "--service", "PD999"), "A4002")


def test_empty_title_surfaces_as_a1000(run_cli: Cli) -> None:
    api_error(run_cli("detect", "url", "--title", "", "--file-path", "http://127.0.0.1:9/a.mp4"), "A1000")


def test_empty_file_path_surfaces_as_a4005(run_cli: Cli) -> None:
    api_error(run_cli("detect", "url", "--title", "T", "--file-path", ""), "A4005")


def test_unsupported_extension_surfaces_as_a4023(run_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "clip.avi").write_bytes(b"RIFF....AVI ")

    api_error(run_cli("detect", "upload", str(tmp_path / "clip.avi")), "A4023")


def test_stopping_a_finished_detection_surfaces_as_a4028(run_cli: Cli, three_detections: list[int]) -> None:
    api_error(run_cli("stop", str(three_detections[0])), "A4028")


def test_second_registration_surfaces_as_a4029(run_cli: Cli) -> None:
    keys = ["--aws-access-key", "A"]
    run_cli("noti", "register", "--name", "n", "--arn", ARN, *keys, DOVERUNNER_NOTI_AWS_SECRET_KEY="S")

    api_error(run_cli("noti", "register", "--name", "n", "--arn", ARN, *keys), "A4029")


def test_malformed_sns_arn_surfaces_as_a4030(run_cli: Cli) -> None:
    result = run_cli(
        "noti",
        "register",
        "--name",
        "n",
        "--arn",
        "arn:aws:sqs:x",
        "--aws-access-key",
        "A",
        DOVERUNNER_NOTI_AWS_SECRET_KEY="S",
    )

    api_error(result, "A4030")


def test_wrong_account_surfaces_as_401(run_cli: Cli) -> None:
    api_error(run_cli("list", DOVERUNNER_ACCOUNT_ID="nobody"), "HTTP 401")


def test_missing_setting_is_named(run_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_cli("list", DOVERUNNER_SITE_KEY="")

    assert result.code == 2
    assert "DOVERUNNER_SITE_KEY" in result.err


def test_unreachable_doverunner_is_a_transport_error(run_cli: Cli) -> None:
    result = run_cli("list", DOVERUNNER_API_URL="http://127.0.0.1:9")

    assert result.code == 4
    assert "ConnectionError" in result.err


# ---- the installed console command --------------------------------------------------------------------------


def console() -> str:
    return shutil.which("doverunner") or str(Path(sys.executable).with_name("doverunner"))


def test_console_command_runs_against_the_local_doverunner(env: dict[str, str]) -> None:
    done = subprocess.run(
        [console(), "list"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total_count"] == 0


def test_emulator_command_prints_its_url_and_credentials_then_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [console(), "emulator", "--port", "0", "--step-seconds", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        health = requests.get(f"{started['admin_url']}/health", timeout=5).json()
        listed = subprocess.run(
            [console(), "list"],
            env={**os.environ, **started["env"]},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=10)

    assert health["ok"] is True
    assert set(started["env"]) == {
        "DOVERUNNER_API_URL",
        "DOVERUNNER_SITE_ID",
        "DOVERUNNER_SITE_KEY",
        "DOVERUNNER_ACCESS_KEY",
        "DOVERUNNER_ACCOUNT_ID",
    }
    assert json.loads(listed.stdout)["total_count"] == 0
    assert code == 0


def test_emulator_on_a_busy_port_says_so(local_doverunner: LocalDoveRunner) -> None:
    port = local_doverunner.url.rsplit(":", 1)[1]

    done = subprocess.run(
        [console(), "emulator", "--port", port], capture_output=True, text=True, timeout=30, check=False
    )

    assert done.returncode == 2
    assert "cannot listen" in done.stderr


def test_emulator_command_takes_fault_settings() -> None:
    process = subprocess.Popen(
        [console(), "emulator", "--port", "0", "--fault", "latency_seconds=0.01", "--fault", "next_rate_limits=2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        faults = requests.get(f"{started['admin_url']}/config", timeout=5).json()["faults"]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)

    assert (faults["latency_seconds"], faults["next_rate_limits"]) == (0.01, 2)


def test_emulator_command_refuses_an_unknown_fault() -> None:
    done = subprocess.run(
        [console(), "emulator", "--port", "0", "--fault", "meteor_rate=1"], capture_output=True, text=True, timeout=30
    )

    assert done.returncode == 2
    assert "unknown fault setting 'meteor_rate'" in done.stderr
