"""A work queue with its dead-letter queue, as every consumer in the app uses them."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.nag import acknowledge

RETENTION = Duration.days(14)  # the longest SQS keeps a message: time for an operator to redrive


def queue_with_dead_letter_queue(
    scope: Construct, name: str, *, consumer_timeout_seconds: int, max_receive_count: int
) -> tuple[sqs.Queue, sqs.Queue]:
    """`<name>Queue` and `<name>DeadLetterQueue`, encrypted and TLS-only; the queue and its dead-letter queue."""
    dead_letter_queue = sqs.Queue(
        scope,
        f"{name}DeadLetterQueue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=RETENTION,
    )
    acknowledge(dead_letter_queue, "SQS3", f"This is the dead-letter queue of the {name.lower()} queue.")
    queue = sqs.Queue(
        scope,
        f"{name}Queue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        # AWS advises six times the consumer's timeout, so a slow batch is not delivered twice meanwhile.
        visibility_timeout=Duration.seconds(6 * consumer_timeout_seconds),
        retention_period=RETENTION,
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=max_receive_count, queue=dead_letter_queue),
    )
    return queue, dead_letter_queue
