"""The blocking engine: revoked DoveRunner sessions blocked at the CDN by rules of an AWS WAF web ACL.

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

Why everything lives in the web ACL (no regex pattern sets)
    The web ACL is then the only resource written, with one lock token: every change is one read-modify-write of
    the whole token set (GetWebACL -> `plan` -> UpdateWebACL with the LockToken), which WAF applies atomically or
    refuses with WAFOptimisticLockException. The state is a function of the token set, so concurrent writers
    converge and none loses another's token. Spreading tokens over regex pattern sets as well would add at most
    about 100 tokens per 1,500 WCU (3%), but makes a change a sequence of writes to several resources, each with its
    own lock token; with a deterministic layout a token moves between sets as others come and go, and a writer that
    reads one set before and another after such a move loses the token for good.

Ownership
    The engine owns exactly the rules whose name starts with `<name_prefix>-`; other rules are sent back as read,
    priorities included. The engine's rules take the lowest priorities from `priority_base` up that no other rule
    uses (give the engine a priority range below any Allow rule that could match a session's URL). An owned rule
    the engine cannot read stops every write: dropping it would unblock its tokens.

Capacity policy
    Before a write the engine computes the new layout's WCU plus the other rules' WCU (from the statements it knows;
    for others, such as managed rule groups, from the Capacity GetWebACL reports minus the engine's own; or
    `other_rules_wcu` when configured). A block that would go past `capacity_limit` is refused as a whole with
    CapacityExceeded (used, limit and the tokens refused): nothing is written, and the caller records the tokens as
    not blocked and alarms. WAFLimitsExceededException from UpdateWebACL is reported the same way. `capacity()`
    gives `used_fraction` for a metric, and `alarm` when it reaches `alarm_threshold`. Unblocking is never refused.

Conflicts
    WAFOptimisticLockException (and WAFUnavailableEntityException, ThrottlingException) restart the whole
    read-modify-write after an exponential backoff with full jitter, up to `max_attempts`; then LockContention.

Known limit: the match is on the raw path. A request that percent-encodes a character of the token (`%41` for `A`)
is not matched; a URL_DECODE text transformation would cost 10 more WCU per statement (about 460 tokens per
1,000 WCU for 27-character tokens).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

from botocore.exceptions import ClientError

from pipeline.aws_errors import error_code
from pipeline.observability import logger

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
MAX_SEARCH_STRING = 200  # bytes of a ByteMatch SearchString

TIER_REGEX = "regex"
TIER_CONTAINS = "contains"

_URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_PATTERN_HEAD = "/(?:"
_PATTERN_TAIL = ")\\."
_PATTERN_OVERHEAD = len(_PATTERN_HEAD) + len(_PATTERN_TAIL)
_OWN_PATTERN = re.compile(r"/\(\?:([A-Za-z0-9_-]+(?:\|[A-Za-z0-9_-]+)*)\)\\\.")
_OWN_SEARCH = re.compile(r"/([A-Za-z0-9_-]+)\.")
# Throttling too: botocore retries it a few times, but 50 Lambdas at once can outlast that.
_RETRYABLE = frozenset({"WAFOptimisticLockException", "WAFUnavailableEntityException", "ThrottlingException"})
# UpdateWebACL's fields besides the ones the engine sets, when the client carries no service model.
_UPDATE_FIELDS = (
    "DefaultAction",
    "Description",
    "VisibilityConfig",
    "DataProtectionConfig",
    "CustomResponseBodies",
    "CaptchaConfig",
    "ChallengeConfig",
    "TokenDomains",
    "AssociationConfig",
    "OnSourceDDoSProtectionConfig",
    "ApplicationConfig",
)
_SET_BY_ENGINE = frozenset({"Name", "Scope", "Id", "LockToken", "Rules"})


class WafBlockError(Exception):
    """Base of the engine's errors."""


class InvalidToken(WafBlockError, ValueError):
    """Not a revoke token the engine can block (empty, not base64, or too long for any match statement)."""


