"""The token API's token: cached across clients and warm invocations, refreshed before it expires."""

from __future__ import annotations

import base64
import json

import requests

from doverunner import ClientConfig, Credentials
from doverunner.auth import TokenProvider, basic_authorization, jwt_expiry
from doverunner.transport import Transport

CREDENTIALS = Credentials(site_key="k" * 32, access_key="site-access", account_id="acct")


def jwt(exp: int) -> str:
    body = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).rstrip(b"=").decode()
    return f"Bearer eyJhbGciOiJIUzI1NiJ9.{body}.c2ln"


class TokenSession:
    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.authorizations: list[str] = []

    def request(self, method: str, url: str, **kwargs: object) -> requests.Response:
        self.authorizations.append(kwargs["headers"]["Authorization"])  # type: ignore[index]
        r = requests.Response()
        r.status_code = 200
        r._content = json.dumps({"error_code": "0000", "data": {"token": self.tokens.pop(0)}}).encode()
        return r


def provider(session: TokenSession, now: float = 1000.0, credentials: Credentials = CREDENTIALS) -> TokenProvider:
    return TokenProvider(
        ClientConfig(site_id="DEMO", api_url="http://x"),
        credentials,
        Transport(session=session),  # type: ignore[arg-type]
        clock=lambda: now,
    )


def test_token_api_gets_basic_base64_of_account_and_access_key() -> None:
    session = TokenSession(jwt(5000))

    provider(session).get()

    assert session.authorizations == ["Basic " + base64.b64encode(b"acct:site-access").decode()]


def test_account_access_key_is_used_for_the_token_when_it_differs() -> None:
    session = TokenSession(jwt(5000))
    credentials = Credentials(
        site_key="k" * 32, access_key="site-access", account_id="acct", account_access_key="acct-key"
    )

    provider(session, credentials=credentials).get()

    assert session.authorizations == [basic_authorization("acct", "acct-key")]


def test_returned_value_is_used_unchanged_with_its_scheme() -> None:
    token = jwt(5000)

    assert provider(TokenSession(token)).get() == token


def test_token_is_shared_by_every_client_of_the_same_site() -> None:
    session = TokenSession(jwt(5000), jwt(6000))

    first = provider(session).get()
    second = provider(session).get()

    assert first == second
    assert len(session.authorizations) == 1


def test_token_is_refreshed_shortly_before_it_expires() -> None:
    session = TokenSession(jwt(1030), jwt(9000))

    provider(session, now=1000.0).get()
    renewed = provider(session, now=1000.0).get()

    assert renewed == jwt(9000)


def test_invalidating_another_token_keeps_the_cached_one() -> None:
    session = TokenSession(jwt(5000), jwt(6000))
    p = provider(session)
    current = p.get()

    p.invalidate("Bearer something-older")

    assert p.get() == current


def test_expiry_is_read_from_the_jwt_claims() -> None:
    assert jwt_expiry(jwt(1234)) == 1234.0
    assert jwt_expiry("Bearer opaque") is None
