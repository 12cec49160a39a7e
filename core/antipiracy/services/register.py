"""Registering the revocation topic with DoveRunner from a CloudFormation custom resource.

Create registers the topic (the registration's id becomes the physical id), Update updates that registration,
Delete deletes it. Whatever happens, CloudFormation gets an answer: SUCCESS, or FAILED with a reason that names
no secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from antipiracy.observability import logger as log
from antipiracy.ports import NotificationsApi
from antipiracy.services.custom_resource import Answer, failed, required_properties
from doverunner import ConfigurationError, DoveRunnerApiError, DoveRunnerClientError

# Physical id of a create that registered nothing: deleting it (a rollback) touches no registration.
NOT_REGISTERED = "not-registered"
ALREADY_REGISTERED = "A4029"
NOT_FOUND = "A4032"
# DoveRunner could not publish with the keys: a key created seconds ago may not work in IAM yet.
KEYS_NOT_WORKING = "A4033"
KEY_RETRY_DELAYS = (5.0, 10.0, 20.0)
REDACTED = "***"


class RegistrationFailed(Exception):
    """A failure whose message is the reason CloudFormation shows the operator."""


@dataclass(frozen=True)
class PublisherKeys:
    """The AWS keys DoveRunner publishes with; their repr shows neither."""

    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)


def publisher_keys_from(secret: object, secret_id: str) -> PublisherKeys:
    """The keys from the publisher secret's JSON value ({"aws_access_key": ..., "aws_secret_key": ...})."""
    if isinstance(secret, Mapping) and secret.get("aws_access_key") and secret.get("aws_secret_key"):
        return PublisherKeys(str(secret["aws_access_key"]), str(secret["aws_secret_key"]))
    raise RegistrationFailed(
        f"the publisher secret {secret_id} has no aws_access_key and aws_secret_key: the stack writes them; "
        "deploy again with doverunner:notificationPublisher=true"
    )


@dataclass(frozen=True)
class Registration:
    """The custom resource's properties: what to register."""

    name: str
    topic_arn: str
    publisher_secret_id: str

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> Registration:
        values = required_properties(properties, ("Name", "TopicArn", "PublisherSecretArn"), RegistrationFailed)
        return cls(values["Name"], values["TopicArn"], values["PublisherSecretArn"])


def registration_id(physical_id: str) -> int | None:
    """The DoveRunner registration a physical id names, or None (NOT_REGISTERED, or no id at all)."""
    return int(physical_id) if physical_id.isdigit() else None


