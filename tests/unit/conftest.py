"""The unit tier is pure: no server, no moto, no socket, no subprocess. Two guards keep it so.

- Before a unit test's fixtures are set up, it fails if it asks, directly or through other fixtures, for a fixture
  of the other tiers' (tests/conftest.py's local DoveRunner, moto server, file server, AWS clients, ...): any
  fixture defined in tests/ outside tests/unit, but the few listed pure ones. A server fixture added there later is
  refused without being listed here.
- While a unit test runs, opening or serving a socket, starting a subprocess or starting moto fails it (on the
  test's thread and the threads it starts; servers of other tiers already running in the process are left alone).
"""

from __future__ import annotations

import inspect
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]
UNIT = TESTS / "unit"
# Fixtures of tests/conftest.py that are pure, and so open to unit tests.
PURE_SHARED_FIXTURES = frozenset({"sample", "sample_stream", "_fresh_process_caches"})


class NotAUnitTest(AssertionError):
    """A unit test reached for a server, a socket, a subprocess or moto."""


def _defined_in(fixturedef: Any) -> Path | None:
    try:
        source = inspect.getsourcefile(fixturedef.func)
    except TypeError:
        return None
    return Path(source).resolve() if source else None


def refused_fixtures(item: pytest.Item) -> list[str]:
    """The fixtures of other tiers that `item` uses, its fixtures' own fixtures included."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    refused = []
    for name, definitions in info.name2fixturedefs.items():
        source = _defined_in(definitions[-1]) if definitions else None
        if source is None or not source.is_relative_to(TESTS) or source.is_relative_to(UNIT):
            continue  # pytest's and plugins' own, or the unit tier's
        if name not in PURE_SHARED_FIXTURES:
            refused.append(name)
    return sorted(refused)


@pytest.hookimpl(tryfirst=True)  # before any fixture is set up: a refused server is never started
def pytest_runtest_setup(item: pytest.Item) -> None:
    if refused := refused_fixtures(item):
        pytest.fail(
            f"{item.nodeid} is in tests/unit but uses {', '.join(refused)}: a unit test uses no server, moto, "
            "socket or subprocess. Move it to the integration tier (a folder beside tests/unit), or use the "
            "in-memory fakes (tests/support/fakes.py).",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _pure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuses sockets, subprocesses and moto to the test and to the threads it starts."""
    main = threading.main_thread().ident
    # Threads already running (the servers other tiers' tests started in this process) keep working.
    background = {thread.ident for thread in threading.enumerate()} - {main}

    def refusing(what: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() in background:
                return original(*args, **kwargs)
            detail = f" ({args[1]!r})" if what.endswith("socket") and len(args) > 1 else ""
            raise NotAUnitTest(f"a unit test must not {what}{detail}: it belongs in the integration tier")

        return guarded

    for name, what in (("connect", "open a socket"), ("connect_ex", "open a socket"), ("bind", "serve a socket")):
        monkeypatch.setattr(socket.socket, name, refusing(what, getattr(socket.socket, name)))
    monkeypatch.setattr(subprocess.Popen, "__init__", refusing("start a subprocess", subprocess.Popen.__init__))
    from moto.core.models import MockAWS

    monkeypatch.setattr(MockAWS, "start", refusing("start moto", MockAWS.start))
