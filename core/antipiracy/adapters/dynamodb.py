"""Values to and from DynamoDB's types, for the tables' adapters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def plain(value: Any) -> Any:
    """DynamoDB's Decimals back to int/float, its sets to sorted lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def dynamo(value: Any) -> Any:
    """Floats to Decimals, None values dropped from maps."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, list):
        return [dynamo(v) for v in value]
    if isinstance(value, dict):
        return {k: dynamo(v) for k, v in value.items() if v is not None}
    return value


def query_all(table: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a query (or a scan, without KeyConditionExpression), page after page."""
    read = table.query if "KeyConditionExpression" in kwargs else table.scan
    items: list[dict[str, Any]] = []
    while True:
        page = read(**kwargs)
        items += [plain(item) for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
