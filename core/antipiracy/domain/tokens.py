"""What a revoke token is: one grammar, used by the notification parser and by the WAF rule layout alike.

A revoke token is base64 text, as DoveRunner reports it (standard alphabet, '+' '/' and '=' padding) or as the CDN
embedder puts it in the URL path (URL-safe alphabet, '-' '_', no padding):

- one alphabet or the other, never both in one token;
- at most two trailing '=' and none elsewhere;
- the whole value matches (`fullmatch`: no trailing newline slips through as `$` would let it);
- its URL-safe form (padding removed) is MIN_TOKEN_LENGTH to MAX_TOKEN_LENGTH characters.

MAX_TOKEN_LENGTH is what the WAF layer can match: a token too long for a regex statement gets a ByteMatch CONTAINS
statement whose search string `/<token>.` has at most 200 bytes (waf_rules.MAX_SEARCH_STRING), so 198 characters.
A longer token could be accepted from a notification and then never be blocked.

MIN_TOKEN_LENGTH is 16: a session's URL path is `/<prefix folder>/<token>.<encrypted data>/...` and the rules match
`/<token>.` anywhere in the path. A short "token" such as `segment-1`, `index` or `init` would turn the rule into one
that matches ordinary path segments (`/segment-1.m4s`) of every session. 16 URL-safe characters are 12 random bytes
(96 bits), far above any file or folder name a player requests, and well under the tokens DoveRunner issues (the
local DoveRunner's are 27 characters: 20 bytes).
"""

from __future__ import annotations

import re

MIN_TOKEN_LENGTH = 16
MAX_SEARCH_STRING = 200  # bytes of a WAF ByteMatch SearchString
MAX_TOKEN_LENGTH = MAX_SEARCH_STRING - len("/.")  # 198: `/<token>.` fits one CONTAINS search string

_STANDARD = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]+={0,2}")


class InvalidTokenText(ValueError):
    """Not a revoke token; the text says which rule it breaks."""


def token_problem(value: object) -> str | None:
    """Why `value` is not a revoke token, or None when it is one."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    unpadded = value.rstrip("=")
    if len(unpadded) > MAX_TOKEN_LENGTH:
        return f"is {len(unpadded)} characters long, more than {MAX_TOKEN_LENGTH} (what a WAF rule can match)"
    if not (_STANDARD.fullmatch(value) or _URL_SAFE.fullmatch(value)):
        return (
            "is not base64 text (one alphabet, standard or URL-safe, with at most two trailing '=' and no other "
            "character)"
        )
    if len(unpadded) < MIN_TOKEN_LENGTH:
        return f"is {len(unpadded)} characters long, fewer than {MIN_TOKEN_LENGTH}"
    return None


def check_token(value: object, name: str = "the token") -> str:
    """The token unchanged; InvalidTokenText naming `name` and the rule it breaks."""
    problem = token_problem(value)
    if problem is not None:
        raise InvalidTokenText(f"{name} {problem}")
    assert isinstance(value, str)
    return value


def to_url_safe(token: str) -> str:
    """The form the CDN embedder puts in the URL path (no '=' padding, '+' -> '-', '/' -> '_'), of a valid token."""
    return check_token(token).rstrip("=").replace("+", "-").replace("/", "_")
