"""The revocation stack's DynamoDB tables, as the stack defines them, for tests against the local AWS."""

from __future__ import annotations

from typing import Any


def create_ledger_table(dynamodb: Any, name: str) -> Any:
    """The revocation ledger: key `token`, index `by-state-expiry` (state, expires_epoch)."""
    return dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "token", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "token", "AttributeType": "S"},
            {"AttributeName": "state", "AttributeType": "S"},
            {"AttributeName": "expires_epoch", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-state-expiry",
                "KeySchema": [
                    {"AttributeName": "state", "KeyType": "HASH"},
                    {"AttributeName": "expires_epoch", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def create_jobs_table(dynamodb: Any, name: str) -> Any:
    """The jobs table: key `job_id`, index `by-detection-id`."""
    return dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "job_id", "AttributeType": "S"},
            {"AttributeName": "detection_id", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-detection-id",
                "KeySchema": [{"AttributeName": "detection_id", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
