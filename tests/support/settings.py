"""Settings for tests: the functions' defaults (read as a function reads them), with what a test changes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from antipiracy import environment as names
from antipiracy.config import PipelineConfig
from antipiracy.domain.preflight import Policy

REQUIRED = {names.JOBS_TABLE: "jobs", names.DOVERUNNER_SECRET_ID: "doverunner-secret", names.DOVERUNNER_SITE_ID: "DEMO"}


def pipeline_settings(**fields: Any) -> PipelineConfig:
    """The detection functions' settings with every default, `fields` changed; the pre-flight media check warns
    instead of rejecting (the sample videos are short clips; its own tests set the policy they test)."""
    return replace(
        PipelineConfig.from_env(REQUIRED), **{"presigned_url_seconds": 3600, "preflight": Policy.WARN, **fields}
    )
