"""The blocking engine against moto's WAF (a CloudFront web ACL in us-east-1 with one customer rule); its plan and
the evaluator on their own are in tests/unit/test_waf_plan.py.

moto's lock-token check is not atomic across threads; `AtomicWaf` (tests/support) makes it so, as AWS's is.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import pytest
from atomic_waf import AtomicWaf
from revoke_tokens import revoke_token
from web_acls import create_web_acl, visibility

from antipiracy.adapters.waf_blocker import SessionBlocker
from antipiracy.domain.waf_rules import (
    TIER_REGEX,
    CapacityExceeded,
    LockContention,
    UnreadableRule,
    WafTarget,
    url_safe,
)
from doverunner_local.waf_evaluator import matches

CUSTOMER_RULE_WCU = 20  # CONTAINS (10) + one LOWERCASE transformation (10)

CUSTOMER_RULE: dict[str, Any] = {
    "Name": "customer-admin-block",
    "Priority": 1,
    "Action": {"Block": {}},
    "Statement": {
        "ByteMatchStatement": {
            "SearchString": b"/admin/",
            "FieldToMatch": {"UriPath": {}},
            "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}],
            "PositionalConstraint": "CONTAINS",
        }
    },
    "VisibilityConfig": visibility("customer-admin-block", enabled=True),
}


@dataclass
class Acl:
    """A CloudFront web ACL in moto with one customer rule."""

    raw: Any  # the moto client
    waf: AtomicWaf
    target: WafTarget

    def get(self) -> dict[str, Any]:
        return dict(self.raw.get_web_acl(Name=self.target.web_acl_name, Scope="CLOUDFRONT", Id=self.target.web_acl_id))

    def rules(self) -> list[dict[str, Any]]:
        return list(self.get()["WebACL"]["Rules"])

    def own_rules(self) -> list[dict[str, Any]]:
        return [r for r in self.rules() if r["Name"].startswith("doverunner-revoked-")]

    def blocker(self, **options: Any) -> SessionBlocker:
        options.setdefault("sleep", lambda _: None)
        options.setdefault("rng", random.Random(7))
        return SessionBlocker(self.waf, options.pop("target", self.target), **options)

    def blocks(self, path: str) -> bool:
        return matches(self.rules(), {}, path)


def _create_acl(raw: Any, name: str) -> WafTarget:
    return create_web_acl(
        raw, name, rules=[CUSTOMER_RULE], description="the customer's distribution", metrics=True
    ).target


@pytest.fixture
def acl(moto_wafv2: Any) -> Acl:
    return Acl(moto_wafv2, AtomicWaf(moto_wafv2), _create_acl(moto_wafv2, "distribution-acl"))


def _stream_paths(token: str) -> list[str]:
    safe = url_safe(token)
    return [f"/wm-contents/{safe}.Zm9vYmFy/seg-00001.ts", f"/dldzkdpsxmdnjrtm/{safe}.YmFyYmF6/x.m4s"]


# -- blocking and unblocking against moto ---------------------------------------------------------------------


def test_a_blocked_token_blocks_every_request_that_carries_it_and_no_other(acl: Acl) -> None:
    # given a revoke token with '+', '/' and '=' as DoveRunner reports it
    token = "ab+cd/efGHIJKLMNOPQRSTUVWXYZ="
    # when it is blocked
    result = acl.blocker().block([token])
    # then it is blocked in its URL-safe form, and so are requests for the session's segments in either folder
    assert result.added == ("ab-cd_efGHIJKLMNOPQRSTUVWXYZ",)
    assert acl.blocker().blocked() == {"ab-cd_efGHIJKLMNOPQRSTUVWXYZ"}
    assert all(acl.blocks(path) for path in _stream_paths(token))
    assert acl.blocks("/customer-folder/ab-cd_efGHIJKLMNOPQRSTUVWXYZ.data/init.mp4")
    assert not acl.blocks("/wm-contents/ab-cd_efGHIJKLMNOPQRSTUVWXY.data/seg.ts")  # one character short
    assert not acl.blocks("/wm-contents/ab-cd_efGHIJKLMNOPQRSTUVWXYZA.data/seg.ts")  # one character more
    assert not acl.blocks("/wm-contents/Xab-cd_efGHIJKLMNOPQRSTUVWXYZ.data/seg.ts")  # inside a longer token


def test_blocking_a_blocked_token_again_succeeds_and_writes_nothing(acl: Acl) -> None:
    # given a blocked token
    token = revoke_token(random.Random(1))
    acl.blocker().block([token])
    lock_before = acl.get()["LockToken"]
    # when it is blocked again
    result = acl.blocker().block([token])
    # then it is reported as already blocked, and the web ACL was not written
    assert result.added == ()
    assert result.already_blocked == (url_safe(token),)
    assert acl.get()["LockToken"] == lock_before
    assert acl.waf.updates == 1


def test_the_same_token_twice_in_one_call_in_both_forms_is_blocked_once(acl: Acl) -> None:
    # given one token in its standard and URL-safe forms, twice each
    token = "++//ABCDEFGHIJKLMNOPQRSTUVW="
    # when they are blocked in one call
    result = acl.blocker().block([token, url_safe(token), token, url_safe(token)])
    # then the web ACL holds it once
    assert result.added == ("--__ABCDEFGHIJKLMNOPQRSTUVW",)
    patterns = [
        s["RegexMatchStatement"]["RegexString"]
        for r in acl.own_rules()
        for s in [r["Statement"]]
        if "RegexMatchStatement" in s
    ]
    assert patterns == ["/(?:--__ABCDEFGHIJKLMNOPQRSTUVW)\\."]


def test_several_tokens_in_one_call_are_all_blocked(acl: Acl) -> None:
    rng = random.Random(2)
    tokens = [revoke_token(rng) for _ in range(25)]
    result = acl.blocker().block(tokens)
    assert len(result.added) == 25
    assert acl.blocker().blocked() == {url_safe(t) for t in tokens}


def test_unblock_lifts_exactly_that_token(acl: Acl) -> None:
    # given 20 blocked tokens
    rng = random.Random(3)
    tokens = [revoke_token(rng) for _ in range(20)]
    acl.blocker().block(tokens)
    lifted = tokens[7]
    # when one is unblocked (once more: a no-op)
    result = acl.blocker().unblock([lifted])
    again = acl.blocker().unblock([lifted])
    # then its requests pass again, every other token stays blocked
    assert result.removed == (url_safe(lifted),)
    assert again.not_blocked == (url_safe(lifted),)
    assert acl.blocker().blocked() == {url_safe(t) for t in tokens} - {url_safe(lifted)}
    assert not any(acl.blocks(path) for path in _stream_paths(lifted))
    assert all(acl.blocks(path) for t in tokens if t != lifted for path in _stream_paths(t))


def test_unblocking_every_token_removes_every_rule_of_the_engine(acl: Acl) -> None:
    rng = random.Random(4)
    tokens = [revoke_token(rng) for _ in range(200)]
    acl.blocker().block(tokens)
    assert len(acl.own_rules()) == 2  # 34 statements, 20 a rule
    acl.blocker().unblock(tokens)
    assert acl.own_rules() == []
    assert acl.rules() == [CUSTOMER_RULE]


def test_unrelated_rules_their_priorities_and_the_web_acl_settings_are_left_alone(acl: Acl) -> None:
    # given the customer rule at priority 1
    before = acl.get()["WebACL"]
    # when enough tokens are blocked for several rules of the engine, and some are lifted
    rng = random.Random(5)
    tokens = [revoke_token(rng) for _ in range(400)]
    acl.blocker().block(tokens)
    acl.blocker().unblock(tokens[:100])
    # then the customer rule is as it was, and the engine's rules took the free priorities around it
    after = acl.get()["WebACL"]
    assert [r for r in after["Rules"] if r["Name"] == "customer-admin-block"] == [CUSTOMER_RULE]
    assert [r["Priority"] for r in acl.own_rules()] == [0, 2, 3]
    for key in ("DefaultAction", "Description", "VisibilityConfig"):
        assert after[key] == before[key]
    assert acl.blocks("/Admin/users")  # the customer rule still works
    assert not acl.blocks("/wm-contents/users.data/seg.ts")


def test_an_owned_rule_the_engine_cannot_read_stops_every_write(acl: Acl) -> None:
    # given a rule named like the engine's that it did not write
    answer = acl.get()
    foreign = {**CUSTOMER_RULE, "Name": "doverunner-revoked-999", "Priority": 9}
    acl.raw.update_web_acl(
        Name=acl.target.web_acl_name,
        Scope="CLOUDFRONT",
        Id=acl.target.web_acl_id,
        DefaultAction={"Allow": {}},
        VisibilityConfig=answer["WebACL"]["VisibilityConfig"],
        LockToken=answer["LockToken"],
        Rules=[CUSTOMER_RULE, foreign],
    )
    # when a token is blocked, then the engine refuses rather than drop what it cannot read
    with pytest.raises(UnreadableRule, match="doverunner-revoked-999"):
        acl.blocker().block([revoke_token(random.Random(6))])
    assert acl.waf.updates == 0


# -- concurrency -----------------------------------------------------------------------------------------------


def test_a_lock_conflict_is_retried_and_neither_writer_loses_its_token(acl: Acl) -> None:
    # given another writer that blocks its token between this writer's read and its update
    mine, theirs = "MINEmineMINEmineMINEmineMIN", "THEIRStheirsTHEIRStheirsTHE"
    acl.waf.after_read = lambda: SessionBlocker(acl.raw, acl.target).block([theirs])
    delays: list[float] = []
    # when this writer blocks its token
    result = acl.blocker(sleep=delays.append).block([mine])
    # then moto refused the stale lock token once, the retry succeeded, and both tokens are blocked
    assert acl.waf.conflicts == 1
    assert result.attempts == 2
    assert len(delays) == 1
    assert 0 <= delays[0] <= 0.2
    assert acl.blocker().blocked() == {mine, theirs}


def test_lock_contention_past_max_attempts_raises_a_clear_error_after_full_jitter_backoff(acl: Acl) -> None:
    acl.waf.inject = ["WAFOptimisticLockException"] * 10
    delays: list[float] = []
    blocker = acl.blocker(sleep=delays.append, max_attempts=5, backoff_base=0.1, backoff_cap=0.3)
    with pytest.raises(LockContention, match=r"WAFOptimisticLockException.*after 5 attempts"):
        blocker.block([revoke_token(random.Random(8))])
    assert len(delays) == 4
    caps = [0.1, 0.2, 0.3, 0.3]
    assert all(0 <= delay <= cap for delay, cap in zip(delays, caps, strict=True))
    assert acl.blocker().blocked() == set()


def test_fifty_concurrent_writers_all_get_their_token_blocked(acl: Acl) -> None:
    # given 50 callers (threads standing for Lambdas), each with its own token, started at once
    rng = random.Random(9)
    tokens = [revoke_token(rng) for _ in range(50)]
    start = threading.Barrier(len(tokens))
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def caller(token: str, seed: int) -> None:
        blocker = SessionBlocker(
            acl.waf, acl.target, rng=random.Random(seed), max_attempts=200, backoff_base=0.002, backoff_cap=0.05
        )
        start.wait()
        try:
            results[token] = blocker.block([token]).attempts
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(t, i)) for i, t in enumerate(tokens)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then every caller succeeded, there were real conflicts, and no token was lost
    assert errors == []
    assert len(results) == 50
    assert acl.waf.conflicts > 0
    assert acl.blocker().blocked() == {url_safe(t) for t in tokens}
    assert time.monotonic() - began < 30


def test_the_web_acl_is_a_function_of_the_token_set_whatever_the_order_of_changes(moto_wafv2: Any) -> None:
    rng = random.Random(10)
    tokens = [revoke_token(rng) for _ in range(60)]
    first = Acl(moto_wafv2, AtomicWaf(moto_wafv2), _create_acl(moto_wafv2, "first"))
    second = Acl(moto_wafv2, AtomicWaf(moto_wafv2), _create_acl(moto_wafv2, "second"))
    first.blocker().block(tokens)
    for token in reversed(tokens + tokens[:5]):
        second.blocker().block([token])
    extra = revoke_token(rng)
    first.blocker().block([extra])
    first.blocker().unblock([extra])
    assert first.own_rules() == second.own_rules()


# -- capacity --------------------------------------------------------------------------------------------------


def test_a_block_past_capacity_is_refused_naming_used_limit_and_tokens_and_nothing_is_written(acl: Acl) -> None:
    # given a web ACL with 30 WCU: 20 for the customer rule, room for 3 statements (18 tokens)
    small = replace(acl.target, capacity_limit=30)
    rng = random.Random(11)
    tokens = [revoke_token(rng) for _ in range(19)]
    acl.blocker(target=small).block(tokens[:18])
    lock_before = acl.get()["LockToken"]
    # when one more token is blocked
    with pytest.raises(CapacityExceeded) as refused:
        acl.blocker(target=small).block([tokens[18]])
    # then the refusal says why, and the web ACL is unchanged
    assert (refused.value.used, refused.value.limit, refused.value.tokens) == (32, 30, (url_safe(tokens[18]),))
    assert refused.value.blocked == 18
    assert "32 of the web ACL's 30 WCU" in str(refused.value)
    assert acl.get()["LockToken"] == lock_before
    # and a token already blocked is still a success
    assert acl.blocker(target=small).block([tokens[0]]).already_blocked == (url_safe(tokens[0]),)


def test_waf_refusing_the_update_for_its_limits_is_a_capacity_refusal(acl: Acl) -> None:
    acl.waf.inject = ["WAFLimitsExceededException"]
    with pytest.raises(CapacityExceeded):
        acl.blocker().block([revoke_token(random.Random(12))])


def test_capacity_gives_the_used_fraction_for_the_alarm(acl: Acl) -> None:
    target = replace(acl.target, capacity_limit=100, alarm_threshold=0.8)
    rng = random.Random(13)
    acl.blocker(target=target).block([revoke_token(rng) for _ in range(60)])  # 10 statements, 30 WCU
    below = acl.blocker(target=target).capacity()
    acl.blocker(target=target).block([revoke_token(rng) for _ in range(60)])  # 20 statements, 60 WCU
    at = acl.blocker(target=target).capacity()
    assert (below.used_wcu, below.used_fraction, below.alarm) == (50, 0.5, False)
    assert (at.used_wcu, at.other_rules_wcu, at.own_wcu, at.tokens) == (80, CUSTOMER_RULE_WCU, 60, 120)
    assert (at.used_fraction, at.alarm) == (0.8, True)
    assert (at.headroom_wcu, at.headroom_tokens) == (20, 36)
    assert at.by_tier[TIER_REGEX].statements == 20


def test_a_thousand_revoke_tokens_fit_in_1500_wcu_with_the_customer_rule_and_block_exactly_their_requests(
    acl: Acl,
) -> None:
    # given 1,000 revoke tokens as the local DoveRunner makes them (20 bytes: 27 URL-safe characters)
    rng = random.Random(14)
    tokens = [revoke_token(rng) for _ in range(1000)]
    # when they are all blocked
    result = acl.blocker().block(tokens)
    # then they fit the default 1,500 WCU with room to spare, and WAF gives them all back
    assert len(result.added) == 1000
    assert result.capacity.used_wcu == CUSTOMER_RULE_WCU + 167 * 3 <= 1500
    assert result.capacity.headroom_tokens >= 1900
    assert acl.blocker().blocked() == {url_safe(t) for t in tokens}
    # and every stream request of a blocked session is blocked, in both folders
    rules = acl.rules()
    assert all(matches(rules, {}, path) for t in tokens for path in _stream_paths(t))
    # and no request of another session is, even one whose token is close to a blocked one
    others = [revoke_token(rng) for _ in range(1000)]
    assert not any(matches(rules, {}, path) for t in others for path in _stream_paths(t))
    near = []
    for t in (url_safe(t) for t in tokens[:250]):
        near += [t[:-1], t + "A", t[:-1] + ("B" if t[-1] != "B" else "C"), "x" + t, t[1:]]
    assert not any(matches(rules, {}, f"/wm-contents/{n}.Zm9v/seg.ts") for n in near)
