"""Answering CloudFormation: a PUT of the custom resource's answer to the event's presigned ResponseURL."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests


class ResponseNotDelivered(Exception):
    """CloudFormation's response URL did not take the answer (the message never names the URL: it is signed)."""


def send_response(
    url: str,
    body: Mapping[str, Any],
    *,
    put: Callable[..., requests.Response] = requests.put,
    attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """PUTs the answer to the presigned URL; a passing failure is tried again, a refusal is not."""
    data = json.dumps(body).encode()
    problem = ""
    for attempt in range(1, attempts + 1):
        try:
            # A presigned S3 PUT: the signature covers an empty content type.
            response = put(url, data=data, headers={"Content-Type": ""}, timeout=(5, 20))
        except requests.RequestException as exc:
            problem = type(exc).__name__  # its message would contain the signed URL
        else:
            if response.ok:
                return
            problem = f"HTTP {response.status_code}"
            if response.status_code < 500:
                break
        if attempt < attempts:
            sleep(2.0**attempt)
    raise ResponseNotDelivered(f"CloudFormation's response URL did not take the answer: {problem}")
