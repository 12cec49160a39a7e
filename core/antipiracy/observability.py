"""The one place the functions get their Powertools Logger, Tracer and Metrics from."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from antipiracy.environment import METRICS_NAMESPACE as NAMESPACE
from antipiracy.environment import SERVICE_NAME as SERVICE

logger = Logger(service=SERVICE)
# Only the libraries the functions call (AWS, DoveRunner): patch_all would try some twenty at every cold start.
tracer = Tracer(service=SERVICE, patch_modules=("botocore", "requests"))
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
