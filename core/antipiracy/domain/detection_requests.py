"""Requests by file: a JSON object (`.json`) or JSON Lines (`.jsonl`, a crawler's batch) dropped under the requests
prefix, each asking for a URL detection or a live detection (docs/pipeline.md#requests-by-file).

Each request is its own job. Its identity is what it asks for (the request's canonical JSON, and which of the file's
identical requests it is), not where it stands in the file: a file delivered again, or dropped again unchanged, asks
for nothing new, so each request gets exactly one detection.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from antipiracy.domain.jobs import job_id_for
from doverunner import service_code

REQUEST_FILE_EXTENSIONS = ("json", "jsonl")
REQUEST_TYPES = ("url", "live")
# The guide sets no limit on a title; the pipeline keeps it short enough to read in DoveRunner's console and leaves
# room for the job's suffix (domain/jobs.dr_title).
MAX_TITLE_CHARS = 200
MAX_URL_CHARS = 2048
FIELDS = frozenset({"type", "url", "title", "service", "demo", "max_seconds"})


class RequestFileProblem(ValueError):
    """The file as a whole cannot be taken (too large, too many requests, not text): no request in it is made."""


@dataclass(frozen=True)
class DetectionRequest:
    """One valid request: a URL DoveRunner fetches (`url`) or a live HLS stream it watches (`live`)."""

    type: str
    url: str
    title: str
    service: str | None = None
    demo: bool = False
    max_seconds: int | None = None  # live only: when the pipeline stops it


@dataclass(frozen=True)
class RequestLine:
    """One line of a request file: its request, or the problem that makes it no request. `identity` names the job."""

    number: int
    identity: str
    request: DetectionRequest | None = None
    problem: str = ""

    def job_id(self, bucket: str, key: str) -> str:
        return job_id_for(bucket, key, f"request:{self.identity}")


def file_extension(key: str) -> str:
    return PurePosixPath(key).suffix.lower().lstrip(".")


def read_request_file(data: bytes, key: str, *, max_lines: int, max_seconds_limit: int) -> list[RequestLine]:
    """The requests of a `.json` (one request) or `.jsonl` (one per non-blank line) file. A line that is no valid
    request carries its problem; RequestFileProblem when the file as a whole cannot be taken."""
    extension = file_extension(key)
    if extension not in REQUEST_FILE_EXTENSIONS:
        shown = f".{extension}" if extension else "no extension"
        raise RequestFileProblem(f"a request file must be .json (one request) or .jsonl (one per line), not {shown}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestFileProblem(f"the request file is not UTF-8 text (byte {exc.start})") from None
    if extension == "json":
        numbered = [(1, text)] if text.strip() else []
    else:
        numbered = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not numbered:
        raise RequestFileProblem("the request file holds no request")
    if len(numbered) > max_lines:
        raise RequestFileProblem(
            f"the request file holds {len(numbered)} requests, more than the limit of {max_lines}: split it"
        )
    seen: dict[str, int] = {}
    lines = []
    for number, raw in numbered:
        request, problem, canonical = _parse(raw, number, max_seconds_limit)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        # Identical requests in one file are distinct jobs: the n-th of them is always the n-th.
        seen[digest] = seen.get(digest, 0) + 1
        lines.append(RequestLine(number, f"{digest}:{seen[digest]}", request, problem))
    return lines


def _parse(raw: str, number: int, max_seconds_limit: int) -> tuple[DetectionRequest | None, str, str]:
    """(request, problem, canonical text): the canonical text is the request's sorted JSON, or the line itself."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        where = f"line {number}" if not isinstance(exc, json.JSONDecodeError) else f"line {number + exc.lineno - 1}"
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return None, f"{where}: not JSON ({detail})", raw.strip()
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    try:
        return parse_request(value, max_seconds_limit), "", canonical
    except ValueError as exc:
        return None, f"line {number}: {exc}", canonical


def parse_request(value: Any, max_seconds_limit: int) -> DetectionRequest:
    """A request object checked field by field; ValueError naming what is wrong."""
    if isinstance(value, list):
        raise ValueError("a request is a JSON object, not a list: many requests go in a .jsonl file, one per line")
    if not isinstance(value, dict):
        raise ValueError(f"a request is a JSON object, not {type(value).__name__}")
    unknown = sorted(set(value) - FIELDS)
    if unknown:
        raise ValueError(f"unknown field {', '.join(map(repr, unknown))}; a request has {', '.join(sorted(FIELDS))}")
    kind = value.get("type")
    if kind not in REQUEST_TYPES:
        raise ValueError(f"unknown type {kind!r}: a request's type is 'url' or 'live'")
    url = _url(value.get("url"), kind)
    title = value.get("title")
    if title is None:
        title = PurePosixPath(urlsplit(url).path).name or urlsplit(url).hostname or url
    if not isinstance(title, str) or not title.strip():
        raise ValueError("title must be a non-empty string")
    title = title.strip()
    if len(title) > MAX_TITLE_CHARS:
        raise ValueError(f"title is {len(title)} characters, more than the limit of {MAX_TITLE_CHARS}")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in title):
        raise ValueError("title contains control characters")
    service = value.get("service")
    if service is not None:
        try:
            service = service_code(str(service))
        except ValueError:
            raise ValueError(f"unknown service {service!r}: FWM or DWM") from None
    demo = value.get("demo", False)
    if not isinstance(demo, bool):
        raise ValueError("demo must be true or false")
    max_seconds = value.get("max_seconds")
    if max_seconds is not None:
        if kind != "live":
            raise ValueError("max_seconds is for live requests only")
        if isinstance(max_seconds, bool) or not isinstance(max_seconds, int) or max_seconds < 1:
            raise ValueError("max_seconds must be a whole number of seconds, at least 1")
        if max_seconds > max_seconds_limit:
            raise ValueError(f"max_seconds {max_seconds} is more than the maximum tracking time ({max_seconds_limit})")
    return DetectionRequest(kind, url, title, service, demo, max_seconds)


def _url(url: Any, kind: str) -> str:
    if url is None or url == "":
        raise ValueError("url is missing")
    if not isinstance(url, str):
        raise ValueError("url must be a string")
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"url is longer than {MAX_URL_CHARS} characters")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise ValueError("url contains spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"url is invalid ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"url scheme {parts.scheme or 'none'!r} is not http or https")
    if not parts.hostname:
        raise ValueError("url has no host")
    if kind == "live" and not parts.path.lower().endswith(".m3u8"):
        raise ValueError("a live request's url must be an HLS manifest (.m3u8)")
    return url
