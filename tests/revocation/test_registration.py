"""Registering the revocation topic from the custom resource: the logic against the local DoveRunner, and the
function as CloudFormation calls it, its answer captured at the response URL."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest
from aws_clients import unique_name
from lambda_context import FakeContext
from lambda_environment import LambdaEnvironment
from topic_registration import KEYS, NEW_KEYS, PROPERTIES, TOPIC_ARN

from antipiracy.adapters.cloudformation import ResponseNotDelivered, send_response
from antipiracy.services.register import NOT_REGISTERED, PublisherKeys, Registrar
from doverunner import DoveRunnerApiError, DoveRunnerClient
from doverunner_local.server import LocalDoveRunner


def registrar(client: DoveRunnerClient, keys: PublisherKeys = KEYS, **options: Any) -> Registrar:
    return Registrar(client=lambda: client, publisher_keys=lambda _secret_id: keys, sleep=lambda _s: None, **options)


def registrations(local: LocalDoveRunner) -> dict[int, Any]:
    return dict(local.emulator.notifications)


# ---- the logic ----------------------------------------------------------------------------------------------------


def test_create_registers_the_topic_and_answers_with_the_registration_id(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner
) -> None:
    outcome = registrar(client).handle("Create", "", PROPERTIES)

    (record,) = registrations(local_doverunner).values()
    assert (outcome.status, outcome.physical_id) == ("SUCCESS", str(record.noti_id))
    assert outcome.data == {"NotificationId": str(record.noti_id)}
    assert (record.noti_name, record.aws_arn) == ("DoveRunnerDetection", TOPIC_ARN)
    assert (record.aws_access_key, record.aws_secret_key) == (KEYS.access_key, KEYS.secret_key)


def test_create_on_a_site_that_holds_a_registration_fails_naming_it_and_how_to_remove_it(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner
) -> None:
    existing = client.register_notification("by-hand", "arn:aws:sns:us-east-1:123456789012:other", "AKIAX", "s")

    outcome = registrar(client).handle("Create", "", PROPERTIES)

    assert (outcome.status, outcome.physical_id) == ("FAILED", NOT_REGISTERED)
    assert "A4029" in outcome.reason
    assert f"registration {existing} 'by-hand'" in outcome.reason
    assert "doverunner noti delete" in outcome.reason
    assert "registerTopic=false" in outcome.reason
    assert list(registrations(local_doverunner)) == [existing]


def test_rolling_back_a_failed_create_leaves_the_existing_registration_alone(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner
) -> None:
    existing = client.register_notification("by-hand", "arn:aws:sns:us-east-1:123456789012:other", "AKIAX", "s")
    failed = registrar(client).handle("Create", "", PROPERTIES)

    outcome = registrar(client).handle("Delete", failed.physical_id, PROPERTIES)

    assert outcome.status == "SUCCESS"
    assert list(registrations(local_doverunner)) == [existing]


def test_update_updates_the_same_registration_with_the_current_keys(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner
) -> None:
    created = registrar(client).handle("Create", "", PROPERTIES)

    outcome = registrar(client, NEW_KEYS).handle("Update", created.physical_id, PROPERTIES)

    (record,) = registrations(local_doverunner).values()
    assert (outcome.status, outcome.physical_id) == ("SUCCESS", created.physical_id)
    assert (record.aws_access_key, record.aws_secret_key) == (NEW_KEYS.access_key, NEW_KEYS.secret_key)


def test_update_of_a_registration_deleted_by_hand_registers_the_topic_again(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner
) -> None:
    created = registrar(client).handle("Create", "", PROPERTIES)
    client.delete_notification(int(created.physical_id))

    outcome = registrar(client).handle("Update", created.physical_id, PROPERTIES)

    (record,) = registrations(local_doverunner).values()
    assert (outcome.status, outcome.physical_id) == ("SUCCESS", str(record.noti_id))
    assert outcome.physical_id != created.physical_id


def test_delete_deletes_the_registration(client: DoveRunnerClient, local_doverunner: LocalDoveRunner) -> None:
    created = registrar(client).handle("Create", "", PROPERTIES)

    outcome = registrar(client).handle("Delete", created.physical_id, PROPERTIES)

    assert (outcome.status, outcome.physical_id) == ("SUCCESS", created.physical_id)
    assert registrations(local_doverunner) == {}


def test_delete_of_a_registration_already_gone_succeeds(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner
) -> None:
    created = registrar(client).handle("Create", "", PROPERTIES)
    client.delete_notification(int(created.physical_id))

    outcome = registrar(client).handle("Delete", created.physical_id, PROPERTIES)

    assert outcome.status == "SUCCESS"


def test_keys_doverunner_cannot_use_yet_are_tried_again(
    client: DoveRunnerClient, local_doverunner: LocalDoveRunner
) -> None:
    @dataclass
    class NewKeyClient:
        """The local DoveRunner, refusing the keys (A4033) twice as DoveRunner may while IAM spreads a new key."""

        refusals: int = 2

        def register_notification(self, *args: str) -> int:
            if self.refusals:
                self.refusals -= 1
                raise DoveRunnerApiError("A4033", "", http_status=200, operation="register notification")
            return client.register_notification(*args)

    waits: list[float] = []
    flaky = NewKeyClient()
    logic = Registrar(client=lambda: cast(DoveRunnerClient, flaky), publisher_keys=lambda _s: KEYS, sleep=waits.append)

    outcome = logic.handle("Create", "", PROPERTIES)

    assert outcome.status == "SUCCESS"
    assert waits == [5.0, 10.0]
    assert len(registrations(local_doverunner)) == 1


def test_a_request_without_the_topic_fails_naming_what_is_missing(client: DoveRunnerClient) -> None:
    outcome = registrar(client).handle("Create", "", {"Name": "x", "PublisherSecretArn": "arn:p"})

    assert (outcome.status, outcome.reason) == ("FAILED", "the custom resource has no TopicArn")


# ---- the function, as CloudFormation calls it -----------------------------------------------------------------


@dataclass
class CapturedResponse:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class ResponseUrl:
    """CloudFormation's presigned response URL, played by a local HTTP server that records each PUT."""

    url: str
    responses: list[CapturedResponse]
    statuses: list[int]  # answers to give, in order; 200 once they run out


