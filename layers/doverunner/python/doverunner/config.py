"""Client configuration: where DoveRunner is and which site; secrets are passed in by the caller."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from doverunner.codes import DEFAULT_SERVICE, service_code
from doverunner.crypto import site_key_bytes
from doverunner.errors import ConfigurationError

DEFAULT_API_URL = "https://api.pallycon.com"
_SITE_ID = re.compile(r"^[A-Za-z0-9]{4}$")


@dataclass(frozen=True)
class Credentials:
    """The site key, access key and account id. Their repr shows none of them."""

    site_key: str = field(repr=False)
    access_key: str = field(repr=False)  # the site access key: part of every request hash
    account_id: str = field(repr=False)
    # The token API takes the account's access key; DoveRunner consoles usually show one key for both.
    account_access_key: str | None = field(default=None, repr=False)

    @property
    def token_access_key(self) -> str:
        return self.account_access_key or self.access_key

    def __post_init__(self) -> None:
        for name in ("site_key", "access_key", "account_id"):
            if not getattr(self, name):
                raise ConfigurationError(f"the DoveRunner {name.replace('_', ' ')} is empty")
        site_key_bytes(self.site_key)

    @classmethod
    def from_mapping(cls, values: Mapping[str, str], *, prefix: str = "DOVERUNNER_") -> Credentials:
        """From environment-style names (DOVERUNNER_SITE_KEY...) or plain ones (site_key...), e.g. a secret."""
        found: dict[str, str] = {}
        missing = []
        for name in ("site_key", "access_key", "account_id"):
            value = values.get(prefix + name.upper()) or values.get(name)
            if value:
                found[name] = str(value)
            else:
                missing.append(prefix + name.upper())
        if missing:
            raise ConfigurationError("missing DoveRunner setting(s): " + ", ".join(missing))
        account_access_key = values.get(prefix + "ACCOUNT_ACCESS_KEY") or values.get("account_access_key")
        return cls(**found, account_access_key=account_access_key or None)


@dataclass(frozen=True)
class ClientConfig:
    """Non-secret settings. Timeouts are (connect, read) seconds; retries apply to calls safe to repeat."""

    site_id: str
    api_url: str = DEFAULT_API_URL
    service: str = DEFAULT_SERVICE  # product code, PD002 (FWM) by default
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    upload_read_timeout: float = 120.0
    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    # The older sample sends pallycon-apidata as a query parameter; the guide's header form is the default.
    apidata_in_query: bool = False

    def __post_init__(self) -> None:
        if not _SITE_ID.match(self.site_id or ""):
            raise ConfigurationError(
                f"the DoveRunner site id must be four alphanumeric characters, got {self.site_id!r}"
            )
        if not self.api_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"the DoveRunner API URL must start with http:// or https://: {self.api_url!r}")
        object.__setattr__(self, "api_url", self.api_url.rstrip("/"))
        try:
            object.__setattr__(self, "service", service_code(self.service))
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        if self.max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1")

    @classmethod
    def from_mapping(cls, values: Mapping[str, str], *, prefix: str = "DOVERUNNER_") -> ClientConfig:
        site_id = values.get(prefix + "SITE_ID", "")
        if not site_id:
            raise ConfigurationError(f"missing DoveRunner setting: {prefix}SITE_ID")
        apidata_in = (values.get(prefix + "APIDATA_IN") or "header").lower()
        if apidata_in not in ("header", "query"):
            raise ConfigurationError(f"{prefix}APIDATA_IN must be header or query, got {apidata_in!r}")
        return cls(
            site_id=site_id,
            api_url=values.get(prefix + "API_URL") or DEFAULT_API_URL,
            service=values.get(prefix + "SERVICE") or DEFAULT_SERVICE,
            apidata_in_query=apidata_in == "query",
        )
