"""Acting on DoveRunner's notifications: verify the leaking session's token, block it at the CDN, keep a ledger.

A notification is acted on only with evidence (docs/revocation.md): a 1.0 message's site_id must be the stack's
site; a 1.1 message's detection must be confirmed by DoveRunner's detail API (this site, the status it claims, and
for FD004 its forensic mark as the detection's wm_key); a token is blocked only once DoveRunner verifies it.
Only a confirmed notification changes its detection's job (FD006/FD007 notes, the revocation, the report).

The ledger (DynamoDB, one item per token in URL-safe form) says for every token what happened and why:
BLOCKED (with when it expires), NOT_VERIFIED (DoveRunner did not confirm the token: nothing blocked),
REFUSED (the notification failed a check, named in `refused_check` and `reason`: nothing blocked),
CAPACITY_EXCEEDED (the web ACL had no room: nothing blocked, an alarm fires), LIFTED (expired or unblocked).
NOT_VERIFIED and REFUSED items carry `ttl_epoch` (REFUSAL_TTL_SECONDS after the refusal), so DynamoDB's TTL deletes
them; the ledger drops it, and the failed check, once the token is acted on (domain/revocations.removals). The
ledger keeps the notification itself, never the SNS envelope.
Blocking is idempotent: the same token from a repeated message or from a second detection is blocked once, and
the ledger item gathers every detection that named it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from antipiracy import environment as names
from antipiracy.domain.jobs import now_iso
from antipiracy.domain.notifications import StatusNotification, inner_message
from antipiracy.domain.revocations import TTL_ATTRIBUTE, NoRoom, RevocationResult, RevocationState, epoch
from antipiracy.domain.waf_rules import url_safe
from antipiracy.observability import logger, metrics
from antipiracy.ports import Blocker, DetectionApi, Jobs, JobWaker, Ledger, ReportRewriter
from doverunner import DoveRunnerApiError, describe_error

REFUSAL_TTL_SECONDS = 30 * 24 * 3600  # a refused or unverified ledger item is deleted by DynamoDB's TTL after this
VERIFY_WORKERS = 10  # a batch's DoveRunner calls at once: the SQS batch size, so a batch takes one round of them


@dataclass(frozen=True)
class _ToBlock:
    """A notification whose evidence held and whose token DoveRunner verified: left is the web ACL."""

    note: StatusNotification
    message: str
    token: str
    job_id: str | None
    verified_at: str


@dataclass(frozen=True)
class Refusal:
    """A check a notification failed: `check` names it (site, version, detection, status, forensic_mark)."""

    check: str
    reason: str


# The detail statuses that confirm a notification's status. A failure is notified as FD006 or FD007, and the guide's
# detail API knows FD006 only: either confirms either. A completed detection confirms only FD004.
_CONFIRMING_STATUSES = {
    "FD004": frozenset({"FD004"}),
    "FD006": frozenset({"FD006", "FD007"}),
    "FD007": frozenset({"FD006", "FD007"}),
}


class Revoker:
    def __init__(
        self,
        *,
        ledger: Ledger,
        client_factory: Callable[[], DetectionApi],
        blocker: Blocker,
        block_seconds: int,
        site_id: str | None = None,
        jobs: Jobs | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        reports: ReportRewriter | None = None,
        waker: JobWaker | None = None,
    ) -> None:
        """`site_id`: the stack's DoveRunner site, the only one whose notifications are acted on (None: an
        operator's tool, which handles no notification); `jobs`: the jobs a notification's detection may belong to
        (None: no jobs); `reports`: rewrites a finished job's report with its revocation; `waker`: wakes the job's
        execution."""
        self._ledger = ledger
        self._client_factory = client_factory
        self._blocker = blocker
        self._site_id = site_id
        self._jobs = jobs
        self._block_seconds = block_seconds
        self._clock = clock
        self._reports = reports
        self._waker = waker

    def handle(self, note: StatusNotification, message: str) -> RevocationResult:
        """Acts on a notification once its evidence holds; `message` is the SQS body (only the notification inside
        it is kept)."""
        (result,) = self.handle_batch([(note, message)])
        if isinstance(result, Exception):
            raise result
        return result

    def handle_batch(self, batch: Sequence[tuple[StatusNotification, str]]) -> list[RevocationResult | Exception]:
        """Acts on a batch of notifications: each one's evidence and token are checked concurrently (DoveRunner's
        detail and verification calls), then every token to block goes into the web ACL with one read and one
        write. One result per notification, in order: what was done, or the exception that failed it alone (the
        queue delivers that one again)."""
        notes = [(note, inner_message(message)) for note, message in batch]
        if len(notes) == 1:
            decided = [self._decide_safely(*notes[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(VERIFY_WORKERS, len(notes))) as pool:
                decided = list(pool.map(lambda item: self._decide_safely(*item), notes))
        blocks = self._block_all([d for d in decided if isinstance(d, _ToBlock)])
        results: list[RevocationResult | Exception] = []
        recorded: set[str] = set()
        for decision in decided:
            try:
                if isinstance(decision, _ToBlock):
                    outcome = blocks[decision.token]
                    if isinstance(outcome, NoRoom):
                        result: RevocationResult | Exception = self._no_room(decision, outcome)
                    elif isinstance(outcome, Exception):
                        result = outcome
                    elif decision.token in recorded:
                        # A second notification of the batch naming the same session: as if it came later.
                        result = self._already_blocked(decision.note, decision.message, decision.token, decision.job_id)
                    else:
                        result = self._blocked(decision)
                        recorded.add(decision.token)
                else:
                    result = decision
                if isinstance(result, RevocationResult) and result.job_id and self._waker is not None:
                    # After the record, so that the Check it brings forward reports the revocation too.
                    self._waker.wake(result.job_id)
            except Exception as exc:  # this notification alone fails; the batch goes on
                result = exc
            results.append(result)
        return results

    def _decide_safely(self, note: StatusNotification, message: str) -> RevocationResult | _ToBlock | Exception:
        try:
            return self._decide(note, message)
        except Exception as exc:  # DoveRunner or DynamoDB unreachable: this notification is delivered again
            return exc

    def _decide(self, note: StatusNotification, message: str) -> RevocationResult | _ToBlock:
        """Everything up to the block: the evidence, the ledger, DoveRunner's verification of the token."""
        refusal, job = self._evidence(note)
        if refusal is not None:
            return self._refuse(note, message, refusal)
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
            return self._already_blocked(note, message, token, job_id)
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
                    "refused_check": "token",
                    TTL_ATTRIBUTE: self._ttl(),
                },
            )
            self._note_on_job(job_id, token, RevocationState.NOT_VERIFIED)
            metrics.add_metric(name=names.METRIC_NOT_VERIFIED, unit="Count", value=1)
            logger.warning("revoke token not verified: nothing blocked", extra={"detection_id": note.detection_id})
            return RevocationResult("not_verified", url_safe(token), note.detection_id, job_id)
        return _ToBlock(note, message, token, job_id, verified_at)

    def _block_all(self, pending: list[_ToBlock]) -> dict[str, NoRoom | Exception | None]:
        """Blocks every pending token with one web ACL read and write: per token, None (blocked), NoRoom, or the
        exception that kept it from the web ACL."""
        tokens = list(dict.fromkeys(decision.token for decision in pending))
        if not tokens:
            return {}
        try:
            self._blocker.block(tokens)
            return dict.fromkeys(tokens)
        except NoRoom as exc:
            if len(tokens) == 1:
                return {tokens[0]: exc}
        except Exception as exc:  # WAF unreachable: every one of them is delivered again
            return dict.fromkeys(tokens, exc)
        # Not all of them fit: one at a time, so those that fit are blocked and only the rest refused.
        outcomes: dict[str, NoRoom | Exception | None] = {}
        for token in tokens:
            try:
                self._blocker.block([token])
                outcomes[token] = None
            except Exception as exc:
                outcomes[token] = exc
        return outcomes

    def _already_blocked(
        self, note: StatusNotification, message: str, token: str, job_id: str | None
    ) -> RevocationResult:
        self._ledger.record(token, RevocationState.BLOCKED, note=note, message=message, job_id=job_id)
        self._note_on_job(job_id, token, RevocationState.BLOCKED)
        metrics.add_metric(name="RevocationsRepeated", unit="Count", value=1)
        return RevocationResult("already_blocked", url_safe(token), note.detection_id, job_id)

    def _no_room(self, decision: _ToBlock, exc: NoRoom) -> RevocationResult:
        note, token, job_id = decision.note, decision.token, decision.job_id
        self._ledger.record(
            token,
            RevocationState.CAPACITY_EXCEEDED,
            note=note,
            message=decision.message,
            job_id=job_id,
            fields={"verified_at": decision.verified_at, "reason": str(exc)},
        )
        self._note_on_job(job_id, token, RevocationState.CAPACITY_EXCEEDED)
        metrics.add_metric(name=names.METRIC_REFUSED_FOR_CAPACITY, unit="Count", value=1)
        logger.error("no WAF capacity left: token not blocked", extra={"reason": str(exc)})
        return RevocationResult("no_room", url_safe(token), note.detection_id, job_id, str(exc))

    def _blocked(self, decision: _ToBlock) -> RevocationResult:
        note, token, job_id = decision.note, decision.token, decision.job_id
        fields, remove = self._expiry()
        fields.update(verified_at=decision.verified_at, blocked_at=now_iso(), reason="")
        self._ledger.record(
            token,
            RevocationState.BLOCKED,
            note=note,
            message=decision.message,
            job_id=job_id,
            fields=fields,
            remove=remove,
        )
        self._note_on_job(job_id, token, RevocationState.BLOCKED)
        metrics.add_metric(name="SessionsBlocked", unit="Count", value=1)
        logger.info("session blocked", extra={"detection_id": note.detection_id, "job_id": job_id})
        return RevocationResult("blocked", url_safe(token), note.detection_id, job_id)

    # ---- the evidence behind a notification ----------------------------------------------------------------------

    def _evidence(self, note: StatusNotification) -> tuple[Refusal | None, dict[str, Any] | None]:
        """The failed check, if any, and the job of the notification's detection (only once it is confirmed).

        1.0: its site_id must be this stack's site (its token is then verified like any other). 1.1: DoveRunner's
        detail API, called with this site's credentials, must know the detection, on this site, with the status the
        message claims, and for FD004 with the message's forensic mark as its wm_key.
        """
        if self._site_id is None:
            return Refusal("site", "this revoker knows no DoveRunner site: it acts on no notification"), None
        if note.version == "1.0":
            if note.site_id != self._site_id:
                return Refusal("site", f"site_id {note.site_id!r} is not this stack's site {self._site_id!r}"), None
            return None, None
        if note.detection_id is None:
            return Refusal("detection", "the notification names no detection"), None
        job = self._jobs.find_by_detection(note.detection_id) if self._jobs is not None else None
        service = str(job["service"]) if job and job.get("service") else None
        try:
            detection = self._client_factory().detail(note.detection_id, service=service)
        except DoveRunnerApiError as exc:
            if exc.retryable:
                raise  # DoveRunner's passing trouble: the queue delivers the message again
            return Refusal(
                "detection",
                f"DoveRunner's detail API does not confirm detection {note.detection_id}: {exc.code} {exc.description}",
            ), None
        if detection.site_id and detection.site_id != self._site_id:
            return Refusal(
                "site", f"detection {note.detection_id} is of site {detection.site_id!r}, not {self._site_id!r}"
            ), None
        if detection.detect_status not in _CONFIRMING_STATUSES[note.detection_status]:
            return Refusal(
                "status",
                f"detection {note.detection_id} is {detection.detect_status or 'without a status'} at DoveRunner, "
                f"not {note.detection_status}",
            ), None
        mark = note.forensic_mark or ""
        if note.detection_status == "FD004" and note.watermark_token and (not mark or detection.wm_key != mark):
            return Refusal(
                "forensic_mark",
                f"the message's forensic_mark {(note.forensic_mark or '')[:40]!r} is not detection "
                f"{note.detection_id}'s wm_key {detection.wm_key[:40]!r}",
            ), None
        return None, job

    def _refuse(self, note: StatusNotification, message: str, refusal: Refusal) -> RevocationResult:
        """Records a notification that failed a check: it blocks nothing and changes no job."""
        metrics.add_metric(name=names.METRIC_NOTIFICATIONS_REFUSED, unit="Count", value=1)
        logger.warning(
            "notification refused: nothing blocked, no job changed",
            extra={"detection_id": note.detection_id, "check": refusal.check, "reason": refusal.reason},
        )
        token = note.watermark_token
        if not token:
            # FD006/FD007 (or FD004 without a token): no token to key a ledger item; the log and metric say it.
            return RevocationResult("refused", detection_id=note.detection_id, detail=refusal.reason)
        existing = self._ledger.get(token)
        fields: dict[str, Any] = {"last_refusal": {"at": now_iso(), "check": refusal.check, "reason": refusal.reason}}
        if existing and existing.get("state") == RevocationState.BLOCKED.value:
            # A genuine block stays as it is (and keeps its expiry); the refused message is kept beside it.
            self._ledger.record(token, RevocationState.BLOCKED, message=message, fields=fields)
        else:
            fields.update(reason=f"{refusal.check}: {refusal.reason}", refused_check=refusal.check)
            fields[TTL_ATTRIBUTE] = self._ttl()
            self._ledger.record(token, RevocationState.REFUSED, message=message, fields=fields)
        return RevocationResult("refused", url_safe(token), note.detection_id, None, refusal.reason)

    def _ttl(self) -> int:
        return epoch(self._clock() + timedelta(seconds=REFUSAL_TTL_SECONDS))

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