class Registrar:
    """The custom resource's logic. `client` gives a DoveRunner client (ConfigurationError while the credentials
    secret is not filled); `publisher_keys` reads the publisher secret by its ARN."""

    def __init__(
        self,
        *,
        client: Callable[[], NotificationsApi],
        publisher_keys: Callable[[str], PublisherKeys],
        sleep: Callable[[float], None] = time.sleep,
        key_retry_delays: tuple[float, ...] = KEY_RETRY_DELAYS,
    ) -> None:
        self._client = client
        self._publisher_keys = publisher_keys
        self._sleep = sleep
        self._key_retry_delays = key_retry_delays

    def handle(self, request_type: str, physical_id: str, properties: Mapping[str, Any]) -> Answer:
        """Never raises: every failure is a FAILED outcome with a reason."""
        secrets: list[str] = []
        try:
            registration = Registration.from_properties(properties)
            if request_type == "Create":
                noti_id = self._create(registration, secrets)
            elif request_type == "Update":
                noti_id = self._update(registration, physical_id, secrets)
            elif request_type == "Delete":
                return _registered(physical_id, self._delete(physical_id))
            else:
                raise RegistrationFailed(f"unknown request type {request_type!r}")
            return _registered(str(noti_id), noti_id)
        except RegistrationFailed as exc:
            reason = str(exc)
        except DoveRunnerClientError as exc:
            # The client's messages name codes, causes and solutions, never a credential.
            reason = str(exc)
        except Exception as exc:
            log.exception("registering the topic failed unexpectedly")
            reason = f"unexpected {type(exc).__name__}; the registrar function's log has the details"
        return failed(request_type, physical_id, _redact(reason, secrets), not_created=NOT_REGISTERED)

    def _doverunner(self) -> NotificationsApi:
        try:
            return self._client()
        except ConfigurationError as exc:
            raise RegistrationFailed(
                f"the DoveRunner credentials are not usable yet ({exc}). Fill the secret named by the "
                "DoveRunnerSecretArn output (README), then deploy again; on a first deploy, deploy without "
                "doverunner:registerTopic, fill the secret, then turn registerTopic on."
            ) from None

    def _keys(self, registration: Registration, secrets: list[str]) -> PublisherKeys:
        keys = self._publisher_keys(registration.publisher_secret_id)
        secrets += [keys.access_key, keys.secret_key]
        return keys

    def _create(self, registration: Registration, secrets: list[str]) -> int:
        client = self._doverunner()
        keys = self._keys(registration, secrets)
        try:
            return self._register(client, registration, keys)
        except DoveRunnerApiError as exc:
            if exc.code != ALREADY_REGISTERED:
                raise
            raise RegistrationFailed(_already_registered(client)) from None

    def _register(self, client: NotificationsApi, registration: Registration, keys: PublisherKeys) -> int:
        for delay in (*self._key_retry_delays, None):
            try:
                return client.register_notification(
                    registration.name, registration.topic_arn, keys.access_key, keys.secret_key
                )
            except DoveRunnerApiError as exc:
                # Nothing was registered, so asking again is safe.
                if exc.code != KEYS_NOT_WORKING or delay is None:
                    raise
                log.info("DoveRunner could not use the publisher keys yet (%s); trying again in %ss", exc.code, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _update(self, registration: Registration, physical_id: str, secrets: list[str]) -> int:
        client = self._doverunner()
        keys = self._keys(registration, secrets)
        noti_id = registration_id(physical_id)
        if noti_id is None:
            return self._register(client, registration, keys)
        try:
            return client.update_notification(
                noti_id,
                name=registration.name,
                aws_arn=registration.topic_arn,
                aws_access_key=keys.access_key,
                aws_secret_key=keys.secret_key,
            )
        except DoveRunnerApiError as exc:
            if exc.code != NOT_FOUND:
                raise
        # Deleted by hand: registered again under a new id; CloudFormation then deletes the old one (gone: fine).
        log.warning("registration %s no longer exists in DoveRunner; registering the topic again", noti_id)
        return self._register(client, registration, keys)

    def _delete(self, physical_id: str) -> int | None:
        noti_id = registration_id(physical_id)
        if noti_id is None:
            return None
        try:
            return self._doverunner().delete_notification(noti_id)
        except DoveRunnerApiError as exc:
            if exc.code != NOT_FOUND:
                raise
            log.info("registration %s was already deleted", noti_id)
            return noti_id


def _already_registered(client: NotificationsApi) -> str:
    site = client.config.site_id
    try:
        existing = "; it holds " + ", ".join(
            f"registration {n.noti_id} {n.noti_name!r} for {n.aws_arn}" for n in client.list_notifications()
        )
    except DoveRunnerClientError:
        existing = ""
    return (
        f"DoveRunner site {site} already holds a notification registration (A4029: one per site){existing}. "
        "Delete it (doverunner noti list, then doverunner noti delete <id>) and deploy again, or deploy with "
        "doverunner:registerTopic=false and manage the registration by hand (docs/revocation.md)."
    )


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _registered(physical_id: str, noti_id: int | None) -> Answer:
    data = {"NotificationId": str(noti_id)} if noti_id is not None else {}
    return Answer("SUCCESS", physical_id, "registered", data)


def late_answer(seconds: float) -> str:
    return (
        f"DoveRunner did not answer within {seconds:.0f} s. Check its state with doverunner noti list "
        "before deploying again (a registration may have been made)."
    )
