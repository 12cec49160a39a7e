"""Registering the revocation topic with DoveRunner from the custom resource: every outcome an answer."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import FakeNotifications, api_error

from antipiracy.services.register import (
    KEY_RETRY_DELAYS,
    NOT_REGISTERED,
    PublisherKeys,
    Registrar,
    publisher_keys_from,
)
from doverunner import ConfigurationError, DoveRunnerClient

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:DoveRunnerDetection-revocations"
KEYS = PublisherKeys("AKIAPUBLISHERTEST001", "publisher-secret-key/with+chars")
PROPERTIES = {"Name": "DoveRunnerDetection", "TopicArn": TOPIC_ARN, "PublisherSecretArn": "arn:publisher-secret"}


class World:
    def __init__(self) -> None:
        self.doverunner = FakeNotifications()
        self.sleeps: list[float] = []
        self.keys = KEYS

    def registrar(self) -> Registrar:
        # Registrar is typed for the concrete DoveRunnerClient, not a port: the fake stands in by cast.
        return Registrar(
            client=lambda: self.doverunner,
            publisher_keys=lambda _secret_id: self.keys,
            sleep=self.sleeps.append,
        )

    def handle(self, request_type: str, physical_id: str = "", properties: dict[str, Any] | None = None) -> Any:
        return self.registrar().handle(request_type, physical_id, PROPERTIES if properties is None else properties)


@pytest.fixture
def world() -> World:
    return World()


# ---- create, update, delete -------------------------------------------------------------------------------------


def test_create_registers_the_topic_and_answers_with_the_registration_id(world: World) -> None:
    outcome = world.handle("Create")

    ((noti_id, record),) = world.doverunner.registrations.items()
    assert (outcome.status, outcome.physical_id, outcome.data) == ("SUCCESS", str(noti_id), {"NotificationId": "1"})
    assert (record["noti_name"], record["aws_arn"]) == ("DoveRunnerDetection", TOPIC_ARN)
    assert (record["aws_access_key"], record["aws_secret_key"]) == (KEYS.access_key, KEYS.secret_key)


def test_update_updates_the_same_registration_with_the_current_keys(world: World) -> None:
    created = world.handle("Create")
    world.keys = PublisherKeys("AKIAPUBLISHERTEST002", "rotated-secret")

    outcome = world.handle("Update", created.physical_id)

    (record,) = world.doverunner.registrations.values()
    assert (outcome.status, outcome.physical_id) == ("SUCCESS", created.physical_id)
    assert (record["aws_access_key"], record["aws_secret_key"]) == ("AKIAPUBLISHERTEST002", "rotated-secret")


def test_update_of_a_registration_deleted_by_hand_registers_the_topic_again(world: World) -> None:
    created = world.handle("Create")
    world.doverunner.registrations.clear()

    outcome = world.handle("Update", created.physical_id)

    assert outcome.status == "SUCCESS"
    assert outcome.physical_id != created.physical_id
    assert list(world.doverunner.registrations) == [int(outcome.physical_id)]


def test_update_after_a_create_that_registered_nothing_registers(world: World) -> None:
    outcome = world.handle("Update", NOT_REGISTERED)

    assert (outcome.status, world.doverunner.calls) == ("SUCCESS", ["register"])


def test_delete_deletes_the_registration(world: World) -> None:
    created = world.handle("Create")

    outcome = world.handle("Delete", created.physical_id)

    assert (outcome.status, outcome.data) == ("SUCCESS", {"NotificationId": created.physical_id})
    assert world.doverunner.registrations == {}


def test_delete_of_a_registration_already_gone_succeeds(world: World) -> None:
    created = world.handle("Create")
    world.doverunner.registrations.clear()

    outcome = world.handle("Delete", created.physical_id)

    assert outcome.status == "SUCCESS"


def test_rolling_back_a_create_that_registered_nothing_touches_nothing(world: World) -> None:
    world.doverunner.register_notification("by-hand", "arn:aws:sns:us-east-1:123456789012:other", "AKIAX", "s")
    world.doverunner.calls.clear()

    outcome = world.handle("Delete", NOT_REGISTERED)

    assert (outcome.status, world.doverunner.calls) == ("SUCCESS", [])
    assert len(world.doverunner.registrations) == 1


# ---- failures ---------------------------------------------------------------------------------------------------


def test_create_on_a_site_that_holds_a_registration_fails_naming_it(world: World) -> None:
    existing = world.doverunner.register_notification("by-hand", "arn:aws:sns:us-east-1:1:other", "AKIAX", "s")

    outcome = world.handle("Create")

    assert (outcome.status, outcome.physical_id) == ("FAILED", NOT_REGISTERED)
    assert "DoveRunner site DEMO already holds a notification registration (A4029" in outcome.reason
    assert f"registration {existing} 'by-hand' for arn:aws:sns:us-east-1:1:other" in outcome.reason
    assert "doverunner noti delete" in outcome.reason


def test_keys_doverunner_cannot_use_yet_are_tried_again_after_a_pause(world: World) -> None:
    world.doverunner.keys_fail = 2

    outcome = world.handle("Create")

    assert outcome.status == "SUCCESS"
    assert world.sleeps == list(KEY_RETRY_DELAYS[:2])
    assert world.doverunner.calls == ["register", "register", "register"]


def test_keys_that_never_work_fail_after_every_pause(world: World) -> None:
    world.doverunner.keys_fail = len(KEY_RETRY_DELAYS) + 1

    outcome = world.handle("Create")

    assert (outcome.status, outcome.physical_id) == ("FAILED", NOT_REGISTERED)
    assert "A4033" in outcome.reason
    assert world.sleeps == list(KEY_RETRY_DELAYS)


def test_other_refusals_are_not_tried_again(world: World) -> None:
    world.doverunner.fail_next(api_error("A4030", "register notification", "aws_arn is not an SNS topic ARN"))

    outcome = world.handle("Create")

    assert (outcome.status, world.sleeps, world.doverunner.calls) == ("FAILED", [], ["register"])


def test_a_failure_reason_never_shows_the_publisher_keys(world: World) -> None:
    said = f"could not publish with {KEYS.access_key}:{KEYS.secret_key}"
    world.doverunner.fail_next(api_error("A4034", "register notification", said))

    outcome = world.handle("Create")

    assert outcome.status == "FAILED"
    assert KEYS.access_key not in outcome.reason
    assert KEYS.secret_key not in outcome.reason
    assert "could not publish with ***:***" in outcome.reason


def test_failed_update_keeps_the_physical_id(world: World) -> None:
    created = world.handle("Create")
    world.doverunner.fail_next(api_error("A4035", "update notification"))

    outcome = world.handle("Update", created.physical_id)

    assert (outcome.status, outcome.physical_id) == ("FAILED", created.physical_id)


def test_credentials_secret_not_filled_fails_asking_to_fill_it(world: World) -> None:
    def no_client() -> DoveRunnerClient:
        raise ConfigurationError("the DoveRunner secret has no site_key")

    registrar = Registrar(client=no_client, publisher_keys=lambda _secret_id: KEYS, sleep=world.sleeps.append)

    outcome = registrar.handle("Create", "", PROPERTIES)

    assert (outcome.status, outcome.physical_id) == ("FAILED", NOT_REGISTERED)
    assert "Fill the secret named by the DoveRunnerSecretArn output" in outcome.reason


def test_request_without_the_topic_fails_naming_what_is_missing(world: World) -> None:
    outcome = world.handle("Create", properties={"Name": "n", "PublisherSecretArn": "arn:s"})

    assert outcome.reason == "the custom resource has no TopicArn"
    assert world.doverunner.calls == []


def test_unexpected_error_fails_without_its_message(world: World) -> None:
    world.doverunner.fail_next(RuntimeError(f"internal detail {KEYS.secret_key}"))

    outcome = world.handle("Create")

    assert outcome.reason == "unexpected RuntimeError; the registrar function's log has the details"


def test_unknown_request_type_fails(world: World) -> None:
    outcome = world.handle("Replace", "7")

    assert (outcome.status, outcome.physical_id) == ("FAILED", "7")


# ---- the publisher secret ---------------------------------------------------------------------------------------


def test_publisher_keys_are_read_from_the_secret() -> None:
    keys = publisher_keys_from({"aws_access_key": "AKIA1", "aws_secret_key": "s3cr3t"}, "arn:secret")

    assert (keys.access_key, keys.secret_key) == ("AKIA1", "s3cr3t")
    assert "s3cr3t" not in repr(keys)


@pytest.mark.parametrize("secret", [{}, {"aws_access_key": "AKIA1"}, "text", None])
def test_publisher_secret_without_both_keys_fails_saying_how_to_fill_it(world: World, secret: object) -> None:
    registrar = Registrar(
        client=lambda: world.doverunner,
        publisher_keys=lambda secret_id: publisher_keys_from(secret, secret_id),
    )

    outcome = registrar.handle("Create", "", PROPERTIES)

    assert outcome.status == "FAILED"
    assert "arn:publisher-secret has no aws_access_key and aws_secret_key" in outcome.reason
    assert world.doverunner.calls == []
