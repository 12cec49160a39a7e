"""Acting on DoveRunner's notifications: verify the leaking session's token, block it at the CDN, keep a ledger.

The ledger (DynamoDB, one item per token in URL-safe form) says for every token what happened and why:
BLOCKED (with when it expires), NOT_VERIFIED (DoveRunner did not confirm the token: nothing blocked),
CAPACITY_EXCEEDED (the web ACL had no room: nothing blocked, an alarm fires), LIFTED (expired or unblocked).
Blocking is idempotent: the same token from a repeated message or from a second detection is blocked once, and
the ledger item gathers every detection that named it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from antipiracy.domain.jobs import now_iso
from antipiracy.domain.notifications import StatusNotification
from antipiracy.domain.revocations import NoRoom, RevocationResult, RevocationState, epoch
from antipiracy.domain.waf_rules import url_safe
from antipiracy.observability import logger, metrics
from antipiracy.ports import Blocker, DetectionApi, Jobs, JobWaker, Ledger, ReportRewriter
from doverunner import describe_error


class Revoker:
    def __init__(
        self,
        *,
        ledger: Ledger,
        client_factory: Callable[[], DetectionApi],
        blocker: Blocker,
        block_seconds: int,
        jobs: Jobs | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        reports: ReportRewriter | None = None,
        waker: JobWaker | None = None,
    ) -> None:
        """`jobs`: the jobs a notification's detection may belong to (None: an operator's tool, no jobs);
        `reports`: rewrites a finished job's report with its revocation; `waker`: wakes the job's execution."""
        self._ledger = ledger
        self._client_factory = client_factory
        self._blocker = blocker
        self._jobs = jobs
        self._block_seconds = block_seconds
        self._clock = clock
        self._reports = reports
        self._waker = waker

    def handle(self, note: StatusNotification, message: str) -> RevocationResult:
        result = self._handle(note, message)
        if result.job_id and self._waker is not None:
            # After the record, so that the Check it brings forward reports the revocation too.
            self._waker.wake(result.job_id)
        return result

    def _handle(self, note: StatusNotification, message: str) -> RevocationResult:
        job = (
            self._jobs.find_by_detection(note.detection_id)
            if self._jobs is not None and note.detection_id is not None
            else None
        )
        job_id = job["job_id"] if job else None
        if note.detection_status in ("FD006", "FD007"):
            if job_id and self._jobs is not None:
                self._jobs.update(
                    job_id,
                    {
                        "notified_status": note.detection_status,
                        "notified_error": _error(note),
                        "notified_at": now_iso(),
                    },
                )
            return RevocationResult(
                "recorded", detection_id=note.detection_id, job_id=job_id, detail="no session to block"
            )
        if not note.revokes or note.watermark_token is None:
            return RevocationResult("nothing_to_block", detection_id=note.detection_id, job_id=job_id)
        token = note.watermark_token
        existing = self._ledger.get(token)
        if existing and existing.get("state") == RevocationState.BLOCKED.value:
            self._ledger.record(token, RevocationState.BLOCKED, note=note, message=message, job_id=job_id)
            self._note_on_job(job_id, token, RevocationState.BLOCKED)
            metrics.add_metric(name="RevocationsRepeated", unit="Count", value=1)
            return RevocationResult("already_blocked", url_safe(token), note.detection_id, job_id)
        verification = self._client_factory().verify_token(token)
        verified_at = now_iso()
        if not verification.is_valid:
            self._ledger.record(
                token,
                RevocationState.NOT_VERIFIED,
                note=note,
                message=message,
                job_id=job_id,
                fields={
                    "verified_at": verified_at,
                    "reason": "DoveRunner's token verification answered is_valid=false",
                },
            )
            self._note_on_job(job_id, token, RevocationState.NOT_VERIFIED)
            metrics.add_metric(name="RevocationsNotVerified", unit="Count", value=1)
            logger.warning("revoke token not verified: nothing blocked", extra={"detection_id": note.detection_id})
            return RevocationResult("not_verified", url_safe(token), note.detection_id, job_id)
        try:
            self._blocker.block([token])
        except NoRoom as exc:
            self._ledger.record(
                token,
                RevocationState.CAPACITY_EXCEEDED,
                note=note,
                message=message,
                job_id=job_id,
                fields={"verified_at": verified_at, "reason": str(exc)},
            )
            self._note_on_job(job_id, token, RevocationState.CAPACITY_EXCEEDED)
            metrics.add_metric(name="RevocationsRefusedForCapacity", unit="Count", value=1)
            logger.error("no WAF capacity left: token not blocked", extra={"reason": str(exc)})
            return RevocationResult("no_room", url_safe(token), note.detection_id, job_id, str(exc))
        fields, remove = self._expiry()
        fields.update(verified_at=verified_at, blocked_at=now_iso(), reason="")
        self._ledger.record(
            token, RevocationState.BLOCKED, note=note, message=message, job_id=job_id, fields=fields, remove=remove
        )
        self._note_on_job(job_id, token, RevocationState.BLOCKED)
        metrics.add_metric(name="SessionsBlocked", unit="Count", value=1)
        logger.info("session blocked", extra={"detection_id": note.detection_id, "job_id": job_id})
        return RevocationResult("blocked", url_safe(token), note.detection_id, job_id)

    def _note_on_job(self, job_id: str | None, token: str, state: RevocationState) -> None:
        if not job_id or self._jobs is None:
            return
        revocation = {"token": url_safe(token), "state": state.value, "at": now_iso()}
        job = self._jobs.update(job_id, {"revocation": revocation})
        # A report written before the notification arrived gets the revocation too.
        if self._reports is not None and job.get("report_key"):
            self._reports.rewrite(job)

    def lift_expired(self) -> list[str]:
        """Lifts every block whose time is up; the tokens lifted."""
        expired = self._ledger.expired(self._clock())
        tokens = [str(item["original_token"]) for item in expired]
        if not tokens:
            return []
        self._blocker.unblock(tokens)
        for token in tokens:
            self._ledger.record(
                token, RevocationState.LIFTED, fields={"lifted_at": now_iso(), "reason": "block expired"}
            )
        metrics.add_metric(name="BlocksLifted", unit="Count", value=len(tokens))
        return [url_safe(t) for t in tokens]

    def block_manually(self, token: str, reason: str) -> RevocationResult:
        """An operator's block: no verification (the operator vouches for it)."""
        self._blocker.block([token])
        fields, remove = self._expiry()
        fields.update(blocked_at=now_iso(), reason=reason or "blocked by an operator")
        self._ledger.record(token, RevocationState.BLOCKED, fields=fields, remove=remove)
        return RevocationResult("blocked", url_safe(token))

    def _expiry(self) -> tuple[dict[str, Any], tuple[str, ...]]:
        """When a block made now expires; a block that never expires drops any earlier expiry."""
        if self._block_seconds <= 0:
            return {}, ("expires_at", "expires_epoch")
        expires = self._clock() + timedelta(seconds=self._block_seconds)
        return {"expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "expires_epoch": epoch(expires)}, ()

    def unblock(self, tokens: Iterable[str], reason: str = "unblocked by an operator") -> list[str]:
        listed = list(tokens)
        self._blocker.unblock(listed)
        for token in listed:
            self._ledger.record(token, RevocationState.LIFTED, fields={"lifted_at": now_iso(), "reason": reason})
        return [url_safe(t) for t in listed]


def _error(note: StatusNotification) -> dict[str, Any]:
    info = describe_error(note.error_code or "D000")
    return {
        "error_code": note.error_code,
        "error_message": note.error_message,
        "description": info.description,
        "solution": info.solution,
    }
