"""The functions' environment contract (antipiracy.environment) held against the synthesized templates: every function
is given each variable its settings need and none they never read, and its settings load from exactly what it is
given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs
from stack_synthesis import STACK_NAME
from template_queries import resources

import app as app_module
from antipiracy import environment as names
from antipiracy.config import settings_of
from antipiracy.domain.preflight import Policy
from antipiracy.environment import FUNCTIONS, POWERTOOLS
from stacks.functions import PipelineFunction
from stacks.shared_layer import DoveRunnerClientLayer

# Skips the pip bundling: these tests read the template only.
NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}
EXISTING_WEB_ACL = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/blocks/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
# The app's variants beside cdk.json's defaults (whose template, with the web ACL created in us-east-1 or, from any
# other region, by the webacl function, is the session's synthesis).
VARIANTS: dict[str, dict[str, Any]] = {
    "registerTopic": {"doverunner:registerTopic": True},
    "webAclArn": {"doverunner:webAclArn": EXISTING_WEB_ACL},
    "no revocation": {"doverunner:revocation": False, "doverunner:notificationPublisher": False},
}
# What a Ref, GetAtt, Join or If of the template stands for when the settings read it.
PLACEHOLDER = "placeholder-from-a-token"

Environments = dict[str, dict[str, dict[str, Any]]]  # variant -> handler folder -> the function's variables


def function_environments(template_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The pipeline's functions of a template by handler folder (CDK's own bucket-notifications handler aside)."""
    found: dict[str, dict[str, Any]] = {}
    for logical_id, function in resources(template_json, "AWS::Lambda::Function").items():
        folder, _, rest = function["Properties"]["Handler"].partition(".")
        if rest != "handler.lambda_handler":
            continue
        assert folder not in found, f"two functions of the {folder} handler: {logical_id}"
        found[folder] = function["Properties"].get("Environment", {}).get("Variables", {})
    return found


