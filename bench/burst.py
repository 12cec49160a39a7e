"""Burst benchmark: N videos dropped at once into the local deployment (the synthesized stack in the local AWS, the
local DoveRunner behind it), without faults (the baseline) and with the local DoveRunner's faults on, in the same run.

    .venv/bin/python bench/burst.py [--objects 200] [--url-every 20] [--error-rate 0.2] [--rate-limit-rate 0.1]
                                    [--reset-rate 0.2] [--seed 7] [--modes baseline,faults] [--timeout 1800]

For each mode it prints: reports written, final states, detections per object (must be exactly 1), objects lost
(no final report, must be 0), messages in the dead-letter queue, drain time (first drop to last report), DoveRunner
API calls per object, faults injected, uploads repeated. Ratios are against the baseline of the same run. The
deployment tracks and redelivers as on AWS (`BENCH_CONTEXT`); uploads are looked for 10 s before being made again.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from antipiracy.domain.jobs import job_id_for
from doverunner_local.config import Faults
from doverunner_local.samples import write_sample
from doverunner_local.stack import MIB, LocalPipelineStack

FINAL = {"COMPLETED", "FAILED", "TIMED_OUT", "REJECTED"}
# What the table says of a job with no final report, so it can be looked into.
LOST_FIELDS = ("state", "uploads", "upload_confirmed", "detection_id", "checks", "last_check_at", "last_error")
# On top of the local run's context: tracking and redelivery as deployed on AWS (cdk.json's defaults, but waits
# capped at 4 minutes instead of 15 so a run ends in minutes), so results come from DoveRunner's notifications and
# polling is the safety net. The local run's waits of 1 to 2 s would make a burst poll hundreds of times a second
# through the local AWS, which runs one function at a time.
BENCH_CONTEXT = {
    "doverunner:initialWaitSeconds": 30,
    "doverunner:maxWaitSeconds": 240,
    "doverunner:waitGrowth": 2,
    "doverunner:maxTrackingSeconds": 7 * 24 * 3600,
    "doverunner:maxReceiveCount": 5,
    "doverunner:notifiedPollSeconds": 240,
    # The local run's threshold is above its 40 MB compliant samples; the burst's videos are short clips, so
    # every 20th is made 9 MiB and goes by URL detection as before.
    "doverunner:urlDetectionThresholdBytes": 8 * MIB,
}
# Short clips, each sent with the pre-flight check off: the burst measures the pipeline (exactly once, drain time,
# API calls), not the verdict, and 200 compliant videos would be 8 GB through the in-memory local AWS. The local
# DoveRunner fails each with D002 after a detection is registered, so every object still costs one detection.
METADATA = {"preflight": "off"}


@dataclass
class Outcome:
    mode: str
    objects: int
    reports: int = 0
    states: Counter[str] = field(default_factory=Counter)
    detections: Counter[int] = field(default_factory=Counter)  # detections per object -> objects
    lost: list[str] = field(default_factory=list)
    dead_letters: int = 0
    drain_seconds: float = 0.0
    api_calls: int = 0
    injected: int = 0
    uploads_repeated: int = 0

    @property
    def duplicates(self) -> int:
        return sum(n for count, n in self.detections.items() if count > 1)


def videos(count: int, url_every: int) -> list[tuple[str, bytes]]:
    """Small MP4s (upload detection), every `url_every`-th one above the bench's URL-detection threshold."""
    out = []
    small = io.BytesIO()
    write_sample(small, "mp4", 96 * 1024, mark="0000000000000001", short=True)
    large = io.BytesIO()
    write_sample(large, "mp4", 9 * MIB, mark="0000000000000002", short=True)
    for n in range(count):
        body = large.getvalue() if url_every and n % url_every == url_every - 1 else small.getvalue()
        out.append((f"inbox/burst/video-{n:04d}.mp4", body))
    return out


