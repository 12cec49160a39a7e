"""The blocking engine's plan of WAF rules and the evaluator of tests/support's WAF stand-in, on their own: which
tokens fit, how they are laid out, and which requests the rules block."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from revoke_tokens import URL_SAFE_ALPHABET, revoke_token

from antipiracy.domain.tokens import MIN_TOKEN_LENGTH
from antipiracy.domain.waf_rules import TIER_CONTAINS, InvalidToken, WafTarget, plan, tokens_per_wcu_budget, url_safe
from doverunner_local.waf_evaluator import matches

CUSTOMER_RULE_WCU = 20  # the customer rule of tests/waf/test_session_blocker.py: CONTAINS (10) + LOWERCASE (10)

# -- tokens -----------------------------------------------------------------------------------------------------


def test_a_token_that_is_not_base64_is_refused() -> None:
    for bad in ("", "abc.def", "a b", "tok%41", "ü"):
        with pytest.raises(InvalidToken):
            url_safe(bad)


def test_url_safe_form_is_what_the_cdn_embedder_puts_in_the_path() -> None:
    assert url_safe("ab+/cdEFGHIJKLMNOP==") == "ab-_cdEFGHIJKLMNOP"


# -- capacity --------------------------------------------------------------------------------------------------


def test_at_most_as_many_tokens_as_the_capacity_allows_are_planned_and_the_figures_per_1000_wcu() -> None:
    target = WafTarget(web_acl_name="acl", web_acl_id="id")
    rng = random.Random(15)
    tokens = [url_safe(revoke_token(rng)) for _ in range(2959)]
    # 1,480 WCU left by the customer rule: 493 statements of 6 tokens
    assert plan(tokens[:2958], target, CUSTOMER_RULE_WCU).fits
    assert not plan(tokens, target, CUSTOMER_RULE_WCU).fits
    per_1000 = {length: tokens_per_wcu_budget(length, 1000, target) for length in (22, 27, 28, 43, 86)}
    assert per_1000 == {22: 2664, 27: 1998, 28: 1998, 43: 1332, 86: 666}
    assert per_1000[27] >= 10 * 100  # DoveRunner's sample: one CONTAINS rule (10 WCU) per token


# -- the plan ---------------------------------------------------------------------------------------------------


def test_the_plan_is_deterministic_whatever_the_order_or_form_of_the_tokens() -> None:
    target = WafTarget(web_acl_name="acl", web_acl_id="id")
    rng = random.Random(16)
    tokens = [revoke_token(rng) for _ in range(300)]
    shuffled = [url_safe(t) for t in tokens]
    rng.shuffle(shuffled)
    a, b = plan(tokens, target, 20), plan(shuffled + tokens[:10], target, 20)
    assert a == b
    assert [r.to_waf(i) for i, r in enumerate(a.rules)] == [r.to_waf(i) for i, r in enumerate(b.rules)]
    assert a.tokens == tuple(sorted(a.tokens))
    assert all(len(r.statement()["OrStatement"]["Statements"]) <= 20 for r in a.rules if len(r.groups) > 1)


def test_a_token_too_long_for_a_regex_gets_a_contains_statement() -> None:
    target = WafTarget(web_acl_name="acl", web_acl_id="id")
    long_token = "L" * 195
    layout = plan([long_token, "short-but-a-token"], target)
    assert layout.by_tier[TIER_CONTAINS].tokens == 1
    assert layout.wcu == 3 + 10
    rules = [r.to_waf(i) for i, r in enumerate(layout.rules)]
    assert matches(rules, {}, f"/wm-contents/{long_token}.d/seg.ts")
    assert not matches(rules, {}, f"/wm-contents/{long_token}L.d/seg.ts")
    with pytest.raises(InvalidToken):
        plan(["L" * 199], target)


# -- the URI property -------------------------------------------------------------------------------------------

# Small quotas, so that small token sets already spread over several statements, rules and both tiers.
# Tokens of 16 (the grammar's floor) to 56 characters: up to 3 per statement, and the longest ones (52 and more) in
# the CONTAINS tier.
SMALL = WafTarget(web_acl_name="acl", web_acl_id="id", max_pattern_length=58, max_alternatives=3, statements_per_rule=2)
_token = st.text(alphabet=URL_SAFE_ALPHABET, min_size=MIN_TOKEN_LENGTH, max_size=56)
_segment = st.text(alphabet=URL_SAFE_ALPHABET + ".%", max_size=10)


def carries(path: str, blocked: set[str]) -> bool:
    """The oracle: some path segment is a blocked token followed by '.'."""
    return any("." in segment and segment.split(".", 1)[0] in blocked for segment in path.split("/")[1:])


@st.composite
def _paths(draw: st.DrawFn, blocked: list[str]) -> str:
    segments = draw(st.lists(_segment, min_size=1, max_size=4))
    carrying: bool = draw(st.booleans())
    if blocked and carrying:
        token = draw(st.sampled_from(blocked))
        variant = draw(st.sampled_from(["exact", "shorter", "longer", "inside", "other"]))
        core = {
            "exact": token,
            "shorter": token[:-1],
            "longer": token + draw(st.sampled_from(URL_SAFE_ALPHABET)),
            "inside": draw(st.sampled_from(URL_SAFE_ALPHABET)) + token,
            "other": draw(_token),
        }[variant]
        segments.insert(draw(st.integers(0, len(segments))), core + "." + draw(_segment))
    return "/" + "/".join(segments)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), blocked=st.lists(_token, max_size=25, unique=True))
def test_a_request_is_blocked_exactly_when_a_path_segment_is_a_blocked_token_and_a_dot(
    data: st.DataObject, blocked: list[str]
) -> None:
    layout = plan(blocked, SMALL)
    rules = [r.to_waf(i) for i, r in enumerate(layout.rules)]
    assert set(layout.tokens) == set(blocked)
    for _ in range(5):
        path = data.draw(_paths(blocked))
        assert matches(rules, {}, path) == carries(path, set(blocked)), path
    for token in blocked:
        assert matches(rules, {}, f"/wm-contents/{token}.ZGF0YQ/seg.ts")
