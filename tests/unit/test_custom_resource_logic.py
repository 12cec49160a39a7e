"""The custom resources' logic where it needs neither DoveRunner nor AWS: what they refuse, and answering in time."""

from __future__ import annotations

import threading
from typing import cast

import pytest
from topic_registration import KEYS, PROPERTIES

from antipiracy.domain.web_acls import WebAclFailed, parse_arn
from antipiracy.services.custom_resource import Answer, answer_within, failed
from antipiracy.services.register import NOT_REGISTERED, Registrar
from antipiracy.services.web_acl import spec_from_properties
from doverunner import ConfigurationError, DoveRunnerClient, TransportError

# ---- the topic registration ---------------------------------------------------------------------------------------


def test_create_with_the_credentials_secret_not_filled_fails_asking_to_fill_it_first() -> None:
    def unfilled() -> DoveRunnerClient:
        raise ConfigurationError("the DoveRunner secret arn:creds has no site_key, access_key, account_id")

    outcome = Registrar(client=unfilled, publisher_keys=lambda _s: KEYS).handle("Create", "", PROPERTIES)

    assert (outcome.status, outcome.physical_id) == ("FAILED", NOT_REGISTERED)
    assert "Fill the secret named by the DoveRunnerSecretArn output" in outcome.reason
    assert "deploy again" in outcome.reason


def test_a_failure_reason_never_shows_the_publisher_keys() -> None:
    class Echoing:
        def register_notification(self, name: str, arn: str, access_key: str, secret_key: str) -> int:
            raise TransportError(f"DoveRunner refused {access_key}:{secret_key}")

    logic = Registrar(client=lambda: cast(DoveRunnerClient, Echoing()), publisher_keys=lambda _s: KEYS)

    outcome = logic.handle("Create", "", PROPERTIES)

    assert (outcome.status, outcome.reason) == ("FAILED", "DoveRunner refused ***:***")


def test_work_that_takes_too_long_is_answered_failed_in_time() -> None:
    release = threading.Event()

    def slow() -> Answer:
        release.wait(5)
        return Answer("SUCCESS", "7")

    outcome = answer_within(
        0.1, slow, lambda reason: failed("Update", "7", reason, not_created=NOT_REGISTERED), "did not answer within 0 s"
    )
    release.set()

    assert (outcome.status, outcome.physical_id) == ("FAILED", "7")
    assert "did not answer within" in outcome.reason


# ---- the web ACL --------------------------------------------------------------------------------------------------


def test_properties_without_a_name_are_refused_naming_it() -> None:
    with pytest.raises(WebAclFailed, match="no Name"):
        spec_from_properties({"MetricName": "m", "ServiceToken": "arn"})


def test_an_arn_that_is_not_a_cloudfront_web_acl_is_refused() -> None:
    with pytest.raises(WebAclFailed, match="not a CloudFront web ACL ARN"):
        parse_arn("arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/1")