class CapacityExceeded(WafBlockError):
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

    Idempotent (a URL-safe token comes back unchanged); raises InvalidToken for anything else than base64.
    """
    converted = token.rstrip("=").replace("+", "-").replace("/", "_")
    if not _URL_SAFE.fullmatch(converted):
        raise InvalidToken(f"not a base64 revoke token: {token!r}")
    return converted


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


# -- the engine ---------------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class BlockResult:
    added: tuple[str, ...]  # URL-safe tokens blocked by this call
    already_blocked: tuple[str, ...]  # blocked before: a success too
    capacity: Capacity
    attempts: int


@dataclass(frozen=True)
class UnblockResult:
    removed: tuple[str, ...]
    not_blocked: tuple[str, ...]  # were not blocked: nothing to do
    capacity: Capacity
    attempts: int


@dataclass
class _Snapshot:
    acl: dict[str, Any]
    lock_token: str
    own: list[dict[str, Any]]
    others: list[dict[str, Any]]
    tokens: set[str] = field(default_factory=set)
    own_wcu: int = 0
    by_tier: dict[str, TierUsage] = field(default_factory=dict)


def _without_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


class SessionBlocker:
    """Blocks, unblocks and lists revoke tokens in one web ACL; safe to run from many callers at once."""

    def __init__(
        self,
        wafv2: Any,
        target: WafTarget,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_attempts: int = 8,
        backoff_base: float = 0.2,
        backoff_cap: float = 5.0,
    ) -> None:
        self._waf = wafv2
        self._target = target
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._max_attempts = max(1, max_attempts)
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._update_fields = self._passthrough_fields(wafv2)

    @staticmethod
    def _passthrough_fields(wafv2: Any) -> tuple[str, ...]:
        """Every UpdateWebACL field the engine does not set, so that none is reset by the update."""
        try:
            members = wafv2.meta.service_model.operation_model("UpdateWebACL").input_shape.members
        except AttributeError:
            return _UPDATE_FIELDS
        return tuple(name for name in members if name not in _SET_BY_ENGINE)

    # public API

    def block(self, tokens: Iterable[str]) -> BlockResult:
        """Blocks the tokens (standard or URL-safe base64). Already blocked ones are reported, not an error.

        All or nothing: CapacityExceeded when the web ACL has no room for all of them.
        """
        wanted = {url_safe(token) for token in tokens}
        snapshot, attempts, capacity = self._change(add=wanted, remove=set())
        before = snapshot.tokens
        return BlockResult(
            added=tuple(sorted(wanted - before)),
            already_blocked=tuple(sorted(wanted & before)),
            capacity=capacity,
            attempts=attempts,
        )

    def unblock(self, tokens: Iterable[str]) -> UnblockResult:
        """Lifts the block on exactly these tokens; ones not blocked are reported, not an error."""
        lifted = {url_safe(token) for token in tokens}
        snapshot, attempts, capacity = self._change(add=set(), remove=lifted)
        before = snapshot.tokens
        return UnblockResult(
            removed=tuple(sorted(lifted & before)),
            not_blocked=tuple(sorted(lifted - before)),
            capacity=capacity,
            attempts=attempts,
        )

    def blocked(self) -> set[str]:
        """The URL-safe tokens the web ACL blocks now, read back from WAF."""
        return set(self._read().tokens)

    def capacity(self) -> Capacity:
        snapshot = self._read()
        return self._capacity(snapshot.own_wcu, self._other_wcu(snapshot), len(snapshot.tokens), snapshot.by_tier)

    # the read-modify-write

    def _change(self, *, add: set[str], remove: set[str]) -> tuple[_Snapshot, int, Capacity]:
        code = ""
        for attempt in range(1, self._max_attempts + 1):
            try:
                return self._attempt(add, remove, attempt)
            except ClientError as exc:
                code = error_code(exc)
                if code not in _RETRYABLE:
                    raise
                if attempt < self._max_attempts:
                    delay = self._rng.uniform(0, min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1)))
                    logger.info("web ACL changed under the update: retrying", extra={"attempt": attempt, "code": code})
                    self._sleep(delay)
        raise LockContention(self._max_attempts, code)

    def _attempt(self, add: set[str], remove: set[str], attempt: int) -> tuple[_Snapshot, int, Capacity]:
        """One read-modify-write; ClientError when WAF refuses it."""
        snapshot = self._read()
        other_wcu = self._other_wcu(snapshot)
        new_tokens = (snapshot.tokens | add) - remove
        if new_tokens == snapshot.tokens:
            return snapshot, attempt, self._capacity(snapshot.own_wcu, other_wcu, len(new_tokens), snapshot.by_tier)
        layout = plan(new_tokens, self._target, other_wcu)
        added = sorted(add - snapshot.tokens)
        limit = self._target.capacity_limit
        if added and not layout.fits:
            raise CapacityExceeded(layout.used_wcu, limit, added, len(snapshot.tokens))
        try:
            self._write(snapshot, layout)
        except ClientError as exc:
            if error_code(exc) == "WAFLimitsExceededException" and added:
                raise CapacityExceeded(layout.used_wcu, limit, added, len(snapshot.tokens)) from exc
            raise
        return snapshot, attempt, self._capacity(layout.wcu, other_wcu, len(layout.tokens), layout.by_tier)

    def _read(self) -> _Snapshot:
        target = self._target
        answer = self._waf.get_web_acl(Name=target.web_acl_name, Scope=target.scope, Id=target.web_acl_id)
        acl = dict(answer["WebACL"])
        rules = list(acl.get("Rules") or [])
        own = [rule for rule in rules if target.owns(str(rule.get("Name", "")))]
        others = [rule for rule in rules if not target.owns(str(rule.get("Name", "")))]
        snapshot = _Snapshot(acl, str(answer["LockToken"]), own, others)
        counts: dict[str, list[int]] = {TIER_REGEX: [0, 0, 0], TIER_CONTAINS: [0, 0, 0]}
        for rule in own:
            for tier, group in read_rule(rule):
                snapshot.tokens.update(group)
                unit = REGEX_MATCH_WCU if tier == TIER_REGEX else BYTE_MATCH_WCU["CONTAINS"]
                counts[tier][0] += len(group)
                counts[tier][1] += 1
                counts[tier][2] += unit
            snapshot.own_wcu += rule_wcu(rule) or 0
        snapshot.by_tier = {tier: TierUsage(*values) for tier, values in counts.items()}
        return snapshot

    def _other_wcu(self, snapshot: _Snapshot) -> int:
        if self._target.other_rules_wcu is not None:
            return self._target.other_rules_wcu
        costs = [rule_wcu(rule) for rule in snapshot.others]
        known = sum(c for c in costs if c is not None)
        reported = snapshot.acl.get("Capacity")
        # WAF reports the whole web ACL's WCU; it covers statements priced nowhere here (moto reports a dummy 3).
        from_reported = reported - snapshot.own_wcu if isinstance(reported, int) else 0
        if any(c is None for c in costs) and not isinstance(reported, int):
            raise WafBlockError("the web ACL has rules of unknown WCU and reports no capacity: set other_rules_wcu")
        return max(known, from_reported)

    def _write(self, snapshot: _Snapshot, layout: Plan) -> None:
        target = self._target
        taken = {int(rule["Priority"]) for rule in snapshot.others}
        rules = [_without_none(rule) for rule in snapshot.others]
        priority = target.priority_base
        for planned in layout.rules:
            while priority in taken:
                priority += 1
            rules.append(planned.to_waf(priority))
            priority += 1
        rules.sort(key=lambda rule: int(rule["Priority"]))
        # An empty Rules list clears the web ACL's rules in AWS; moto 5.2.5 ignores it and keeps the old ones.
        kept = {
            name: _without_none(snapshot.acl[name])
            for name in self._update_fields
            if snapshot.acl.get(name) not in (None, "", [], {})
        }
        self._waf.update_web_acl(
            **kept,
            Name=target.web_acl_name,
            Scope=target.scope,
            Id=target.web_acl_id,
            LockToken=snapshot.lock_token,
            Rules=rules,
        )

    def _capacity(self, own_wcu: int, other_wcu: int, tokens: int, by_tier: Mapping[str, TierUsage]) -> Capacity:
        target = self._target
        used = own_wcu + other_wcu
        headroom = max(0, target.capacity_limit - used)
        return Capacity(
            used_wcu=used,
            limit=target.capacity_limit,
            own_wcu=own_wcu,
            other_rules_wcu=other_wcu,
            tokens=tokens,
            headroom_wcu=headroom,
            headroom_tokens=tokens_per_wcu_budget(target.typical_token_length, headroom, target),
            by_tier=dict(by_tier),
            alarm_threshold=target.alarm_threshold,
        )


# -- a pure evaluator of WAF rules, for tests ---------------------------------------------------------------------


def _transform(value: bytes, transformations: Sequence[Mapping[str, Any]]) -> bytes:
    for step in sorted(transformations, key=lambda t: int(t.get("Priority", 0))):
        kind = step.get("Type", "NONE")
        if kind == "NONE":
            continue
        if kind == "URL_DECODE":
            value = unquote_to_bytes(value)
        elif kind == "LOWERCASE":
            value = value.lower()
        else:
            raise NotImplementedError(f"text transformation {kind}")
    return value


def _field(body: Mapping[str, Any], uri_path: str) -> bytes:
    field_to_match = body.get("FieldToMatch") or {}
    if set(field_to_match) != {"UriPath"}:
        raise NotImplementedError(f"field to match {field_to_match}")
    return _transform(uri_path.encode(), body.get("TextTransformations", []))


def _byte_match(body: Mapping[str, Any], value: bytes) -> bool:
    search = body["SearchString"]
    needle = search if isinstance(search, bytes) else str(search).encode()
    constraint = body["PositionalConstraint"]
    if constraint == "EXACTLY":
        return value == needle
    if constraint == "STARTS_WITH":
        return value.startswith(needle)
    if constraint == "ENDS_WITH":
        return value.endswith(needle)
    if constraint == "CONTAINS":
        return needle in value
    if constraint == "CONTAINS_WORD":
        word = re.compile(rb"(?<![A-Za-z0-9_])" + re.escape(needle) + rb"(?![A-Za-z0-9_])")
        return word.search(value) is not None
    raise NotImplementedError(f"positional constraint {constraint}")


def statement_matches(statement: Mapping[str, Any], regex_sets: Mapping[str, Sequence[str]], uri_path: str) -> bool:
    """Whether a request for `uri_path` matches the statement, as WAF decides it (for the statements named here)."""
    kind, body = next(iter(statement.items()))
    if kind == "OrStatement":
        return any(statement_matches(s, regex_sets, uri_path) for s in body["Statements"])
    if kind == "AndStatement":
        return all(statement_matches(s, regex_sets, uri_path) for s in body["Statements"])
    if kind == "NotStatement":
        return not statement_matches(body["Statement"], regex_sets, uri_path)
    if kind == "ByteMatchStatement":
        return _byte_match(body, _field(body, uri_path))
    if kind == "RegexMatchStatement":
        return re.search(str(body["RegexString"]).encode(), _field(body, uri_path)) is not None
    if kind == "RegexPatternSetReferenceStatement":
        value = _field(body, uri_path)
        return any(re.search(pattern.encode(), value) for pattern in regex_sets[str(body["ARN"])])
    raise NotImplementedError(f"statement {kind}")


def matches(web_acl_rules: Sequence[Mapping[str, Any]], regex_sets: Mapping[str, Sequence[str]], uri_path: str) -> bool:
    """Whether the rules block a request for `uri_path`: in priority order, the first matching rule whose action
    is Block (True) or Allow (False) decides; Count and the others go on; no decision is the default action Allow."""
    for rule in sorted(web_acl_rules, key=lambda r: int(r["Priority"])):
        if not statement_matches(rule["Statement"], regex_sets, uri_path):
            continue
        action = rule.get("Action") or {}
        if "Block" in action:
            return True
        if "Allow" in action:
            return False
    return False
