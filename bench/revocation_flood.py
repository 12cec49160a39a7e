"""Revocation under a flood: how long a genuine DoveRunner notification takes from publish to its token BLOCKED in
the ledger, alone and right behind a flood of unverifiable notifications, in one local deployment.

    .venv/bin/python bench/revocation_flood.py [--flood 500] [--rounds 3] [--drain-timeout 300]

A genuine notification is a 1.1 FD004 message naming a detection the local DoveRunner knows (created ended in its
engine, as the `ended_detection` test fixture does), with the detection's forensic mark and its session's revoke
token. The flood is `--flood` well-formed 1.1 FD004 messages naming detections DoveRunner does not know, each with a
distinct token of the token grammar, published as fast as 8 threads can (sns.publish to the revocation topic); the
genuine one is published right after the last of them. Alone and after a flood alternate `--rounds` times; each
flood is drained before the next genuine one goes alone. Times are publish to BLOCKED (ledger polled every 0.05 s);
the ratio is against the medians of the same run. Then: how the flood's notifications ended in the ledger, how many
reached the dead-letter queue, and whether any of their tokens is blocked (ledger or web ACL).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from antipiracy.domain.waf_rules import read_rule, url_safe
from doverunner_local.stack import LocalPipelineStack

POLL_SECONDS = 0.05
SERVICE = "PD002"  # the stack's default service: the revoker asks the detail API with it for a detection of no job
UNKNOWN_DETECTIONS_FROM = 90_000_000  # detection ids the local DoveRunner never hands out (its own start at 1001)


def flood_messages(count: int) -> list[dict[str, Any]]:
    """Well-formed 1.1 FD004 notifications naming unknown detections, each with a token of its own (20 random
    bytes in standard base64, as DoveRunner's look)."""
    return [
        {
            "detection_id": UNKNOWN_DETECTIONS_FROM + n,
            "detection_status": "FD004",
            "forensic_mark": secrets.token_hex(8),
            "watermark_token": base64.b64encode(secrets.token_bytes(20)).decode("ascii"),
        }
        for n in range(count)
    ]


def genuine_message(local: LocalPipelineStack, n: int) -> dict[str, Any]:
    """A detection that ended FD004 in the local DoveRunner, finding a session of its own: its notification."""
    assert local.doverunner is not None
    emulator = local.doverunner.emulator
    mark = f"{0xBE0000 + n:016x}"
    session = emulator.add_session(mark, f"session_id=bench-flood-{n};user_id=pirate-{n}")
    record = emulator._new_record(
        local.doverunner.config.site_id, SERVICE, f"flood-{n}.mp4", "url", False, "https://example.com/leak.mp4"
    )
    record.wm_key = mark
    record.revoke_token = session.revoke_token
    emulator._set(record, "FD004", "FD400")
    return {
        "detection_id": record.detection_id,
        "detection_status": "FD004",
        "forensic_mark": mark,
        "watermark_token": session.revoke_token,
    }


class Bench:
    def __init__(self, local: LocalPipelineStack) -> None:
        self.local = local
        self.sns = local.client("sns")
        self.sqs = local.client("sqs")
        self.dynamodb = local.client("dynamodb")
        self.topic = local.outputs["RevocationTopicArn"]
        self.ledger = local.outputs["RevocationLedgerTableName"]
        self.queue = local.outputs["RevocationQueueUrl"]
        self.dead_letters = local.outputs["RevocationDeadLetterQueueUrl"]

    def publish(self, message: dict[str, Any]) -> None:
        self.sns.publish(TopicArn=self.topic, Message=json.dumps(message))

    def state(self, token: str) -> str | None:
        item = self.dynamodb.get_item(TableName=self.ledger, Key={"token": {"S": url_safe(token)}}, ConsistentRead=True)
        state = item.get("Item", {}).get("state", {}).get("S")
        return str(state) if state is not None else None

    def time_to_block(self, message: dict[str, Any], timeout: float) -> float:
        """Seconds from publishing `message` to its token BLOCKED in the ledger."""
        started = time.monotonic()
        self.publish(message)
        while self.state(message["watermark_token"]) != "BLOCKED":
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"detection {message['detection_id']} not blocked after {timeout} s")
            time.sleep(POLL_SECONDS)
        return time.monotonic() - started

    def flood(self, messages: list[dict[str, Any]]) -> float:
        """Publishes every message as fast as 8 threads can; seconds it took."""
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(self.publish, messages))
        return time.monotonic() - started

    def queued(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def drain(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.queued():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.queued()} notification(s) still queued after {timeout} s")
            time.sleep(0.2)

    def ledger_states(self, tokens: set[str]) -> Counter[str]:
        states: Counter[str] = Counter()
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=self.ledger, ConsistentRead=True):
            for item in page["Items"]:
                if item["token"]["S"] in tokens:
                    states[item["state"]["S"]] += 1
        states["(none)"] = len(tokens) - sum(states.values())
        return states

    def dead_lettered(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.dead_letters,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def blocked_in_waf(self) -> set[str]:
        arn = self.local.outputs["WebAclArn"]
        name, acl_id = arn.split("/")[-2:]
        acl = self.local.waf_client().get_web_acl(Name=name, Id=acl_id, Scope="CLOUDFRONT")["WebACL"]
        return {token for rule in acl["Rules"] for _, tokens in read_rule(rule) for token in tokens}


def summary(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood", type=int, default=int(os.environ.get("FLOOD_MESSAGES", "500")))
    parser.add_argument("--rounds", type=int, default=3, help="alone / after a flood, in alternation")
    parser.add_argument("--drain-timeout", type=float, default=300, help="seconds for a flood to drain")
    args = parser.parse_args()
    alone: list[float] = []
    flooded: list[float] = []
    publish_seconds: list[float] = []
    drain_seconds: list[float] = []
    flood_tokens: set[str] = set()
    with LocalPipelineStack(step_seconds=0.3) as local:
        bench = Bench(local)
        genuine_tokens: set[str] = set()
        for round_ in range(args.rounds):
            message = genuine_message(local, 2 * round_)
            genuine_tokens.add(url_safe(message["watermark_token"]))
            alone.append(bench.time_to_block(message, args.drain_timeout))
            print(f"  round {round_ + 1}: alone {alone[-1]:.2f} s", file=sys.stderr, flush=True)
            forged = flood_messages(args.flood)
            flood_tokens |= {url_safe(m["watermark_token"]) for m in forged}
            message = genuine_message(local, 2 * round_ + 1)
            genuine_tokens.add(url_safe(message["watermark_token"]))
            started = time.monotonic()
            publish_seconds.append(bench.flood(forged))
            flooded.append(bench.time_to_block(message, args.drain_timeout))
            bench.drain(args.drain_timeout)
            drain_seconds.append(time.monotonic() - started)
            print(
                f"  round {round_ + 1}: {args.flood} published in {publish_seconds[-1]:.1f} s, genuine blocked "
                f"{flooded[-1]:.2f} s after it, queue drained {drain_seconds[-1]:.1f} s after the first",
                file=sys.stderr,
                flush=True,
            )
        states = bench.ledger_states(flood_tokens)
        dead = bench.dead_lettered()
        in_waf = bench.blocked_in_waf()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores, {args.rounds} rounds, "
        f"flood of {args.flood} unverifiable notifications\n"
    )
    print("| genuine notification | runs | median s | min s | max s | median / alone |")
    print("|---|---:|---:|---:|---:|---:|")
    base = statistics.median(alone)
    for label, values in (("alone", alone), (f"after {args.flood} unverifiable", flooded)):
        median, low, high = summary(values)
        print(f"| {label} | {len(values)} | {median:.2f} | {low:.2f} | {high:.2f} | {median / base:.2f} |")
    print(
        f"\nflood publishing: {', '.join(f'{s:.1f}' for s in publish_seconds)} s; "
        f"queue drained after: {', '.join(f'{s:.1f}' for s in drain_seconds)} s "
        f"({', '.join(f'{args.flood / s:.0f}' for s in drain_seconds)} notifications/s)"
    )
    total = args.flood * args.rounds
    print(
        f"flood notifications in the ledger ({total}): "
        + ", ".join(f"{state} {n}" for state, n in sorted(states.items()) if n)
    )
    print(f"dead-letter queue: {dead}")
    blocked = states["BLOCKED"] + len(in_waf & flood_tokens)
    print(
        f"flood tokens blocked: {states['BLOCKED']} in the ledger, {len(in_waf & flood_tokens)} in the web ACL; "
        f"genuine tokens in the web ACL: {len(in_waf & genuine_tokens)} of {len(genuine_tokens)}"
    )
    return 0 if blocked == 0 and states["REFUSED"] + states["NOT_VERIFIED"] == total else 1


if __name__ == "__main__":
    sys.exit(main())
