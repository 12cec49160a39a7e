"""Settings for tests: the functions' defaults (read as a function reads them), with what a test changes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from antipiracy import environment as names
from antipiracy.config import PipelineConfig

REQUIRED = {names.JOBS_TABLE: "jobs", names.DOVERUNNER_SECRET_ID: "doverunner-secret", names.DOVERUNNER_SITE_ID: "DEMO"}


def pipeline_settings(**fields: Any) -> PipelineConfig:
    """The detection functions' settings with every default (the pre-flight check enforced), `fields` changed."""
    return replace(PipelineConfig.from_env(REQUIRED), **{"presigned_url_seconds": 3600, **fields})
