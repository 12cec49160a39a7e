"""A pure evaluator of AWS WAF rules, as WAF decides a request for a URL path: what the local deployment, the demo
and the tests use to show which sessions the web ACL blocks. Not shipped to Lambda."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote_to_bytes


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
