"""Submit-function benchmark: an S3 object streamed by the submit logic to DoveRunner's signed URL, against the
naive read-whole-object baseline, in the same run (local AWS and local DoveRunner, each upload in a fresh process).

    .venv/bin/python bench/pipeline_upload.py [--sizes 64,1024] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from doverunner_local.config import EmulatorConfig
from doverunner_local.samples import make_sample
from doverunner_local.server import LocalDoveRunner

HERE = Path(__file__).resolve().parent
MIB = 1 << 20
REGION = "us-east-1"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="64,1024", help="object sizes in MiB")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    aws = {"region_name": REGION, "endpoint_url": endpoint, "aws_access_key_id": "x", "aws_secret_access_key": "y"}
    s3 = boto3.client("s3", **aws)
    s3.create_bucket(Bucket="bench")
    boto3.resource("dynamodb", **aws).create_table(
        TableName="jobs",
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    machine = boto3.client("stepfunctions", **aws).create_state_machine(
        name="bench",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    rows = []
    with LocalDoveRunner(EmulatorConfig(step_seconds=0.01)) as local, tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            **local.credentials(),
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "y",
            "JOBS_TABLE": "jobs",
            "DOVERUNNER_SECRET_ID": "unused",
            "STATE_MACHINE_ARN": machine,
        }
        for size in [int(s) for s in args.sizes.split(",")]:
            path = make_sample(Path(folder) / f"{size}.mp4", size * MIB)
            key = f"inbox/{size}.mp4"
            s3.upload_file(str(path), "bench", key)
            path.unlink()
            runs: dict[str, list[dict[str, float]]] = {"submit": [], "read-all": []}
            for _ in range(args.repeat):
                for mode in runs:
                    done = subprocess.run(
                        [sys.executable, str(HERE / "pipeline_child.py"), mode, "bench", key],
                        env=env,
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    runs[mode].append(json.loads(done.stdout))
                local.emulator.reset()
            rows.append((size, {m: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for m, rs in runs.items()}))
    moto.stop()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, median of {args.repeat} runs\n")
    print(
        "| size MiB | submit MiB/s | read-all MiB/s | submit peak RSS MiB | read-all peak RSS MiB "
        "| submit/read-all memory |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for size, m in rows:
        rss = {mode: m[mode]["max_rss_kib"] / 1024 for mode in m}
        print(
            f"| {size} | {size / m['submit']['seconds']:.0f} | {size / m['read-all']['seconds']:.0f} "
            f"| {rss['submit']:.0f} | {rss['read-all']:.0f} | {rss['submit'] / rss['read-all']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
