"""The blocking engine: revoked DoveRunner sessions blocked at the CDN by rules of an AWS WAF web ACL
(laid out by antipiracy.domain.waf_rules).

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
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from antipiracy.adapters.aws_errors import error_code
from antipiracy.domain.waf_rules import (
    BYTE_MATCH_WCU,
    REGEX_MATCH_WCU,
    TIER_CONTAINS,
    TIER_REGEX,
    Capacity,
    CapacityExceeded,
    LockContention,
    Plan,
    TierUsage,
    WafBlockError,
    WafTarget,
    plan,
    read_rule,
    rule_wcu,
    tokens_per_wcu_budget,
    url_safe,
)
from antipiracy.observability import logger

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
