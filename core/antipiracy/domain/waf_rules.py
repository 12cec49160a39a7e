"""The layout of blocked sessions in an AWS WAF web ACL: which rules block which revoke tokens, and what they cost.

What is matched
    A session's streaming URL path is `/<prefix folder>/<token>.<encrypted watermark data>/...`, where `<token>` is
    the revoke token in URL-safe base64 (`url_safe`: no '=' padding, '+' -> '-', '/' -> '_'). A request carries a
    blocked token when one of its path segments is that token followed by '.': the rules match `/<token>.` in the
    raw URI path (TextTransformation NONE). The leading '/' and the trailing '.' are what make the match exact:
    a token that merely shares a prefix with a blocked one, or that holds a blocked one inside it, never matches
    (DoveRunner's sample matches `/<token>` with CONTAINS and so also blocks every token that starts with a blocked
    one). The match does not depend on the prefix folder, so older (`dldzkdpsxmdnjrtm`), current (`wm-contents`)
    and customer-configured folders, and paths with doubled slashes, are all covered by the same rule.

How tokens are packed
    Sorted tokens are packed into inline regex match statements (RegexMatchStatement on UriPath, 3 WCU each),
    `/(?:tok1|tok2|...)\\.`, each at most `max_pattern_length` (200) characters and `max_alternatives` (10) branches
    (WAF refuses "a large number of | branches"; capturing groups are unsupported, hence `(?:`). URL-safe base64
    needs no escaping ('-' and '_' are literal outside classes). `statements_per_rule` statements make one rule
    (an OrStatement; the OR adds no WCU). A token too long for a 200-character pattern (more than 193 characters)
    gets a ByteMatch CONTAINS `/<token>.` statement (10 WCU).

    Tokens per statement for a token of L characters: min(10, (200 - 6) // (L + 1)). Measured with `plan` (the
    most tokens of one length whose layout stays within the WCU):

    | token (URL-safe chars)               | per statement | tokens per 1,000 WCU | in 1,500 WCU |
    | 16 (12 bytes)                        | 10 (cap)      | 3,330                | 5,000        |
    | 22 (16 bytes)                        | 8             | 2,664                | 4,000        |
    | 27 (20 bytes: the local DoveRunner)  | 6             | 1,998                | 3,000        |
    | 28                                   | 6             | 1,998                | 3,000        |
    | 43 (32 bytes)                        | 4             | 1,332                | 2,000        |
    | 86 (64 bytes)                        | 2             | 666                  | 1,000        |
    | 194 to 198 (CONTAINS)                | 1             | 100                  | 150          |

    ("in 1,500 WCU" is with no other rule; every other rule's WCU comes off it.) For comparison, per 1,000 WCU:
    DoveRunner's sample (one CONTAINS rule per token) 100; STARTS_WITH `/<folder>/<token>.` for the two known
    folders 250; regex pattern sets (25 WCU for 10 patterns) 2,400 for 27-character tokens, but at most 600 tokens in
    all, since an account has 10 regex pattern sets per scope, shared with everything else it runs.

Known limit: the match is on the raw path. A request that percent-encodes a character of the token (`%41` for `A`)
is not matched; a URL_DECODE text transformation would cost 10 more WCU per statement (about 460 tokens per
1,000 WCU for 27-character tokens).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from antipiracy.domain.revocations import NoRoom
from antipiracy.domain.tokens import MAX_SEARCH_STRING, InvalidTokenText, to_url_safe

# WCU of the statements this module writes or prices (AWS WAF developer guide).
REGEX_MATCH_WCU = 3
REGEX_SET_WCU = 25
BYTE_MATCH_WCU = {"EXACTLY": 2, "STARTS_WITH": 2, "ENDS_WITH": 2, "CONTAINS": 10, "CONTAINS_WORD": 10}
TRANSFORMATION_WCU = 10
SIMPLE_STATEMENT_WCU = {
    "GeoMatchStatement": 1,
    "IPSetReferenceStatement": 1,
    "LabelMatchStatement": 1,
    "AsnMatchStatement": 1,
    "SizeConstraintStatement": 1,
    "SqliMatchStatement": 20,
    "XssMatchStatement": 40,
}
# MAX_SEARCH_STRING (200 bytes of a ByteMatch SearchString) is in domain/tokens.py: it bounds a token's length.

TIER_REGEX = "regex"
TIER_CONTAINS = "contains"

_PATTERN_HEAD = "/(?:"
_PATTERN_TAIL = ")\\."
_PATTERN_OVERHEAD = len(_PATTERN_HEAD) + len(_PATTERN_TAIL)
_OWN_PATTERN = re.compile(r"/\(\?:([A-Za-z0-9_-]+(?:\|[A-Za-z0-9_-]+)*)\)\\\.")
_OWN_SEARCH = re.compile(r"/([A-Za-z0-9_-]+)\.")


class WafBlockError(Exception):
    """Base of the engine's errors."""


