"""One grammar for revoke tokens, shared by the notification parser and the WAF rule layout."""

from __future__ import annotations

import json

import pytest

from antipiracy.domain.notifications import InvalidNotification, parse_message
from antipiracy.domain.tokens import MAX_SEARCH_STRING, MAX_TOKEN_LENGTH, MIN_TOKEN_LENGTH, to_url_safe, token_problem
from antipiracy.domain.waf_rules import InvalidToken, WafTarget, plan, url_safe

STANDARD = "ab+cd/efGHIJKLMNOPQRSTUVWXYZ="  # as DoveRunner reports it: 28 characters, one '='
URL_SAFE = "ab-cd_efGHIJKLMNOPQRSTUVWXYZ"  # as the CDN embedder puts it in the path

REFUSED = {
    "trailing newline": STANDARD + "\n",
    "newline after the padding": URL_SAFE + "==\n",
    "'=' mid-token": "ab+cd/ef=GHIJKLMNOPQRSTUVWXYZ",
    "three '='": URL_SAFE + "===",
    "both alphabets": "ab+cd_efGHIJKLMNOPQRSTUVWXYZ",
    "too short": "A" * (MIN_TOKEN_LENGTH - 1),
    "too short with padding": "A" * (MIN_TOKEN_LENGTH - 1) + "==",
    "too long": "A" * (MAX_TOKEN_LENGTH + 1),
    "a dot": "abcdefghijklmnop.q",
    "a space": "abcdefgh ijklmnopq",
    "empty": "",
}


def notification(token: str) -> str:
    return json.dumps({"detection_id": 1, "detection_status": "FD004", "forensic_mark": "01", "watermark_token": token})


@pytest.mark.parametrize("token", REFUSED.values(), ids=REFUSED.keys())
def test_a_token_breaking_the_grammar_is_refused_by_the_parser_and_the_waf_layer_alike(token: str) -> None:
    assert token_problem(token) is not None
    with pytest.raises(InvalidNotification, match="watermark_token"):
        parse_message(notification(token))
    with pytest.raises(InvalidNotification, match="revoke_token"):
        parse_message(json.dumps({"revoke_token": token, "site_id": "DEMO"}))
    with pytest.raises(InvalidToken):
        url_safe(token)
    with pytest.raises(InvalidToken):
        plan([token], WafTarget(web_acl_name="acl", web_acl_id="id"))


@pytest.mark.parametrize(
    "token",
    [STANDARD, URL_SAFE, "A" * MIN_TOKEN_LENGTH, "A" * MIN_TOKEN_LENGTH + "==", "A" * MAX_TOKEN_LENGTH],
    ids=["standard", "url-safe", "shortest", "shortest-padded", "longest"],
)
def test_standard_and_url_safe_tokens_within_the_bounds_are_accepted_on_both_sides(token: str) -> None:
    assert parse_message(notification(token)).watermark_token == token
    assert url_safe(token) == to_url_safe(token) == token.rstrip("=").replace("+", "-").replace("/", "_")
    assert plan([token], WafTarget(web_acl_name="acl", web_acl_id="id")).tokens == (url_safe(token),)


def test_the_longest_token_fits_one_contains_search_string() -> None:
    assert len(f"/{'A' * MAX_TOKEN_LENGTH}.".encode()) == MAX_SEARCH_STRING


@pytest.mark.parametrize("segment", ["segment-1", "index", "init", "master", "chunk-00001", "wm-contents"])
def test_an_ordinary_path_segment_is_too_short_to_be_a_token(segment: str) -> None:
    # `/segment-1.m4s`, `/index.m3u8`: were one blocked as a token, `/<token>.` would match every session's path
    assert token_problem(segment) == f"is {len(segment)} characters long, fewer than {MIN_TOKEN_LENGTH}"


def test_the_local_doverunners_tokens_are_accepted() -> None:
    assert token_problem("kq1Yc0d3m7lK2yq0k0t3V3Xq7nE=") is None  # 20 bytes, standard base64