@pytest.fixture
def response_url() -> Iterator[ResponseUrl]:
    responses: list[CapturedResponse] = []
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            responses.append(CapturedResponse(dict(self.headers), json.loads(body)))
            self.send_response(statuses.pop(0) if statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield ResponseUrl(f"http://127.0.0.1:{server.server_address[1]}/response?X-Amz-Signature=abc", responses, statuses)
    server.shutdown()
    server.server_close()


@dataclass
class Deployed:
    credentials_secret: str
    publisher_secret: str
    secrets: Any  # Secrets Manager of the local AWS


@pytest.fixture
def deployed(lambda_env: LambdaEnvironment, aws_client: Callable[..., Any]) -> Deployed:
    """The two secrets in the local AWS, as the stack leaves them (the credentials one filled), and the
    registrar's environment."""
    secrets = aws_client("secretsmanager")
    publisher = {"aws_access_key": KEYS.access_key, "aws_secret_key": KEYS.secret_key}
    publisher_arn = secrets.create_secret(Name=unique_name("publisher-"), SecretString=json.dumps(publisher))["ARN"]
    return Deployed(lambda_env.secret_arn, publisher_arn, secrets)


def cloudformation_event(
    request_type: str, response_url: ResponseUrl, deployed: Deployed, physical_id: str = ""
) -> dict[str, Any]:
    event = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:registrar",
        "ResponseURL": response_url.url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/DoveRunnerDetection/1",
        "RequestId": f"request-{uuid.uuid4().hex[:6]}",
        "LogicalResourceId": "TopicRegistration",
        "ResourceType": "Custom::DoveRunnerTopicRegistration",
        "ResourceProperties": {
            **PROPERTIES,
            "PublisherSecretArn": deployed.publisher_secret,
            "PublisherKeySerial": "1",
        },
    }
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    return event


def invoke(event: dict[str, Any], context: FakeContext | None = None) -> dict[str, str]:
    from registrar.handler import lambda_handler

    result: dict[str, str] = lambda_handler(event, context or FakeContext())
    return result