class InvalidToken(WafBlockError, ValueError):
    """Not a revoke token the engine can block (breaks the grammar of domain/tokens.py)."""


class CapacityExceeded(WafBlockError, NoRoom):
    """The web ACL has no room for the tokens: nothing was written."""

    def __init__(self, used: int, limit: int, tokens: Sequence[str], blocked: int) -> None:
        super().__init__(
            f"blocking {len(tokens)} more token(s) would use {used} of the web ACL's {limit} WCU "
            f"({blocked} token(s) blocked now); not blocked: {', '.join(tokens)}"
        )
        self.used = used
        self.limit = limit
        self.tokens = tuple(tokens)
        self.blocked = blocked


class LockContention(WafBlockError):
    """Every attempt met a concurrent change of the web ACL (or throttling)."""

    def __init__(self, attempts: int, code: str) -> None:
        super().__init__(f"WAF refused every update ({code}, the last): gave up after {attempts} attempts")
        self.attempts = attempts
        self.code = code


class UnreadableRule(WafBlockError):
    """A rule named like the engine's whose tokens cannot be read back; writing would drop them."""


def url_safe(token: str) -> str:
    """The form the CDN embedder puts in the URL path: no '=' padding, '+' -> '-', '/' -> '_'.

    Idempotent (a URL-safe token comes back unchanged); raises InvalidToken for anything that breaks the token
    grammar (domain/tokens.py: one base64 alphabet, at most two trailing '=', 16 to 198 characters).
    """
    try:
        return to_url_safe(token)
    except InvalidTokenText as exc:
        raise InvalidToken(f"not a base64 revoke token ({exc}): {token[:40]!r}") from None


@dataclass(frozen=True, kw_only=True)
class WafTarget:
    """The web ACL the engine writes to, and the quotas and policy it plans with."""

    web_acl_name: str
    web_acl_id: str
    scope: str = "CLOUDFRONT"
    region: str = "us-east-1"  # CloudFront-scope web ACLs are managed from us-east-1
    name_prefix: str = "doverunner-revoked"
    capacity_limit: int = 1500
    max_pattern_length: int = 200
    max_alternatives: int = 10
    statements_per_rule: int = 20
    priority_base: int = 0
    other_rules_wcu: int | None = None  # None: computed from the web ACL
    alarm_threshold: float = 0.8
    typical_token_length: int = 27  # for the headroom estimate in tokens

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[\w-]{1,100}", self.name_prefix):
            raise ValueError(f"name_prefix must be 1-100 of [A-Za-z0-9_-]: {self.name_prefix!r}")
        if self.max_pattern_length < _PATTERN_OVERHEAD + 1 or self.max_alternatives < 1:
            raise ValueError("max_pattern_length and max_alternatives leave no room for a token")
        if self.statements_per_rule < 1 or self.capacity_limit < 1:
            raise ValueError("statements_per_rule and capacity_limit must be positive")

    def owns(self, rule_name: str) -> bool:
        return rule_name.startswith(self.name_prefix + "-")


@dataclass(frozen=True)
class TierUsage:
    tokens: int
    statements: int
    wcu: int