@pytest.fixture(scope="module")
def environments(template_json: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Environments:
    out: Environments = {"default": function_environments(template_json)}
    for variant, context in VARIANTS.items():
        outdir = tmp_path_factory.mktemp("contract")
        app_module.build_app({**NO_BUNDLING, **context}, outdir=str(outdir)).synth()
        out[variant] = function_environments(json.loads((outdir / f"{STACK_NAME}.template.json").read_text()))
    return out


def as_read(variables: dict[str, Any]) -> dict[str, str]:
    """A function's variables as the function reads them: literal values as they are, tokens as placeholders."""
    return {name: value if isinstance(value, str) else PLACEHOLDER for name, value in variables.items()}


def test_every_function_of_every_variant_has_its_part_in_the_contract(environments: Environments) -> None:
    # given the templates; when their functions are listed by handler folder
    met = {folder for functions in environments.values() for folder in functions}

    # then each is in the contract, and the variants between them make every function the contract knows
    assert met == set(FUNCTIONS)


def test_every_function_is_given_each_variable_its_settings_need(environments: Environments) -> None:
    # given each function of each template; when what it is given is held against what its settings need
    missing = {
        (variant, folder): sorted(FUNCTIONS[folder].needs - set(variables))
        for variant, functions in environments.items()
        for folder, variables in functions.items()
    }

    # then nothing is missing
    assert {where: names for where, names in missing.items() if names} == {}


def test_every_variable_a_function_is_given_is_read_by_its_settings_or_by_powertools(
    environments: Environments,
) -> None:
    # given each function of each template; when what it is given is held against what its settings read
    unread = {
        (variant, folder): sorted(set(variables) - FUNCTIONS[folder].reads - POWERTOOLS)
        for variant, functions in environments.items()
        for folder, variables in functions.items()
    }

    # then nothing is unread
    assert {where: names for where, names in unread.items() if names} == {}


def test_every_function_gets_powertools_own_variables(environments: Environments) -> None:
    lacking = {
        (variant, folder)
        for variant, functions in environments.items()
        for folder, variables in functions.items()
        if not POWERTOOLS.issubset(variables)
    }

    assert lacking == set()


def test_the_settings_of_every_function_load_from_exactly_the_variables_the_stack_gives_it(
    environments: Environments,
) -> None:
    # given each function of each template, its variables as the function would read them
    for variant, functions in environments.items():
        for folder, variables in functions.items():
            environment = as_read(variables)
            settings = settings_of(folder)

            # when its settings are read from them alone, then they load (a ConfigError would fail the test)
            if settings is None:
                assert set(environment) - POWERTOOLS == set(), (variant, folder)
            else:
                settings.from_env(environment)


def test_the_detection_settings_read_the_values_the_stack_gives_as_it_means_them(environments: Environments) -> None:
    # given the tracker's variables in the default template (cdk.json's settings)
    environment = as_read(environments["default"]["tracker"])

    # when the tracker's settings read them
    settings = settings_of("tracker")
    assert settings is not None
    config = settings.from_env(environment)

    # then each has the value cdk.json meant, in the type the functions use
    assert vars(config) | {"jobs_table": "-", "secret_id": "-"} == {
        "jobs_table": "-",
        "secret_id": "-",
        "site_id": "DEMO",
        "api_url": "https://api.pallycon.com",
        "default_service": "PD002",
        "inbox_prefix": "inbox/",
        "results_prefix": "results/",
        "state_machine_arn": "",
        "results_topic_arn": "",
        "url_detection_threshold": 5 * 1024**3,
        "force_url_detection": False,
        "presigned_url_seconds": 43200,
        "initial_wait_seconds": 30,
        "max_wait_seconds": 900,
        "poll_seconds": 900,
        "notifications_registered": False,
        "wait_growth": 2.0,
        "max_tracking_seconds": 7 * 24 * 3600,
        "find_upload_seconds": 1800,
        "requests_prefix": "inbox/requests/",
        "max_request_lines": 1000,
        "max_request_bytes": 1024 * 1024,
        "live_max_seconds": 3600,
        "operator_topic_arn": "",
        "preflight": Policy.ENFORCE,
    }


@pytest.mark.parametrize("folder", sorted(FUNCTIONS))
def test_the_contract_says_of_each_function_what_its_settings_class_reads(folder: str) -> None:
    # given a function's part of the contract; when its settings class is looked up
    part, settings = FUNCTIONS[folder], settings_of(folder)

    # then the class is the one the contract names, and it reads what the contract says (import would have failed)
    if settings is None:
        assert part.reads == frozenset()
    else:
        assert settings.__name__ == part.settings.settings
        assert part.needs <= part.reads


def synthesize_one_function(outdir: Path, handler_folder: str, environment: dict[str, str]) -> None:
    app = cdk.App(context=NO_BUNDLING, outdir=str(outdir))
    stack = cdk.Stack(app, "Contract")
    layer = DoveRunnerClientLayer(stack, "Layer")
    PipelineFunction(
        stack,
        "Function",
        handler_folder=handler_folder,
        description="a function of the contract test",
        layer=layer,
        environment=environment,
        log_retention=logs.RetentionDays.ONE_DAY,
    )
    app.synth()


SITE = {names.DOVERUNNER_SECRET_ID: "secret", names.DOVERUNNER_SITE_ID: "DEMO", names.DOVERUNNER_API_URL: "https://x"}


def test_a_function_missing_a_variable_its_settings_need_is_refused_at_synthesis(tmp_path: Path) -> None:
    # given a registrar without the secret; when the app is synthesized, then it is refused, naming the variable
    without_secret = {k: v for k, v in SITE.items() if k != names.DOVERUNNER_SECRET_ID}

    with pytest.raises(RuntimeError, match="registrar function's environment misses DOVERUNNER_SECRET_ID"):
        synthesize_one_function(tmp_path, "registrar", without_secret)


def test_a_function_given_a_variable_its_settings_never_read_is_refused_at_synthesis(tmp_path: Path) -> None:
    # given a registrar also given the ledger table; when the app is synthesized, then it is refused, naming it
    environment = {**SITE, names.LEDGER_TABLE: "ledger"}

    with pytest.raises(RuntimeError, match="registrar function's environment sets LEDGER_TABLE, which its settings"):
        synthesize_one_function(tmp_path, "registrar", environment)


def test_a_function_given_exactly_what_its_settings_read_is_synthesized(tmp_path: Path) -> None:
    # given a registrar with DoveRunner's site and nothing else; when the app is synthesized, then it is not refused
    synthesize_one_function(tmp_path, "registrar", SITE)

    assert (tmp_path / "Contract.template.json").is_file()
