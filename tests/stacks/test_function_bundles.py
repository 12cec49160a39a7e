"""What each function's code bundle holds: its handler folder and the core package, with the runtime's bytecode."""

from __future__ import annotations

from pathlib import Path

from stack_synthesis import bytecode_in

from stacks.functions import HANDLERS


def test_every_function_of_the_default_app_is_bundled(function_bundles: dict[str, Path]) -> None:
    # The registrar is deployed only with doverunner:registerTopic.
    assert set(function_bundles) == set(HANDLERS) - {"registrar"}


def test_a_bundle_holds_its_handler_folder_and_the_core_package_only(function_bundles: dict[str, Path]) -> None:
    for handler, bundle in function_bundles.items():
        assert {p.name for p in bundle.iterdir()} == {handler, "antipiracy"}, handler


def test_every_source_of_a_bundle_ships_with_bytecode_for_the_runtimes_python(
    function_bundles: dict[str, Path],
) -> None:
    for handler, bundle in function_bundles.items():
        bytecode = bytecode_in(bundle)
        assert bytecode.sources == bytecode.compiled, handler
        assert bytecode.cache_tags == {"cpython-314"}, handler
