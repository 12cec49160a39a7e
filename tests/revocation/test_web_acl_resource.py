"""The web ACL custom resource's logic, for stacks outside us-east-1, against moto's WAF in us-east-1."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from antipiracy.adapters.web_acls import WebAclManager
from antipiracy.domain.web_acls import WebAclFailed, WebAclSpec

SPEC = WebAclSpec(name="Stack-session-blocks", description="Blocks pirate sessions", metric_name="session-blocks")


class FlakyWaf:
    """The real client, whose next calls of one operation fail with the given codes first."""

    def __init__(self, inner: Any, operation: str, codes: list[str]) -> None:
        self._inner, self._operation, self.codes = inner, operation, codes

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._inner, name)
        if name != self._operation:
            return call

        def failing(**kwargs: Any) -> Any:
            if self.codes:
                raise ClientError({"Error": {"Code": self.codes.pop(0), "Message": "injected"}}, name)
            return call(**kwargs)

        return failing


@pytest.fixture
def wafv2(moto_wafv2: Any) -> Any:
    return moto_wafv2


def names(wafv2: Any) -> list[str]:
    return [acl["Name"] for acl in wafv2.list_web_acls(Scope="CLOUDFRONT")["WebACLs"]]


def test_create_makes_an_empty_cloudfront_web_acl_that_allows_by_default(wafv2: Any) -> None:
    acl = WebAclManager(wafv2).create(SPEC)

    found = wafv2.get_web_acl(Name=acl.name, Id=acl.id, Scope="CLOUDFRONT")["WebACL"]
    assert ":global/webacl/Stack-session-blocks/" in acl.arn
    assert (found["DefaultAction"], found["Rules"]) == ({"Allow": {}}, [])
    assert acl.attributes() == {"Arn": acl.arn, "Id": acl.id, "Name": "Stack-session-blocks"}


def test_a_retried_create_adopts_the_web_acl_it_made(wafv2: Any) -> None:
    first = WebAclManager(wafv2).create(SPEC)

    second = WebAclManager(wafv2).create(SPEC)

    assert second == first
    assert names(wafv2) == ["Stack-session-blocks"]


def test_delete_removes_the_web_acl_and_a_second_delete_succeeds(wafv2: Any) -> None:
    manager = WebAclManager(wafv2)
    acl = manager.create(SPEC)

    manager.delete(acl.arn)
    manager.delete(acl.arn)

    assert names(wafv2) == []


def test_delete_retries_a_lock_conflict_with_the_revoker(wafv2: Any) -> None:
    acl = WebAclManager(wafv2).create(SPEC)
    flaky = FlakyWaf(wafv2, "delete_web_acl", ["WAFOptimisticLockException", "WAFOptimisticLockException"])

    WebAclManager(flaky, sleep=lambda _: None).delete(acl.arn)

    assert flaky.codes == []
    assert names(wafv2) == []


def test_delete_of_a_web_acl_still_on_a_distribution_says_what_to_do(wafv2: Any) -> None:
    acl = WebAclManager(wafv2).create(SPEC)
    flaky = FlakyWaf(wafv2, "delete_web_acl", ["WAFAssociatedItemException"])

    with pytest.raises(WebAclFailed, match="still associated with a CloudFront distribution: remove it"):
        WebAclManager(flaky).delete(acl.arn)


def test_delete_after_a_create_that_made_nothing_touches_nothing(wafv2: Any) -> None:
    WebAclManager(wafv2).create(SPEC)

    WebAclManager(wafv2).delete("create-failed")

    assert names(wafv2) == ["Stack-session-blocks"]


def test_update_keeps_the_web_acl_and_its_rules(wafv2: Any) -> None:
    manager = WebAclManager(wafv2)
    acl = manager.create(SPEC)

    assert manager.current(acl.arn) == acl
