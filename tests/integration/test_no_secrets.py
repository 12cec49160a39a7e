"""No secret (site key, access key, token, Basic credentials, registered AWS secret) reaches a log, an error or
an output: a whole session's logs and outputs are captured, including failures, and searched for each."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from doverunner import ClientConfig, ConfigurationError, Credentials, DoveRunnerClient, DoveRunnerClientError
from doverunner_local.server import LocalDoveRunner

WRONG_SITE_KEY = "wrong-site-key-wrong-site-key-32"
NOTI_SECRET = "aws-secret-for-the-publisher-0123456789"


def test_no_secret_appears_in_logs_errors_or_cli_output(
    caplog: pytest.LogCaptureFixture,
    local_doverunner: LocalDoveRunner,
    env: dict[str, str],
    client: DoveRunnerClient,
    run_cli: Callable[..., Any],
    sample: Callable[..., Path],
    file_server: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    register = ["noti", "register", "--name", "n", "--arn", "arn:aws:sns:us-east-1:123456789012:t"]
    register += ["--aws-access-key", "AKIAPUBLISHER", "--aws-secret-key", NOTI_SECRET]
    seen: list[str] = []
    video = sample("a.mp4", mark="0000000000000001", size=300_000)

    # Given a session of successes, retries, token refreshes and failures, through the client and the CLI
    tokens = [client.token()]
    client.list_detections()
    local_doverunner.emulator.expire_tokens()
    client.list_detections()
    tokens.append(client.token())
    detection_id = client.detect_url("x", f"{file_server}/a.mp4")
    local_doverunner.config.faults.next_errors = 2
    local_doverunner.config.faults.error_path = "/detail"
    client.detail(detection_id)
    for args, overrides in [
        (["detect", "upload", str(video), "--wait", "--interval", "0.02"], {}),
        (["detect", "url", "--title", "t", "--file-path", f"{file_server}/a.mp4"], {}),
        (["list", "--all"], {}),
        (["list"], {"DOVERUNNER_SITE_KEY": WRONG_SITE_KEY}),
        (["list"], {"DOVERUNNER_ACCESS_KEY": "wrong-access-key"}),
        (["list"], {"DOVERUNNER_ACCOUNT_ID": "nobody"}),
        (["list"], {"DOVERUNNER_SITE_KEY": "too-short"}),
        (["list"], {"DOVERUNNER_API_URL": "http://127.0.0.1:9"}),
        (register, {}),
        (register, {}),  # the second one fails with A4029
        (["noti", "list"], {}),
        (["stop", "1"], {}),
    ]:
        result = run_cli("-vv", *args, **overrides)
        seen += [result.out, result.err]
    for bad in ({"DOVERUNNER_SITE_KEY": WRONG_SITE_KEY}, {"DOVERUNNER_SITE_KEY": "x" * 31}):
        try:
            DoveRunnerClient(
                ClientConfig.from_mapping({**env, **bad}), Credentials.from_mapping({**env, **bad})
            ).list_detections()
        except (DoveRunnerClientError, ConfigurationError) as exc:
            seen += [str(exc), repr(exc)]

    # When everything that was logged, printed or raised is put together
    seen += [caplog.text, repr(client), repr(Credentials.from_mapping(env)), repr(ClientConfig.from_mapping(env))]
    seen.append(str(local_doverunner.emulator.requests_seen))
    everything = "\n".join(seen)

    # Then no secret is in it
    basic = base64.b64encode(f"{env['DOVERUNNER_ACCOUNT_ID']}:{env['DOVERUNNER_ACCESS_KEY']}".encode()).decode()
    secrets = {
        "site key": env["DOVERUNNER_SITE_KEY"],
        "wrong site key": WRONG_SITE_KEY,
        "access key": env["DOVERUNNER_ACCESS_KEY"],
        "wrong access key": "wrong-access-key",
        "basic credentials": basic,
        "registered AWS secret": NOTI_SECRET,
        **{f"token {i}": token.split()[-1] for i, token in enumerate(tokens)},
    }
    assert "A1006" in everything  # the failures really happened
    assert "HTTP 401" in everything
    assert [name for name, value in secrets.items() if value in everything] == []


def test_config_error_for_a_short_site_key_names_the_length_not_the_key() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Credentials(site_key="short-secret", access_key="a", account_id="b")

    assert "short-secret" not in str(caught.value)
    assert "12 bytes" in str(caught.value)


def test_log_handlers_of_the_cli_get_no_secret_at_debug_level(
    run_cli: Callable[..., Any], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the CLI configuring logging itself, as on an operator's terminal
    stream = io.StringIO()
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    from doverunner_cli.main import main

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["-vv", "list"], out=io.StringIO(), err=stream)
    for handler in list(root.handlers):
        root.removeHandler(handler)

    # Then its debug output holds no key
    assert code == 0
    assert "DEBUG" in stream.getvalue()
    assert env["DOVERUNNER_SITE_KEY"] not in stream.getvalue()
    assert env["DOVERUNNER_ACCESS_KEY"] not in stream.getvalue()
