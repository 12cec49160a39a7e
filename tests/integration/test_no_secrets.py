"""No secret (site key, access key, token, Basic credentials, registered AWS secret) reaches a log, an error or
an output: a whole session's logs and outputs are captured, including failures, and searched for each."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import subprocess
import sys
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
    register += ["--aws-access-key", "AKIAPUBLISHER"]
    noti_secret = {"DOVERUNNER_NOTI_AWS_SECRET_KEY": NOTI_SECRET}
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
        (register, noti_secret),
        (register, noti_secret),  # the second one fails with A4029
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


# Fake, but shaped as the real ones, and long enough to be found anywhere in the output.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "AKIAFAKEACCESSKEYID7",
    "AWS_SECRET_ACCESS_KEY": "fake/secret+access/key+0123456789abcdefABCD",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEFAKESESSIONTOKEN//////////wEaDFAKEFAKEFAKE0123456789",
}
NOTI_ENV_SECRET = "publisher-secret-key-from-the-environment-0123"


def test_verbose_cli_prints_no_credential_of_its_environment(
    env: dict[str, str],
    moto_endpoint: str,
    aws_client: Callable[..., Any],
    aws_resource: Callable[..., Any],
    web_acl: Any,
    tmp_path: Path,
) -> None:
    """`doverunner -vv` as an operator runs it (its own process, logging configured by the CLI) with AWS and
    DoveRunner credentials in its environment: botocore's wire logs once printed AWS_SESSION_TOKEN here."""
    # Given a stack in the local AWS whose outputs name a ledger and a web ACL, and every credential set
    stack = f"nosecrets-{os.getpid()}"
    aws_resource("dynamodb").create_table(
        TableName=f"{stack}-ledger",
        KeySchema=[{"AttributeName": "token", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "token", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    outputs = {"RevocationLedgerTableName": {"Value": f"{stack}-ledger"}, "WebAclArn": {"Value": web_acl.arn}}
    template = {"Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
    aws_client("cloudformation").create_stack(StackName=stack, TemplateBody=json.dumps(template))
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DOVERUNNER_"))},
        **env,
        **FAKE_AWS,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "DOVERUNNER_NOTI_AWS_SECRET_KEY": NOTI_ENV_SECRET,
    }
    token = base64.b64encode(b"a-revoke-token-for-this-test").decode()
    commands = [
        ["revocations", "list", "--stack", stack],
        ["revocations", "block", token, "--stack", stack, "--reason", "test"],
        ["revocations", "unblock", token, "--stack", stack],
        ["revocations", "list", "--stack", "no-such-stack"],  # an AWS error on the way
        ["list"],
        ["noti", "register", "--name", "n", "--arn", "arn:aws:sns:us-east-1:123456789012:t", "--aws-access-key", "A"],
        ["noti", "list"],
        ["detail", "999999"],  # a DoveRunner error on the way
    ]

    # When each runs with -vv
    seen: list[str] = []
    debug_lines = 0
    for command in commands:
        done = subprocess.run(
            [sys.executable, "-m", "doverunner_cli.main", "-vv", *command],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        seen += [done.stdout, done.stderr]
        debug_lines += done.stderr.count("DEBUG ")
    everything = "\n".join(seen)

    # Then the commands did their work and logged, and no credential is anywhere in what they printed
    assert '"total_count"' in everything
    assert "no-such-stack" in everything
    assert debug_lines > 0
    secrets = {
        **FAKE_AWS,
        "DOVERUNNER_SITE_KEY": env["DOVERUNNER_SITE_KEY"],
        "DOVERUNNER_ACCESS_KEY": env["DOVERUNNER_ACCESS_KEY"],
        "DOVERUNNER_NOTI_AWS_SECRET_KEY": NOTI_ENV_SECRET,
    }
    assert [name for name, value in secrets.items() if value in everything] == []
    assert "x-amz-security-token" not in everything.lower()
    assert "Signature=" not in everything


def test_log_redaction_removes_known_values_and_credential_fields() -> None:
    from doverunner_cli.log_redaction import redact, redacted

    redact("a-value-read-from-secrets-manager", "short")

    line = redacted(
        "got a-value-read-from-secrets-manager; headers={'X-Amz-Security-Token': b'abc123', "
        "'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=ff'} short"
    )

    assert "a-value-read-from-secrets-manager" not in line
    assert "abc123" not in line
    assert "AKIA" not in line
    assert "Signature=ff" not in line
    assert line.endswith("short")  # too short to be a credential: left alone