@dataclass(frozen=True)
class PlannedRule:
    """One of the engine's rules: a tier's statements, each matching a group of tokens."""

    name: str
    tier: str
    groups: tuple[tuple[str, ...], ...]  # the tokens of each statement

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(token for group in self.groups for token in group)

    @property
    def wcu(self) -> int:
        return len(self.groups) * (REGEX_MATCH_WCU if self.tier == TIER_REGEX else BYTE_MATCH_WCU["CONTAINS"])

    def statement(self) -> dict[str, Any]:
        statements = [_statement(self.tier, group) for group in self.groups]
        return statements[0] if len(statements) == 1 else {"OrStatement": {"Statements": statements}}

    def to_waf(self, priority: int) -> dict[str, Any]:
        return {
            "Name": self.name,
            "Priority": priority,
            "Action": {"Block": {}},
            "Statement": self.statement(),
            "VisibilityConfig": {
                "SampledRequestsEnabled": True,
                "CloudWatchMetricsEnabled": True,
                "MetricName": self.name,
            },
        }


def _statement(tier: str, group: Sequence[str]) -> dict[str, Any]:
    none = [{"Priority": 0, "Type": "NONE"}]
    if tier == TIER_REGEX:
        return {
            "RegexMatchStatement": {
                "RegexString": regex_for(group),
                "FieldToMatch": {"UriPath": {}},
                "TextTransformations": none,
            }
        }
    (token,) = group
    return {
        "ByteMatchStatement": {
            "SearchString": f"/{token}.".encode(),
            "FieldToMatch": {"UriPath": {}},
            "TextTransformations": none,
            "PositionalConstraint": "CONTAINS",
        }
    }


def regex_for(tokens: Sequence[str]) -> str:
    """`/(?:t1|t2|...)\\.`: a path segment that is one of the tokens followed by '.'."""
    return _PATTERN_HEAD + "|".join(tokens) + _PATTERN_TAIL


@dataclass(frozen=True)
class Plan:
    """The engine's rules for a token set, and what they cost."""

    tokens: tuple[str, ...]
    rules: tuple[PlannedRule, ...]
    wcu: int
    other_rules_wcu: int
    capacity_limit: int
    by_tier: Mapping[str, TierUsage]

    @property
    def used_wcu(self) -> int:
        return self.wcu + self.other_rules_wcu

    @property
    def fits(self) -> bool:
        return self.used_wcu <= self.capacity_limit


def plan(tokens: Iterable[str], target: WafTarget, other_rules_wcu: int = 0) -> Plan:
    """Lays the tokens out into the engine's rules; the same token set always gives the same rules."""
    ordered = sorted({url_safe(token) for token in tokens})
    regex_groups: list[tuple[str, ...]] = []
    contains: list[tuple[str, ...]] = []
    group: list[str] = []
    length = _PATTERN_OVERHEAD - 1  # one '|' fewer than tokens
    for token in ordered:
        if _PATTERN_OVERHEAD + len(token) > target.max_pattern_length:
            if len(token) + 2 > MAX_SEARCH_STRING:
                raise InvalidToken(f"a token of {len(token)} characters does not fit any match statement")
            contains.append((token,))
            continue
        if group and (length + len(token) + 1 > target.max_pattern_length or len(group) >= target.max_alternatives):
            regex_groups.append(tuple(group))
            group, length = [], _PATTERN_OVERHEAD - 1
        group.append(token)
        length += len(token) + 1
    if group:
        regex_groups.append(tuple(group))
    rules: list[PlannedRule] = []
    for tier, groups in ((TIER_REGEX, regex_groups), (TIER_CONTAINS, contains)):
        for start in range(0, len(groups), target.statements_per_rule):
            name = f"{target.name_prefix}-{len(rules):03d}"
            rules.append(PlannedRule(name, tier, tuple(groups[start : start + target.statements_per_rule])))
    by_tier = {
        TIER_REGEX: TierUsage(
            sum(len(g) for g in regex_groups), len(regex_groups), len(regex_groups) * REGEX_MATCH_WCU
        ),
        TIER_CONTAINS: TierUsage(len(contains), len(contains), len(contains) * BYTE_MATCH_WCU["CONTAINS"]),
    }
    return Plan(
        tokens=tuple(ordered),
        rules=tuple(rules),
        wcu=sum(rule.wcu for rule in rules),
        other_rules_wcu=other_rules_wcu,
        capacity_limit=target.capacity_limit,
        by_tier=by_tier,
    )


def tokens_per_statement(token_length: int, target: WafTarget) -> int:
    """How many tokens of that length one regex match statement holds (0: the CONTAINS tier, one per statement)."""
    fit = (target.max_pattern_length - _PATTERN_OVERHEAD + 1) // (token_length + 1)
    return min(target.max_alternatives, fit)


