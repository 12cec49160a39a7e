"""Revocation in batches (`make bench-revocation`): the web ACL calls and the time from a notification to its
session blocked, in one local deployment, beside a bare GetWebACL + UpdateWebACL of the same run.

    .venv/bin/python bench/revocation_batch.py [--notifications 50] [--rounds 3] [--bare 20] [--timeout 300]

1. One SQS batch of 10 genuine notifications (1.1 FD004 messages naming detections the local DoveRunner ended with
   a session of their own) handed to the deployed revoker function through the local Lambda API: the GetWebACL and
   UpdateWebACL calls it makes.
2. `--notifications` genuine notifications published at once (8 threads, sns.publish to the revocation topic), as
   DoveRunner would after a burst of detections, `--rounds` times: the web ACL calls and lock conflicts (updates
   refused with WAFOptimisticLockException), tokens lost (not BLOCKED in the ledger and the web ACL once the queue
   is drained), and each token's time from its publish to its ledger item's `blocked_at` (p50, p99).
3. The baseline: `--bare` rounds of GetWebACL then UpdateWebACL with what was read (no change), through the same
   local AWS; the latencies are also given as ratios to its median.

The web ACL calls are counted where the local AWS (moto, in this process) answers them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from revocation_flood import Bench, genuine_message

from antipiracy.domain.waf_rules import url_safe
from doverunner_local.stack import LocalPipelineStack


@dataclass
class WafCalls:
    reads: int = 0
    writes: int = 0
    conflicts: int = 0
    names: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.reads + self.writes


@contextmanager
def counted_waf_calls() -> Iterator[WafCalls]:
    """Counts GetWebACL and UpdateWebACL as the local AWS answers them (an update refused for its lock token is a
    conflict, and a call too)."""
    from moto.wafv2.responses import WAFV2Response

    calls = WafCalls()
    read, write = WAFV2Response.get_web_acl, WAFV2Response.update_web_acl

    def get_web_acl(self: Any) -> Any:
        calls.reads += 1
        return read(self)

    def update_web_acl(self: Any) -> Any:
        calls.writes += 1
        try:
            return write(self)
        except Exception as exc:
            if type(exc).__name__ == "WAFOptimisticLockException":
                calls.conflicts += 1
            raise

    WAFV2Response.get_web_acl, WAFV2Response.update_web_acl = get_web_acl, update_web_acl  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        WAFV2Response.get_web_acl, WAFV2Response.update_web_acl = read, write  # type: ignore[method-assign]


def envelope(topic: str, message: dict[str, Any]) -> str:
    """The body SQS delivers from the SNS topic."""
    return json.dumps(
        {"Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": topic, "Message": json.dumps(message)}
    )


def revoker_function(local: LocalPipelineStack) -> str:
    names = [str(f["FunctionName"]) for f in local.client("lambda").list_functions()["Functions"]]
    (name,) = [n for n in names if "RevocationRevoker" in n]
    return name


def one_batch(local: LocalPipelineStack, bench: Bench, first: int) -> tuple[WafCalls, dict[str, Any]]:
    """Ten genuine notifications in one SQS event, handed to the deployed revoker: its web ACL calls and answer."""
    messages = [genuine_message(local, first + n) for n in range(10)]
    event = {
        "Records": [
            {
                "messageId": f"bench-{n}",
                "receiptHandle": f"bench-{n}",
                "body": envelope(bench.topic, message),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench",
                "awsRegion": "us-east-1",
            }
            for n, message in enumerate(messages)
        ]
    }
    with counted_waf_calls() as calls:
        answer = local.client("lambda").invoke(FunctionName=revoker_function(local), Payload=json.dumps(event))
    payload = json.loads(answer["Payload"].read())
    blocked = sum(bench.state(m["watermark_token"]) == "BLOCKED" for m in messages)
    return calls, {"answer": payload, "blocked": blocked}


def blocked_at(bench: Bench, token: str) -> datetime | None:
    item = bench.dynamodb.get_item(TableName=bench.ledger, Key={"token": {"S": url_safe(token)}}, ConsistentRead=True)
    found = item.get("Item", {})
    if found.get("state", {}).get("S") != "BLOCKED":
        return None
    return datetime.fromisoformat(found["blocked_at"]["S"].replace("Z", "+00:00"))


def at_once(
    local: LocalPipelineStack, bench: Bench, count: int, first: int, timeout: float
) -> tuple[WafCalls, list[float], int, float]:
    """`count` genuine notifications published at once: web ACL calls, publish-to-block seconds of each blocked
    token, tokens lost, and the seconds until the last was blocked."""
    messages = [genuine_message(local, first + n) for n in range(count)]
    published: dict[str, datetime] = {}

    def publish(message: dict[str, Any]) -> None:
        published[message["watermark_token"]] = datetime.now(UTC)
        bench.publish(message)

    with counted_waf_calls() as calls:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(publish, messages))
        waiting = set(published)
        done: dict[str, datetime] = {}
        while waiting and time.monotonic() - started < timeout:
            for token in list(waiting):
                if (moment := blocked_at(bench, token)) is not None:
                    done[token] = moment
                    waiting.discard(token)
            time.sleep(0.1)
        last = time.monotonic() - started
        bench.drain(timeout)
    in_waf = bench.blocked_in_waf()
    lost = sum(1 for token in published if token not in done or url_safe(token) not in in_waf)
    latencies = [(done[token] - published[token]).total_seconds() for token in done]
    return calls, latencies, lost, last


def bare_round_trips(local: LocalPipelineStack, rounds: int) -> list[float]:
    """GetWebACL then UpdateWebACL with what was read, `rounds` times: seconds each."""
    waf = local.waf_client()
    name, acl_id = local.outputs["WebAclArn"].split("/")[-2:]
    kept = ("DefaultAction", "Description", "VisibilityConfig", "Rules")
    seconds = []
    for _ in range(rounds):
        started = time.monotonic()
        answer = waf.get_web_acl(Name=name, Id=acl_id, Scope="CLOUDFRONT")
        acl = answer["WebACL"]
        waf.update_web_acl(
            Name=name,
            Id=acl_id,
            Scope="CLOUDFRONT",
            LockToken=answer["LockToken"],
            **{key: acl[key] for key in kept if acl.get(key) not in (None, "")},
        )
        seconds.append(time.monotonic() - started)
    return seconds


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notifications", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bare", type=int, default=20, help="bare GetWebACL + UpdateWebACL round trips")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    rows = []
    with LocalPipelineStack(step_seconds=0.3) as local:
        bench = Bench(local)
        batch_calls, batch = one_batch(local, bench, first=0)
        print(f"  one batch of 10: {batch_calls.total} web ACL calls, {batch['blocked']} blocked", file=sys.stderr)
        bare: list[float] = []
        for round_ in range(args.rounds):
            bare += bare_round_trips(local, args.bare)
            first = 1000 * (round_ + 1)
            calls, latencies, lost, last = at_once(local, bench, args.notifications, first, args.timeout)
            rows.append((calls, latencies, lost, last))
            print(
                f"  round {round_ + 1}: {calls.total} web ACL calls, {calls.conflicts} conflicts, {lost} lost, "
                f"last blocked after {last:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    baseline = statistics.median(bare)
    print(f"\npython {sys.version.split()[0]}; bare GetWebACL + UpdateWebACL: median {baseline * 1000:.1f} ms\n")
    print("| notifications | web ACL calls | reads | writes | lock conflicts | blocked | lost |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| one SQS batch of 10 | {batch_calls.total} | {batch_calls.reads} | {batch_calls.writes} | "
          f"{batch_calls.conflicts} | {batch['blocked']} | {10 - batch['blocked']} |")  # fmt: skip
    print()
    print(
        "| round | published at once | web ACL calls | lock conflicts | lost | p50 s | p99 s | p50 / bare | "
        "p99 / bare | last blocked s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, (calls, latencies, lost, last) in enumerate(rows, 1):
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(
            f"| {n} | {args.notifications} | {calls.total} | {calls.conflicts} | {lost} | {p50:.2f} | {p99:.2f} | "
            f"{p50 / baseline:.0f} | {p99 / baseline:.0f} | {last:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
