"""The custom resource that gives a stack outside us-east-1 its CloudFront web ACL, against a stubbed WAF API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from antipiracy.adapters.web_acls import DELETE_ATTEMPTS, WebAclManager
from antipiracy.services.web_acl import NOT_CREATED, handle

NAME = "DoveRunnerDetection-acl"
ACL_ID = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
ARN = f"arn:aws:wafv2:us-east-1:123456789012:global/webacl/{NAME}/{ACL_ID}"
PROPERTIES = {"Name": NAME, "MetricName": "DoveRunnerDetectionAcl", "Description": "revoked sessions"}
SUMMARY = {"Name": NAME, "Id": ACL_ID, "Description": "revoked sessions", "LockToken": "lock-1", "ARN": ARN}
WEB_ACL = {
    "Name": NAME,
    "Id": ACL_ID,
    "ARN": ARN,
    "DefaultAction": {"Allow": {}},
    "VisibilityConfig": {
        "SampledRequestsEnabled": True,
        "CloudWatchMetricsEnabled": True,
        "MetricName": "DoveRunnerDetectionAcl",
    },
    "Rules": [],
}
WHERE = {"Name": NAME, "Id": ACL_ID, "Scope": "CLOUDFRONT"}


@pytest.fixture
def waf() -> Iterator[Stubber]:
    client = boto3.client("wafv2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def manager(waf: Stubber) -> WebAclManager:
    return WebAclManager(waf.client, sleep=lambda _seconds: None)


def stub_list(waf: Stubber, *summaries: dict[str, Any]) -> None:
    waf.add_response("list_web_acls", {"WebACLs": list(summaries)}, {"Scope": "CLOUDFRONT", "Limit": 100})


def test_create_makes_an_empty_cloudfront_web_acl_that_allows_by_default(waf: Stubber, manager: WebAclManager) -> None:
    stub_list(waf)
    waf.add_response(
        "create_web_acl",
        {"Summary": SUMMARY},
        {
            "Name": NAME,
            "Scope": "CLOUDFRONT",
            "DefaultAction": {"Allow": {}},
            "VisibilityConfig": WEB_ACL["VisibilityConfig"],
            "Rules": [],
            "Description": "revoked sessions",
        },
    )

    answer = handle("Create", "", PROPERTIES, manager)

    assert (answer.status, answer.physical_id) == ("SUCCESS", ARN)
    assert answer.data == {"Arn": ARN, "Id": ACL_ID, "Name": NAME}


def test_retried_create_adopts_the_web_acl_of_that_name(waf: Stubber, manager: WebAclManager) -> None:
    stub_list(waf, {**SUMMARY, "Name": "someone-elses"}, SUMMARY)

    answer = handle("Create", "", PROPERTIES, manager)

    assert (answer.status, answer.physical_id) == ("SUCCESS", ARN)


def test_create_that_waf_refuses_fails_with_nothing_to_delete(waf: Stubber, manager: WebAclManager) -> None:
    stub_list(waf)
    waf.add_client_error("create_web_acl", service_error_code="WAFLimitsExceededException")

    answer = handle("Create", "", PROPERTIES, manager)

    assert (answer.status, answer.physical_id) == ("FAILED", NOT_CREATED)
    assert answer.reason == f"creating the web ACL {NAME} in us-east-1 failed: WAFLimitsExceededException"


def test_create_without_a_name_fails_naming_it_and_calls_nothing(manager: WebAclManager) -> None:
    answer = handle("Create", "", {"MetricName": "m"}, manager)

    assert (answer.status, answer.physical_id, answer.reason) == (
        "FAILED",
        NOT_CREATED,
        "the custom resource has no Name",
    )


def test_update_keeps_the_web_acl(waf: Stubber, manager: WebAclManager) -> None:
    waf.add_response("get_web_acl", {"WebACL": WEB_ACL, "LockToken": "lock-1"}, WHERE)

    answer = handle("Update", ARN, PROPERTIES, manager)

    assert (answer.status, answer.physical_id) == ("SUCCESS", ARN)


def test_update_of_a_web_acl_that_is_gone_fails_keeping_its_id(waf: Stubber, manager: WebAclManager) -> None:
    waf.add_client_error("get_web_acl", service_error_code="WAFNonexistentItemException")

    answer = handle("Update", ARN, PROPERTIES, manager)

    assert (answer.status, answer.physical_id) == ("FAILED", ARN)
    assert "WAFNonexistentItemException" in answer.reason


def test_delete_removes_the_web_acl_with_its_lock_token(waf: Stubber, manager: WebAclManager) -> None:
    waf.add_response("get_web_acl", {"WebACL": WEB_ACL, "LockToken": "lock-1"}, WHERE)
    waf.add_response("delete_web_acl", {}, {**WHERE, "LockToken": "lock-1"})

    answer = handle("Delete", ARN, PROPERTIES, manager)

    assert (answer.status, answer.physical_id) == ("SUCCESS", ARN)


def test_delete_of_a_web_acl_already_gone_succeeds(waf: Stubber, manager: WebAclManager) -> None:
    waf.add_client_error("get_web_acl", service_error_code="WAFNonexistentItemException")

    answer = handle("Delete", ARN, PROPERTIES, manager)

    assert answer.status == "SUCCESS"


def test_delete_retries_a_lock_conflict_with_the_revoker(waf: Stubber, manager: WebAclManager) -> None:
    waf.add_response("get_web_acl", {"WebACL": WEB_ACL, "LockToken": "lock-1"}, WHERE)
    waf.add_client_error("delete_web_acl", service_error_code="WAFOptimisticLockException")
    waf.add_response("get_web_acl", {"WebACL": WEB_ACL, "LockToken": "lock-2"}, WHERE)
    waf.add_response("delete_web_acl", {}, {**WHERE, "LockToken": "lock-2"})

    answer = handle("Delete", ARN, PROPERTIES, manager)

    assert answer.status == "SUCCESS"


def test_delete_that_keeps_meeting_lock_conflicts_gives_up(waf: Stubber, manager: WebAclManager) -> None:
    for attempt in range(DELETE_ATTEMPTS):
        waf.add_response("get_web_acl", {"WebACL": WEB_ACL, "LockToken": f"lock-{attempt}"}, WHERE)
        waf.add_client_error("delete_web_acl", service_error_code="WAFOptimisticLockException")

    answer = handle("Delete", ARN, PROPERTIES, manager)

    assert (answer.status, answer.physical_id) == ("FAILED", ARN)
    assert answer.reason == f"deleting the web ACL {NAME} failed: WAFOptimisticLockException"


def test_delete_of_a_web_acl_still_on_a_distribution_says_what_to_do(waf: Stubber, manager: WebAclManager) -> None:
    waf.add_response("get_web_acl", {"WebACL": WEB_ACL, "LockToken": "lock-1"}, WHERE)
    waf.add_client_error("delete_web_acl", service_error_code="WAFAssociatedItemException")

    answer = handle("Delete", ARN, PROPERTIES, manager)

    assert (answer.status, answer.physical_id) == ("FAILED", ARN)
    assert "remove it from the distribution, then delete the stack again" in answer.reason


def test_delete_after_a_create_that_made_nothing_calls_nothing(manager: WebAclManager) -> None:
    answer = handle("Delete", NOT_CREATED, PROPERTIES, manager)

    assert (answer.status, answer.physical_id) == ("SUCCESS", NOT_CREATED)


def test_unknown_request_type_fails(manager: WebAclManager) -> None:
    answer = handle("Replace", ARN, PROPERTIES, manager)

    assert (answer.status, answer.physical_id, answer.reason) == ("FAILED", ARN, "unknown request type 'Replace'")