def tokens_per_wcu_budget(token_length: int, wcu: int, target: WafTarget) -> int:
    """How many tokens of that length fit in `wcu` WCU."""
    per_statement = tokens_per_statement(token_length, target)
    if per_statement == 0:
        return wcu // BYTE_MATCH_WCU["CONTAINS"]
    return (wcu // REGEX_MATCH_WCU) * per_statement


# -- WCU of any rule ----------------------------------------------------------------------------------------------


def statement_wcu(statement: Mapping[str, Any]) -> int | None:
    """The WCU of a rule statement, or None for one whose cost is not known here (rule groups, for one)."""
    if not statement:
        return None
    kind, body = next(iter(statement.items()))
    if not isinstance(body, Mapping):
        return None
    if kind in ("AndStatement", "OrStatement"):
        costs = [statement_wcu(child) for child in body.get("Statements", [])]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
    if kind == "NotStatement":
        return statement_wcu(body.get("Statement", {}))
    if kind == "RateBasedStatement":
        inner = body.get("ScopeDownStatement")
        inner_wcu = statement_wcu(inner) if inner else 0
        return None if inner_wcu is None else 2 + inner_wcu
    transformations = sum(
        TRANSFORMATION_WCU for t in body.get("TextTransformations", []) if t.get("Type", "NONE") != "NONE"
    )
    if "AllQueryArguments" in (body.get("FieldToMatch") or {}):
        transformations += 10
    if kind == "ByteMatchStatement":
        base = BYTE_MATCH_WCU.get(str(body.get("PositionalConstraint")))
    elif kind == "RegexMatchStatement":
        base = REGEX_MATCH_WCU
    elif kind == "RegexPatternSetReferenceStatement":
        base = REGEX_SET_WCU
    else:
        base = SIMPLE_STATEMENT_WCU.get(kind)
    if base is None:
        return None
    if "JsonBody" in (body.get("FieldToMatch") or {}):
        base *= 2
    return base + transformations


def rule_wcu(rule: Mapping[str, Any]) -> int | None:
    return statement_wcu(rule.get("Statement") or {})


# -- reading the engine's rules back ------------------------------------------------------------------------------


def _leaves(statement: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if "OrStatement" in statement:
        return list(statement["OrStatement"].get("Statements", []))
    return [statement]


def read_rule(rule: Mapping[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    """The tier and tokens of each statement of one of the engine's rules; UnreadableRule if it is not one."""
    name = rule.get("Name")
    if "Block" not in (rule.get("Action") or {}):
        raise UnreadableRule(f"rule {name} does not block")
    groups: list[tuple[str, tuple[str, ...]]] = []
    for leaf in _leaves(rule.get("Statement") or {}):
        regex = leaf.get("RegexMatchStatement")
        byte = leaf.get("ByteMatchStatement")
        if regex is not None and (found := _OWN_PATTERN.fullmatch(str(regex.get("RegexString", "")))):
            groups.append((TIER_REGEX, tuple(found.group(1).split("|"))))
            continue
        if byte is not None and byte.get("PositionalConstraint") == "CONTAINS":
            search = byte.get("SearchString", b"")
            text = search.decode("utf-8", "replace") if isinstance(search, bytes) else str(search)
            if found := _OWN_SEARCH.fullmatch(text):
                groups.append((TIER_CONTAINS, (found.group(1),)))
                continue
        raise UnreadableRule(f"rule {name} has a statement the engine did not write: {leaf}")
    return groups


@dataclass(frozen=True)
class Capacity:
    """The web ACL's capacity as the engine sees it."""

    used_wcu: int  # the whole web ACL: the engine's rules and the others
    limit: int
    own_wcu: int
    other_rules_wcu: int
    tokens: int
    headroom_wcu: int
    headroom_tokens: int  # more tokens of `typical_token_length` that still fit (an estimate)
    by_tier: Mapping[str, TierUsage]
    alarm_threshold: float

    @property
    def used_fraction(self) -> float:
        return self.used_wcu / self.limit

    @property
    def alarm(self) -> bool:
        return self.used_fraction >= self.alarm_threshold