def test_function_answers_a_create_with_success_and_the_registration_id(
    deployed: Deployed, response_url: ResponseUrl, local_doverunner: LocalDoveRunner
) -> None:
    event = cloudformation_event("Create", response_url, deployed)

    invoke(event)

    (answer,) = response_url.responses
    (record,) = registrations(local_doverunner).values()
    assert answer.body["Status"] == "SUCCESS"
    assert answer.body["PhysicalResourceId"] == str(record.noti_id)
    assert answer.body["Data"] == {"NotificationId": str(record.noti_id)}
    assert {k: answer.body[k] for k in ("StackId", "RequestId", "LogicalResourceId")} == {
        k: event[k] for k in ("StackId", "RequestId", "LogicalResourceId")
    }
    assert answer.headers.get("Content-Type", "") == ""  # what the presigned URL's signature covers
    assert (record.aws_access_key, record.aws_secret_key) == (KEYS.access_key, KEYS.secret_key)


def test_function_answers_failed_while_the_credentials_secret_is_still_empty(
    deployed: Deployed, response_url: ResponseUrl, local_doverunner: LocalDoveRunner
) -> None:
    empty = {"site_key": "", "access_key": "", "account_id": ""}
    deployed.secrets.put_secret_value(SecretId=deployed.credentials_secret, SecretString=json.dumps(empty))

    invoke(cloudformation_event("Create", response_url, deployed))

    (answer,) = response_url.responses
    assert (answer.body["Status"], answer.body["PhysicalResourceId"]) == ("FAILED", NOT_REGISTERED)
    assert "Fill the secret named by the DoveRunnerSecretArn output" in answer.body["Reason"]
    assert registrations(local_doverunner) == {}


def test_function_sees_the_credentials_secret_filled_since_its_last_run(
    deployed: Deployed, response_url: ResponseUrl
) -> None:
    secrets = deployed.secrets
    filled = secrets.get_secret_value(SecretId=deployed.credentials_secret)["SecretString"]
    secrets.put_secret_value(SecretId=deployed.credentials_secret, SecretString="{}")
    invoke(cloudformation_event("Create", response_url, deployed))
    secrets.put_secret_value(SecretId=deployed.credentials_secret, SecretString=filled)

    invoke(cloudformation_event("Create", response_url, deployed))

    assert [a.body["Status"] for a in response_url.responses] == ["FAILED", "SUCCESS"]


def test_function_answers_failed_in_time_when_doverunner_does_not_answer(
    deployed: Deployed, response_url: ResponseUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("DOVERUNNER_API_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")

        invoke(cloudformation_event("Delete", response_url, deployed, physical_id="5"), FakeContext(15.5))

    (answer,) = response_url.responses
    assert (answer.body["Status"], answer.body["PhysicalResourceId"]) == ("FAILED", "5")
    assert "did not answer within" in answer.body["Reason"]


def test_function_answers_create_update_and_delete_without_naming_a_secret(
    deployed: Deployed, response_url: ResponseUrl, env: dict[str, str], local_doverunner: LocalDoveRunner
) -> None:
    invoke(cloudformation_event("Create", response_url, deployed))
    noti_id = response_url.responses[0].body["PhysicalResourceId"]
    invoke(cloudformation_event("Create", response_url, deployed))  # A4029
    invoke(cloudformation_event("Update", response_url, deployed, physical_id=noti_id))
    invoke(cloudformation_event("Delete", response_url, deployed, physical_id=noti_id))

    answers = json.dumps([a.body for a in response_url.responses])
    assert [a.body["Status"] for a in response_url.responses] == ["SUCCESS", "FAILED", "SUCCESS", "SUCCESS"]
    for secret in (KEYS.access_key, KEYS.secret_key, env["DOVERUNNER_SITE_KEY"], env["DOVERUNNER_ACCESS_KEY"]):
        assert secret not in answers
    assert registrations(local_doverunner) == {}


# ---- delivering the answer ----------------------------------------------------------------------------------------


def test_an_answer_the_url_fails_to_take_for_a_moment_is_sent_again(response_url: ResponseUrl) -> None:
    response_url.statuses += [503]

    send_response(response_url.url, {"Status": "SUCCESS"}, sleep=lambda _s: None)

    assert len(response_url.responses) == 2


def test_an_answer_the_url_refuses_is_reported_without_the_signed_url(response_url: ResponseUrl) -> None:
    response_url.statuses += [403]

    with pytest.raises(ResponseNotDelivered, match="HTTP 403") as raised:
        send_response(response_url.url, {"Status": "SUCCESS"}, sleep=lambda _s: None)

    assert len(response_url.responses) == 1
    assert "Signature" not in str(raised.value)
