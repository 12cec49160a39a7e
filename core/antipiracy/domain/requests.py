"""What asks the pipeline for a detection: an S3 object version, tracking's request to upload a file again, or a
request to send a held or refused job again."""

from __future__ import annotations

from dataclasses import dataclass

RESUBMIT_MESSAGE = "doverunner.resubmit"
RETRY_MESSAGE = "doverunner.retry"


@dataclass(frozen=True)
class S3ObjectRef:
    """An object named by an S3 event; `key` already URL-decoded."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str = ""
    sequencer: str = ""

    @property
    def version(self) -> str:
        # Without bucket versioning, the ETag and sequencer tell one write of a key from the next.
        return self.version_id or f"{self.etag}:{self.sequencer}"


@dataclass(frozen=True)
class ResubmitRequest:
    """Tracking's request to upload a job's file again (a message on the ingest queue): `uploads` is the number
    of uploads the request was made after, so a repeated request uploads nothing."""

    job_id: str
    uploads: int


@dataclass(frozen=True)
class RetryRequest:
    """A request to send a held job (or one DoveRunner refused) again: from the operator (`doverunner jobs retry`)
    or from the probe that resumed submissions (services/holds.py)."""

    job_id: str
    requested_by: str
