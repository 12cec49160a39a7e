"""What a Lambda process makes once and reuses in warm invocations, kept in one registry so that all of it can be
dropped at once (`reset`): tests, and the local runtime between deployments, start from nothing."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_CACHES: list[Any] = []


def once(function: F) -> F:
    """`functools.cache`, registered: made on first use, reused until `reset`."""
    cached = functools.cache(function)
    _CACHES.append(cached)
    return cached  # type: ignore[return-value]


def latest(function: F) -> F:
    """Keeps only the value for the latest arguments (a client for the current credentials), registered."""
    cached = functools.lru_cache(maxsize=1)(function)
    _CACHES.append(cached)
    return cached  # type: ignore[return-value]


def registered() -> tuple[Any, ...]:
    return tuple(_CACHES)


def reset() -> None:
    """Forgets everything made once: configuration, AWS clients, tables, DoveRunner clients, and the secrets that
    Powertools' parameters utility keeps."""
    for cached in _CACHES:
        cached.cache_clear()
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if parameters is not None:
        parameters.clear_caches()
