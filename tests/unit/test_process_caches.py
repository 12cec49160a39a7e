"""Every cache the core keeps for a process is registered in antipiracy.process_cache, so that one `reset()` (the
autouse fixture of tests/conftest.py, the local runtime between deployments) forgets all of it: a bare
functools.cache or lru_cache added to the core later fails here."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
from collections.abc import Iterator, Mapping
from typing import Any

import antipiracy
from antipiracy import process_cache


def core_modules() -> Iterator[types.ModuleType]:
    yield antipiracy
    for found in pkgutil.walk_packages(antipiracy.__path__, prefix="antipiracy."):
        yield importlib.import_module(found.name)


def _members(namespace: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, value in namespace.items():
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        yield name, value


def caches_in(module: types.ModuleType) -> dict[str, Any]:
    """The cache-wrapped callables (anything with cache_clear) that `module` defines, at its top level and in its
    classes, by qualified name."""
    found: dict[str, Any] = {}
    for name, value in _members(vars(module)):
        if getattr(value, "__module__", None) != module.__name__:
            continue  # imported from elsewhere: counted where it is defined
        if callable(getattr(value, "cache_clear", None)):
            found[f"{module.__name__}.{name}"] = value
        if inspect.isclass(value):
            for member, attribute in _members(vars(value)):
                if callable(getattr(attribute, "cache_clear", None)):
                    found[f"{module.__name__}.{name}.{member}"] = attribute
    return found


def unregistered_caches(modules: list[types.ModuleType]) -> list[str]:
    registered = process_cache.registered()
    return sorted(
        name
        for module in modules
        for name, cache in caches_in(module).items()
        if not any(cache is known for known in registered)
    )


def test_every_cache_of_the_core_is_registered_for_reset() -> None:
    modules = list(core_modules())

    assert unregistered_caches(modules) == [], "use antipiracy.process_cache.once or .latest instead"
    assert {m.__name__ for m in modules} >= {"antipiracy.wiring", "antipiracy.adapters", "antipiracy.services"}


def test_the_registered_caches_are_found_where_they_are_defined() -> None:
    found = [cache for module in core_modules() for cache in caches_in(module).values()]

    assert found  # the search sees the core's caches, so the test above is not passing on nothing
    assert all(any(known is cache for cache in found) for known in process_cache.registered())


def test_a_bare_functools_cache_is_reported() -> None:
    import functools

    module = types.ModuleType("antipiracy.example")

    def made_once() -> object:
        return object()

    def class_cache(self: object) -> object:
        return object()

    made_once.__module__ = module.__name__
    module.made_once = functools.cache(made_once)  # type: ignore[attr-defined]
    module.registered = process_cache.once(made_once)  # type: ignore[attr-defined]
    holder = type(
        "Holder", (), {"__module__": module.__name__, "cached": staticmethod(functools.lru_cache(class_cache))}
    )
    module.Holder = holder  # type: ignore[attr-defined]
    try:
        assert unregistered_caches([module]) == ["antipiracy.example.Holder.cached", "antipiracy.example.made_once"]
    finally:
        process_cache._CACHES.remove(module.registered)
