"""Pre-flight: whether DoveRunner can read a video at all, judged from its container's metadata before any detection
is spent on it (docs/media.md). What is measured comes from domain/media.py; this decides what the pipeline does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from antipiracy.domain.media import MediaInfo, NotAVideo, Unreadable, shortfalls


class Unchecked(Exception):
    """A video that cannot be read for the check (a URL whose server answers no range request): the message says
    why; it goes through unchecked, and its report says so."""


class Policy(StrEnum):
    ENFORCE = "enforce"  # a video that fails is rejected, no DoveRunner call
    WARN = "warn"  # it is submitted anyway; the report says what DoveRunner will likely refuse
    OFF = "off"  # no check


class Verdict(StrEnum):
    PASSED = "passed"
    REJECTED = "rejected"
    WARNED = "warned"
    UNCHECKED = "unchecked"  # nothing could be read (a URL whose server answers no range request)
    OFF = "off"


def policy_of(text: str, default: Policy) -> Policy:
    """A policy named in an object's metadata (`preflight`) or the settings; `default` when empty."""
    if not text.strip():
        return default
    try:
        return Policy(text.strip().lower())
    except ValueError:
        raise ValueError(f"unknown pre-flight policy {text!r}: enforce, warn or off") from None


@dataclass(frozen=True)
class Preflight:
    """The check's result, as the job and the report record it (`preflight`, `media`)."""

    policy: Policy
    verdict: Verdict
    problems: list[str] = field(default_factory=list)  # "D002: the video is 2.0 s long; DoveRunner needs ..."
    media: dict[str, Any] | None = None
    note: str = ""

    @property
    def rejects(self) -> bool:
        return self.verdict is Verdict.REJECTED

    @property
    def reason(self) -> str:
        return "; ".join(self.problems) or self.note

    def record(self) -> dict[str, Any]:
        return {
            "policy": self.policy.value,
            "verdict": self.verdict.value,
            "problems": self.problems,
            "note": self.note or None,
        }


def media_record(info: MediaInfo) -> dict[str, Any]:
    bitrate = info.bitrate_bps
    return {
        "container": info.container,
        "video_codec": info.video_codec,
        "width": info.width,
        "height": info.height,
        "duration_seconds": round(info.duration_seconds, 3) if info.duration_seconds is not None else None,
        "bitrate_bps": int(bitrate) if bitrate is not None else None,
        "fragmented": info.fragmented,
        "size": info.size,
        "bytes_read": info.bytes_read,
    }


def judge(measured: MediaInfo | NotAVideo | Unreadable, policy: Policy) -> Preflight:
    """What the pipeline does with a video, given what its metadata says (or why it could not be read)."""
    if isinstance(measured, NotAVideo):
        problems = [f"D011: the bytes are no video container ({measured}); DoveRunner needs an mp4, mkv or mov video"]
        media = None
    elif isinstance(measured, Unreadable):
        problems = [f"the video's metadata cannot be read ({measured}): DoveRunner would most likely fail it (D011)"]
        media = None
    else:
        problems = [shortfall.message() for shortfall in shortfalls(measured)]
        media = media_record(measured)
    if not problems:
        return Preflight(policy, Verdict.PASSED, [], media)
    if policy is Policy.ENFORCE:
        return Preflight(policy, Verdict.REJECTED, problems, media)
    return Preflight(
        policy,
        Verdict.WARNED,
        problems,
        media,
        note="submitted anyway (pre-flight policy warn): DoveRunner will most likely fail it as said",
    )