def run(mode: str, args: argparse.Namespace) -> Outcome:
    faults = (
        Faults(
            error_rate=args.error_rate,
            rate_limit_rate=args.rate_limit_rate,
            reset_upload_rate=args.reset_rate,
            seed=args.seed,
        )
        if mode == "faults"
        else Faults()
    )
    outcome = Outcome(mode, args.objects)
    with LocalPipelineStack(step_seconds=0.3, context=BENCH_CONTEXT) as local:
        assert local.doverunner is not None
        local.doverunner.config.faults = faults
        local.doverunner.server.rng.seed(faults.seed)
        bucket = local.outputs["InboxBucketName"]
        s3 = local.client("s3")
        items = videos(args.objects, args.url_every)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            versions = dict(
                pool.map(
                    lambda item: (
                        item[0],
                        s3.put_object(Bucket=bucket, Key=item[0], Body=item[1], Metadata=METADATA)["VersionId"],
                    ),
                    items,
                )
            )
        sqs, queue_url = local.client("sqs"), local.outputs["IngestQueueUrl"]

        def progress(found: int) -> None:
            queue = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
            print(
                f"  {mode}: {time.monotonic() - started:.0f} s, {found} reports, ingest queue "
                f"{queue['ApproximateNumberOfMessages']} waiting {queue['ApproximateNumberOfMessagesNotVisible']} "
                "in flight",
                file=sys.stderr,
                flush=True,
            )

        reports = wait_for_reports(s3, bucket, list(versions), started + args.timeout, progress)
        outcome.drain_seconds = max((at for at, _ in reports.values()), default=time.monotonic()) - started
        assert local.deployment is not None
        try:
            local.deployment.wait_until_queues_drained(timeout=30)
        except TimeoutError as exc:
            print(f"  ({mode}) {exc}", file=sys.stderr)
        snapshot = local.doverunner.emulator.snapshot()
        titles = Counter(d["title"] for d in snapshot["detections"])
        counts = local.doverunner.emulator.request_counts
        outcome.api_calls = sum(n for name, n in counts.items() if name != "injected")
        outcome.injected = counts["injected"]
        table = local.client("dynamodb")
        for key, version in versions.items():
            job_id = job_id_for(bucket, key, version)
            item = table.get_item(TableName=local.outputs["JobsTableName"], Key={"job_id": {"S": job_id}}).get(
                "Item", {}
            )
            # No job: nothing was sent (counted as lost below).
            outcome.detections[titles[item["dr_title"]["S"]] if item else 0] += 1
            outcome.uploads_repeated += max(0, int(item.get("uploads", {}).get("N", "1")) - 1)
            report = reports.get(key)
            state = report[1] if report else "none"
            if state == "none" or item.get("state", {}).get("S") not in FINAL:
                seen = {name: next(iter(item[name].values())) for name in LOST_FIELDS if name in item}
                outcome.lost.append(f"{key} {seen}")
            outcome.states[state] += 1
        outcome.reports = sum(1 for _, state in reports.values() if state in FINAL)
        dlq = local.client("sqs").get_queue_attributes(
            QueueUrl=local.outputs["IngestDeadLetterQueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
        )
        outcome.dead_letters = int(dlq["Attributes"]["ApproximateNumberOfMessages"])
    return outcome


def wait_for_reports(
    s3: Any, bucket: str, keys: list[str], deadline: float, progress: Callable[[int], None]
) -> dict[str, tuple[float, str]]:
    """Each key's report as it appears: (when, its state); progress every 30 s."""
    found: dict[str, tuple[float, str]] = {}
    said = time.monotonic()
    while len(found) < len(keys) and time.monotonic() < deadline:
        if time.monotonic() - said > 30:
            progress(len(found))
            said = time.monotonic()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="results/inbox/burst/"):
            for entry in page.get("Contents", []):
                key = entry["Key"].removeprefix("results/").removesuffix(".json")
                # Each key's current report (results/<key>.json); its versions' own reports are under <key>.versions/.
                if key in found or ".versions/" in key:
                    continue
                try:
                    body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
                except ClientError:
                    continue
                found[key] = (time.monotonic(), str(json.loads(body)["state"]))
        time.sleep(0.5)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=int(os.environ.get("BURST_OBJECTS", "200")))
    parser.add_argument("--url-every", type=int, default=20, help="every n-th object is large: URL detection")
    parser.add_argument("--error-rate", type=float, default=0.2, help="API calls answered 503")
    parser.add_argument("--rate-limit-rate", type=float, default=0.1, help="API calls answered 429")
    parser.add_argument("--reset-rate", type=float, default=0.2, help="uploads reset halfway")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--modes", default="baseline,faults")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for every report")
    args = parser.parse_args()
    outcomes = []
    for mode in args.modes.split(","):
        print(f"running {mode}: {args.objects} objects ...", file=sys.stderr, flush=True)
        outcomes.append(run(mode, args))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.objects} objects, seed {args.seed}\n")
    print(
        "| mode | reports | final states | detections per object | lost | duplicates | dead letters "
        "| drain s | API calls/object | faults injected | uploads repeated | drain / baseline | calls / baseline |"
    )
    print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = outcomes[0]
    for o in outcomes:
        states = ", ".join(f"{s} {n}" for s, n in sorted(o.states.items()))
        per_object = ", ".join(f"{count}: {n}" for count, n in sorted(o.detections.items()))
        print(
            f"| {o.mode} | {o.reports} | {states} | {per_object} | {len(o.lost)} | {o.duplicates} | {o.dead_letters} "
            f"| {o.drain_seconds:.0f} | {o.api_calls / o.objects:.1f} | {o.injected} | {o.uploads_repeated} "
            f"| {o.drain_seconds / base.drain_seconds:.2f} | {o.api_calls / base.api_calls:.2f} |"
        )
    for o in outcomes:
        if o.lost:
            print(f"\n{o.mode}, no final report:\n" + "\n".join(o.lost[:20]))
    ok = all(not o.lost and o.duplicates == 0 and set(o.detections) == {1} for o in outcomes)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
