"""One submission in a fresh process, so its peak memory is its own: prints {"seconds", "max_rss_kib"} as JSON.

    python bench/pipeline_child.py MODE BUCKET KEY      (AWS_ENDPOINT_URL, DOVERUNNER_*, JOBS_TABLE... set)

MODE: "submit" runs the submit function's logic (S3 object streamed to the signed URL); "read-all" is the naive
baseline that reads the whole object into memory and PUTs it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "functions"))

import boto3
import requests
from upload_child import peak_rss_kib

from antipiracy.adapters.jobs_table import JobsTable
from antipiracy.adapters.s3_objects import S3Objects
from antipiracy.adapters.step_functions import StepFunctionsExecutions
from antipiracy.config import PipelineConfig
from antipiracy.domain.preflight import Policy
from antipiracy.domain.requests import S3ObjectRef
from antipiracy.services.submit import Submitter
from doverunner import ClientConfig, Credentials, DoveRunnerClient


def main() -> int:
    mode, bucket, key = sys.argv[1:4]
    client = DoveRunnerClient(ClientConfig.from_mapping(os.environ), Credentials.from_mapping(os.environ))
    s3 = boto3.client("s3")
    started = time.perf_counter()
    if mode == "submit":
        # The object is sparse bytes, no video: this measures streaming, not the pre-flight check.
        config = replace(PipelineConfig.from_env(), preflight=Policy.OFF)
        jobs = JobsTable(boto3.resource("dynamodb").Table(config.jobs_table))
        submitter = Submitter(
            objects=S3Objects(s3),
            jobs=jobs,
            executions=StepFunctionsExecutions(boto3.client("stepfunctions"), config.state_machine_arn),
            client_factory=lambda: client,
            config=config,
        )
        result = submitter.submit(S3ObjectRef(bucket, key, None, "", str(time.time_ns())))
        if result.action != "submitted":
            raise SystemExit(f"submission did not go through: {result}")
    elif mode == "read-all":
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        ticket = client.request_upload_url("bench read-all", "mp4")
        requests.put(ticket.upload_url, data=body, timeout=600).raise_for_status()
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "max_rss_kib": peak_rss_kib()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
