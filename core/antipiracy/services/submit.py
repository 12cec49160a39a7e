"""Submitting a dropped video to DoveRunner: exactly one detection per S3 object version.

How "exactly one" holds when S3 and SQS deliver more than once, and when a function dies mid-way:
1. The job is created with a conditional put keyed by bucket + key + version: a second delivery finds it.
2. Before any DoveRunner call the job moves RECEIVED -> SUBMITTING (conditional): two concurrent deliveries
   cannot both call DoveRunner. The DoveRunner title carries the job id, so the detection can be found again.
3. A delivery that finds the job still SUBMITTING (the previous one died between its DoveRunner call and
   its next write) first looks for a detection with that title through the list API. Found: it is adopted,
   nothing is sent again. Not found: a URL detection registers as the API answers, so it is sent; an upload
   registers once stored, so one begun less than `find_upload_seconds` ago is handed to tracking unconfirmed.
4. An upload whose connection failed after it took the last byte may have registered: the job is tracked
   unconfirmed; tracking looks for its title and, if nothing appears within `find_upload_seconds`, puts a
   resubmit request on the ingest queue: the file is uploaded again with a fresh signed URL and the same title,
   once per request however often the request is delivered (`resubmit`, keyed on the number of uploads).
5. Tracking starts as a Step Functions execution named after the job: a repeated start is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any, cast
from urllib.parse import unquote

from antipiracy.config import PipelineConfig
from antipiracy.domain.detection_requests import RequestFileProblem, RequestLine, read_request_file
from antipiracy.domain.holds import HoldKind, hold_kind
from antipiracy.domain.jobs import (
    FINAL_STATES,
    JobExists,
    JobState,
    StateConflict,
    dr_title,
    job_id_for,
    now_iso,
    seconds_since,
    uploads_of,
)
from antipiracy.domain.keys import key_problem
from antipiracy.domain.media import MediaInfo, NotAVideo, Unreadable, probe, read_budget
from antipiracy.domain.outcomes import JobOutcome
from antipiracy.domain.preflight import Policy, Preflight, Unchecked, Verdict, judge, policy_of
from antipiracy.domain.reports import REPORT_VERSION, own_report_key, report_key
from antipiracy.domain.requests import ResubmitRequest, RetryRequest, S3ObjectRef
from antipiracy.environment import METRIC_JOBS_REFUSED
from antipiracy.observability import logger, metrics
from antipiracy.ports import DetectionApi, Executions, Jobs, Objects, RemoteMedia, ResultsTopic
from antipiracy.services.holds import Holds, retryable
from antipiracy.services.report import Reports, publish_result
from antipiracy.services.wake import Waker
from doverunner import ConfigurationError, DoveRunnerApiError, TransportError, service_code
from doverunner.client import SUPPORTED_EXTENSIONS, file_extension


@dataclass(frozen=True)
class SubmitResult:
    job_id: str
    state: str
    action: str  # submitted, duplicate, rejected, adopted, failed, held
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"job_id": self.job_id, "state": self.state, "action": self.action, "detail": self.detail}


GONE = "the object no longer exists (deleted before it was processed)"


class RetryLater(Exception):
    """Nothing was decided: the message must come back (and end in the dead-letter queue if it keeps failing)."""


class Submitter:
    def __init__(
        self,
        *,
        objects: Objects,
        jobs: Jobs,
        executions: Executions,
        client_factory: Callable[..., DetectionApi],
        config: PipelineConfig,
        results: ResultsTopic | None = None,
        holds: Holds | None = None,
        remote_media: RemoteMedia | None = None,
    ) -> None:
        self._objects = objects
        self._jobs = jobs
        self._executions = executions
        self._client_factory = client_factory
        self._config = config
        self._results = results
        self._holds = holds or Holds(jobs)
        self._remote_media = remote_media
        self._reports = Reports(objects, config.results_prefix)

    # ---- entry ------------------------------------------------------------------------------------------------

    def submit_all(self, ref: S3ObjectRef) -> list[SubmitResult]:
        """What a dropped object asks for: one detection of the video, or one per request of a request file."""
        if ref.key.startswith(self._config.requests_prefix):
            return self._request_file(ref)
        return [self.submit(ref)]

    def submit(self, ref: S3ObjectRef) -> SubmitResult:
        job_id = job_id_for(ref.bucket, ref.key, ref.version)
        logger.append_keys(job_id=job_id, key=ref.key)
        try:
            head = self._head(ref)
        except FileNotFoundError:
            return self._reject_new(job_id, ref, {}, GONE)
        item = self._job_item(job_id, ref, head)
        try:
            job = self._jobs.create(item)
        except JobExists as exists:
            return self._again(exists.job)
        reason = self._refusal(item)
        if reason:
            return self._reject(job, reason)
        return self._checked_send(job)

    # ---- requests by file (domain/detection_requests.py) ----------------------------------------------------

    def _request_file(self, ref: S3ObjectRef) -> list[SubmitResult]:
        """One job per request of the file, each sent once; a file that cannot be taken as a whole is rejected with
        one report (its own, as a dropped video's) and asks for nothing. A summary at results/<key>.json lists each
        request's job and report. DoveRunner being briefly unavailable for one request does not hold up the others:
        the message comes back for the rest once all were tried."""
        file_job_id = job_id_for(ref.bucket, ref.key, ref.version)
        logger.append_keys(key=ref.key)
        try:
            head = self._head(ref)
        except FileNotFoundError:
            return [self._reject_new(file_job_id, ref, {}, GONE)]
        version = head.get("VersionId") or ref.version_id
        try:
            lines = self._read_requests(ref, version, int(head.get("ContentLength", 0)))
        except RequestFileProblem as problem:
            return [self._reject_new(file_job_id, ref, head, str(problem))]
        results: list[SubmitResult] = []
        entries: list[dict[str, Any]] = []
        retry_later: RetryLater | None = None
        for line in lines:
            item = self._request_item(ref, version, line)
            logger.append_keys(job_id=item["job_id"], line=line.number)
            try:
                try:
                    job = self._jobs.create(item)
                except JobExists as exists:
                    result = self._again(exists.job)
                else:
                    result = self._reject(job, line.problem) if line.problem else self._checked_send(job)
            except RetryLater as exc:
                retry_later = retry_later or exc
                result = SubmitResult(item["job_id"], "", "retry", str(exc))
            results.append(result)
            entries.append(
                {
                    "line": line.number,
                    "job_id": item["job_id"],
                    "state": result.state,
                    "action": result.action,
                    "request": item["request"],
                    "problem": line.problem or None,
                    "report_key": item["version_report_key"],
                }
            )
        logger.remove_keys(["job_id", "line"])
        self._write_summary(ref, version, entries)
        if retry_later is not None:
            raise retry_later
        return results

    def _read_requests(self, ref: S3ObjectRef, version: str | None, size: int) -> list[RequestLine]:
        problem = key_problem(ref.key, self._config.results_prefix)
        if problem:
            raise RequestFileProblem(problem)
        limit = self._config.max_request_bytes
        if size > limit:
            raise RequestFileProblem(f"the request file is {size} bytes, more than the limit of {limit}: split it")
        with contextlib.closing(self._objects.open(ref.bucket, ref.key, version)) as body:
            data = body.read(limit + 1)
        if len(data) > limit:
            raise RequestFileProblem(f"the request file is more than the limit of {limit} bytes: split it")
        return read_request_file(
            data,
            ref.key,
            max_lines=self._config.max_request_lines,
            max_seconds_limit=self._config.max_tracking_seconds,
        )

    def _request_item(self, ref: S3ObjectRef, version: str | None, line: RequestLine) -> dict[str, Any]:
        job_id = line.job_id(ref.bucket, ref.key)
        request = line.request
        item: dict[str, Any] = {
            "job_id": job_id,
            "bucket": ref.bucket,
            "key": ref.key,
            # The file's version that first asked for it; the same request dropped again is the same job.
            "version_id": version,
            "line": line.number,
        }
        if request is None:
            item.update(request={"line": line.number}, request_problem=line.problem, title=f"line {line.number}")
        else:
            live = request.type == "live"
            item.update(
                request={
                    "type": request.type,
                    "url": request.url,
                    "line": line.number,
                    "demo": request.demo,
                    **({"max_seconds": request.max_seconds or self._config.live_max_seconds} if live else {}),
                },
                title=request.title,
                dr_title=dr_title(request.title, job_id),
                service=request.service or self._config.default_service,
                method="live" if live else "url",
            )
        item["version_report_key"] = own_report_key(self._config.results_prefix, item)
        return item

    def _write_summary(self, ref: S3ObjectRef, version: str | None, entries: list[dict[str, Any]]) -> None:
        """results/<file key>.json: which job each request of the file became, and where its report will be."""
        summary = {
            "report_version": REPORT_VERSION,
            "type": "doverunner.request-file",
            "input": {"bucket": ref.bucket, "key": ref.key, "version_id": version},
            "requests": entries,
            "counts": {
                action: sum(e["action"] == action for e in entries) for action in {e["action"] for e in entries}
            },
            "written_at": now_iso(),
        }
        self._objects.put_json(ref.bucket, report_key(self._config.results_prefix, ref.key), summary)

    # ---- steps ------------------------------------------------------------------------------------------------

    def _head(self, ref: S3ObjectRef) -> dict[str, Any]:
        return self._objects.head(ref.bucket, ref.key, ref.version_id)

    def _job_item(self, job_id: str, ref: S3ObjectRef, head: dict[str, Any]) -> dict[str, Any]:
        metadata = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
        name = PurePosixPath(ref.key).name
        # S3 metadata is ASCII: a non-ASCII title is given percent-encoded (UTF-8).
        title = unquote(metadata.get("title", "")).strip() or name
        size = int(head.get("ContentLength", 0))
        item = {
            "job_id": job_id,
            "bucket": ref.bucket,
            "key": ref.key,
            "version_id": head.get("VersionId") or ref.version_id,
            "etag": str(head.get("ETag", ref.etag)).strip('"'),
            "size": size,
            "title": title,
            "dr_title": dr_title(title, job_id),
            "service": self._service(ref.key, metadata),
            "method": self._method(size),
            "extension": file_extension(name),
            # An operator who wants a video tried whatever its metadata says: metadata preflight=warn or off.
            **({"preflight_policy": metadata["preflight"]} if metadata.get("preflight") else {}),
            # Orders the key's versions: the newest one's report is the key's current report (services/report.py).
            **({"sequencer": ref.sequencer} if ref.sequencer else {}),
        }
        # Where this version's report goes: also where the state machine writes its last-resort report.
        item["version_report_key"] = own_report_key(self._config.results_prefix, item)
        return item

    def _service(self, key: str, metadata: dict[str, str]) -> str:
        """Metadata `service`, else the folder under the inbox prefix (inbox/dwm/...), else the default."""
        for candidate in (metadata.get("service", ""), self._folder(key)):
            try:
                if candidate:
                    return service_code(candidate)
            except ValueError:
                continue
        return self._config.default_service

    def _folder(self, key: str) -> str:
        rest = key.removeprefix(self._config.inbox_prefix)
        return rest.split("/", 1)[0] if "/" in rest else ""

    def _method(self, size: int) -> str:
        if self._config.force_url_detection or size > self._config.url_detection_threshold:
            return "url"
        return "upload"

    def _refusal(self, item: dict[str, Any]) -> str:
        """A reason DoveRunner would refuse the object, known before calling it; empty if none."""
        problem = key_problem(item["key"], self._config.results_prefix)
        if problem:
            metrics.add_metric(name="KeysRejected", unit="Count", value=1)
            return problem
        if item.get("request"):
            return str(item.get("request_problem") or "")
        try:
            policy_of(str(item.get("preflight_policy") or ""), self._config.preflight)
        except ValueError as exc:
            return f"the object's metadata preflight: {exc}"
        if item["extension"] not in SUPPORTED_EXTENSIONS:
            shown = f".{item['extension']}" if item["extension"] else "no extension"
            reason = f"unsupported file type ({shown}): DoveRunner detects only .mp4, .mkv and .mov files (A4023, D010)"
            if item["extension"] in ("m3u8", "json", "jsonl"):
                reason += f"; for a live stream or a video URL, drop a request under {self._config.requests_prefix!r}"
            return reason
        if item["size"] == 0:
            return "the object is empty (0 bytes): there is no video to detect"
        if not item["key"].startswith(self._config.inbox_prefix):
            return f"the object is outside the inbox prefix {self._config.inbox_prefix!r}"
        return ""

    def _reject_new(self, job_id: str, ref: S3ObjectRef, head: dict[str, Any], reason: str) -> SubmitResult:
        try:
            job = self._jobs.create(self._job_item(job_id, ref, head))
        except JobExists as exists:
            return self._again(exists.job)
        return self._reject(job, reason)

    def _reject(self, job: dict[str, Any], reason: str) -> SubmitResult:
        # The operator finds the refusal where a report would be, not only in the jobs table (a key that cannot
        # name a report: results/rejected/<job id>.json).
        report: dict[str, Any] | None = None
        if job.get("key", "").startswith(self._config.inbox_prefix):
            report = self._reports.write(job, JobState.REJECTED, reason)
        self._jobs.update(
            job["job_id"],
            {
                "state": JobState.REJECTED.value,
                "job_outcome": JobOutcome.REJECTED.value,
                "reason": reason,
                "finished_at": now_iso(),
                "report_key": report["report_key"] if report else "",
            },
            expect=(JobState.RECEIVED,),
        )
        logger.warning("rejected before any DoveRunner call", extra={"reason": reason})
        if report is not None:
            self._publish(job, JobState.REJECTED, report)
        else:
            metrics.add_metric(name="JobsRejected", unit="Count", value=1)
        return SubmitResult(job["job_id"], JobState.REJECTED.value, "rejected", reason)

    # ---- pre-flight (domain/preflight.py) ------------------------------------------------------------------

    def _checked_send(self, job: dict[str, Any]) -> SubmitResult:
        """Sends the job unless its video's metadata says DoveRunner cannot read it (the pre-flight policy)."""
        check = self._preflight(job)
        fields: dict[str, Any] = {"preflight": check.record()}
        if check.media is not None:
            fields["media"] = check.media
        try:
            job = self._jobs.update(job["job_id"], fields, expect=(JobState.RECEIVED,))
        except StateConflict:
            # A concurrent delivery claimed it first.
            return SubmitResult(job["job_id"], JobState.SUBMITTING.value, "duplicate")
        if check.rejects:
            metrics.add_metric(name="VideosRejectedBeforeDetection", unit="Count", value=1)
            return self._reject(job, check.reason)
        if check.verdict is Verdict.WARNED:
            logger.warning("pre-flight: submitted anyway", extra={"problems": check.problems})
        return self._send(job)

    def _preflight(self, job: dict[str, Any]) -> Preflight:
        policy = policy_of(str(job.get("preflight_policy") or ""), self._config.preflight)
        if policy is Policy.OFF:
            return Preflight(policy, Verdict.OFF)
        request = job.get("request") or {}
        read: Callable[[int, int], bytes]
        if request.get("type") == "live":
            return Preflight(policy, Verdict.UNCHECKED, note="a live stream is not checked before it is watched")
        if request:
            if self._remote_media is None:
                return Preflight(policy, Verdict.UNCHECKED, note="URLs are not read before DoveRunner fetches them")
            try:
                read, size = self._remote_media.open(str(request["url"]))
            except Unchecked as exc:
                return Preflight(policy, Verdict.UNCHECKED, note=f"not checked: {exc}")
        else:
            bucket, key, version = job["bucket"], job["key"], job.get("version_id")

            def read(offset: int, length: int) -> bytes:
                return self._objects.read_range(bucket, key, version, offset, length)

            size = int(job["size"])
        measured: MediaInfo | NotAVideo | Unreadable
        try:
            measured = probe(read, size, budget=read_budget(size))
        except (NotAVideo, Unreadable) as exc:
            measured = exc
        return judge(measured, policy)

    def _publish(self, job: dict[str, Any], state: JobState, report: dict[str, Any]) -> None:
        """The result message of a job the submit function ends (or holds); counted as the reporter counts."""
        try:
            publish_result(job, state, report, self._results)
        except Exception:  # the report and the job's state are written: a lost message must not undo them
            logger.exception("publishing the result failed")
            metrics.add_metric(name="ResultsNotPublished", unit="Count", value=1)

    def _again(self, job: dict[str, Any]) -> SubmitResult:
        """A repeated delivery of an object version already seen."""
        state = JobState(job["state"])
        job_id = job["job_id"]
        if state is JobState.RECEIVED:
            # The previous delivery stopped before claiming the job; carry on from there.
            reason = self._refusal(job)
            return self._reject(job, reason) if reason else self._checked_send(job)
        if state is JobState.SUBMITTING:
            return self._recover(job)
        if state is JobState.SUBMITTED:
            self._start_tracking(job)
        if state is JobState.HELD:
            # It is sent when submissions resume, not because the object came again.
            return SubmitResult(job_id, state.value, "held", str(job.get("reason") or ""))
        metrics.add_metric(name="DuplicateDeliveries", unit="Count", value=1)
        logger.info("repeated delivery: nothing sent again", extra={"state": state.value})
        return SubmitResult(job_id, state.value if state in FINAL_STATES else JobState.TRACKING.value, "duplicate")

    def _recover(self, job: dict[str, Any]) -> SubmitResult:
        """The previous delivery died after claiming the job: adopt its detection if DoveRunner has one."""
        client = self._client(job["job_id"])
        page = client.list_detections(keyword=job["dr_title"], condition="title", service=job["service"])
        found = next((d for d in page.items if d.title == job["dr_title"]), None)
        if found is not None:
            logger.warning(
                "adopting the detection of an interrupted submission", extra={"detection_id": found.detection_id}
            )
            job = self._jobs.update(
                job["job_id"],
                {"state": JobState.SUBMITTED.value, "detection_id": found.detection_id, "submitted_at": now_iso()},
                expect=(JobState.SUBMITTING,),
            )
            self._start_tracking(job)
            return SubmitResult(job["job_id"], JobState.TRACKING.value, "adopted", str(found.detection_id))
        begun = str(job.get("submitting_at") or "")
        if job["method"] == "upload" and begun and seconds_since(begun) < self._config.find_upload_seconds:
            # The interrupted upload may still register: tracking looks for it, and has it uploaded again if not.
            logger.warning("interrupted upload: tracked unconfirmed until its detection appears or time is up")
            detail = {"upload_confirmed": False, "submitted_at": begun, "uploads": uploads_of(job) + 1}
            return self._submitted(job, None, detail)
        logger.warning("interrupted submission left no detection: sending it")
        return self._call_doverunner(job, client)

    # ---- tracking's request to upload again -------------------------------------------------------------------

    def resubmit(self, request: ResubmitRequest) -> SubmitResult:
        """Uploads a job's file again: its last upload failed after its last byte and no detection appeared in
        time (services/track.py). A job that moved on since the request (found, ended, uploaded again) is left."""
        job_id = request.job_id
        logger.append_keys(job_id=job_id)
        job = self._jobs.get(job_id)
        if job is None:
            raise ValueError(f"resubmit request for an unknown job {job_id}")
        state = JobState(job["state"])
        if state in FINAL_STATES or job.get("detection_id"):
            return SubmitResult(job_id, state.value, "duplicate", "the job has its detection or has ended")
        if state is JobState.RECEIVED:
            return self._woken(self._send(job))
        if state is JobState.SUBMITTING:
            return self._woken(self._recover(job))
        if uploads_of(job) != request.uploads:
            return SubmitResult(job_id, state.value, "duplicate", "already uploaded again")
        client = self._client(job_id)
        try:
            job = self._jobs.update(
                job_id,
                {"state": JobState.SUBMITTING.value, "submitting_at": now_iso()},
                expect=(JobState.SUBMITTED, JobState.TRACKING),
                match={"uploads": request.uploads},
            )
        except StateConflict:
            return SubmitResult(job_id, state.value, "duplicate", "already uploaded again")
        logger.warning(
            "uploading again: the last upload's detection never appeared", extra={"uploads": request.uploads}
        )
        metrics.add_metric(name="UploadsRepeated", unit="Count", value=1)
        return self._woken(self._call_doverunner(job, client))

    # ---- a held or refused job sent again ------------------------------------------------------------------

    def retry(self, request: RetryRequest) -> SubmitResult:
        """Sends a held job, or one DoveRunner refused, again (services/holds.py). The claim is conditional, so a job
        is sent once however many retry requests come; one already on its way or ended otherwise is left."""
        job_id = request.job_id
        logger.append_keys(job_id=job_id)
        job = self._jobs.get(job_id)
        if job is None:
            raise ValueError(f"retry request for an unknown job {job_id}")
        state = JobState(job["state"])
        reopen = {
            "state": JobState.RECEIVED.value,
            "retried_by": request.requested_by,
            "retried_at": now_iso(),
            "retries": int(job.get("retries") or 0) + 1,
            **dict.fromkeys(("hold", "reason", "error", "finished_at", "job_outcome", "refused_by_doverunner")),
        }
        credentials = (job.get("hold") or {}).get("kind") == HoldKind.CREDENTIALS.value
        try:
            if retryable(job):
                # A refused job is reopened only while it still is one (the claim's condition).
                refused = {"refused_by_doverunner": True} if state is JobState.FAILED else None
                job = self._jobs.update(job_id, reopen, expect=(state,), match=refused)
            elif state is JobState.RECEIVED:
                pass  # a retry that stopped after reopening the job: carry on
            elif state is JobState.SUBMITTING:
                return self._recover(job)
            else:
                return SubmitResult(job_id, state.value, "duplicate", "the job is not held: nothing sent again")
        except StateConflict:
            return SubmitResult(job_id, state.value, "duplicate", "another retry request took the job first")
        logger.info("sending a held job again", extra={"requested_by": request.requested_by})
        # Held for its credentials: the secret was fixed since, so it is read afresh, not from the cache.
        return self._send(job, fresh=credentials)

    def _woken(self, result: SubmitResult) -> SubmitResult:
        """The job's execution, waiting for its next check, checks now: the new upload's detection is listed."""
        if result.action in ("submitted", "adopted"):
            Waker(self._jobs, self._executions).wake(result.job_id)
        return result

    def _client(self, job_id: str) -> DetectionApi:
        """The client, before anything is claimed: missing credentials leave the job as it is, with the reason."""
        try:
            return self._client_factory()
        except ConfigurationError as exc:
            self._jobs.update(job_id, {"last_error": str(exc)})
            raise RetryLater(str(exc)) from exc

    def _send(self, job: dict[str, Any], *, fresh: bool = False) -> SubmitResult:
        pause = self._holds.current()
        if pause is not None:
            return self._hold(
                job,
                JobState.RECEIVED,
                HoldKind(str(pause["kind"])),
                str(pause.get("code") or ""),
                f"submissions are paused since {pause.get('since')}: {pause.get('reason')}",
            )
        try:
            client = self._client_factory(fresh=True) if fresh else self._client_factory()
        except ConfigurationError as exc:
            # The secret is not filled as it must be: every job would fail the same way until it is fixed.
            return self._hold(job, JobState.RECEIVED, HoldKind.CREDENTIALS, "", str(exc), pause_all=True)
        try:
            job = self._jobs.update(
                job["job_id"],
                {"state": JobState.SUBMITTING.value, "submitting_at": now_iso()},
                expect=(JobState.RECEIVED,),
            )
        except StateConflict:
            # A concurrent delivery claimed it first.
            return SubmitResult(job["job_id"], JobState.SUBMITTING.value, "duplicate")
        return self._call_doverunner(job, client)

    def _call_doverunner(self, job: dict[str, Any], client: DetectionApi) -> SubmitResult:
        job_id = job["job_id"]
        try:
            detection_id, detail = self._request(job, client)
        except DoveRunnerApiError as exc:
            kind = hold_kind(exc.code)
            if kind is not None:
                reason = f"DoveRunner refused the site's {kind.value}: {exc.code} {exc.description}"
                if not job.get("execution_arn"):
                    return self._hold(
                        job, JobState.SUBMITTING, kind, exc.code, reason, error=exc.as_dict(), pause_all=True
                    )
                # An upload made again for a tracked job: its execution reports the refusal (it can be retried).
                self._holds.pause(kind, exc.code, reason, job_id)
            if exc.retryable:
                self._release(job_id, str(exc))
                raise RetryLater(str(exc)) from exc
            return self._fail(job_id, exc.as_dict(), f"DoveRunner refused the request: {exc.code} {exc.description}")
        except TransportError as exc:
            if exc.maybe_processed:
                # Stay SUBMITTING: the next delivery looks for the detection before sending anything.
                self._jobs.update(job_id, {"last_error": str(exc)})
                raise RetryLater(str(exc)) from exc
            self._release(job_id, str(exc))
            raise RetryLater(str(exc)) from exc
        return self._submitted(job, detection_id, detail)

    def _submitted(self, job: dict[str, Any], detection_id: int | None, detail: dict[str, Any]) -> SubmitResult:
        job_id = job["job_id"]
        job = self._jobs.update(
            job_id,
            {"state": JobState.SUBMITTED.value, "detection_id": detection_id, "submitted_at": now_iso(), **detail},
            expect=(JobState.SUBMITTING,),
        )
        metrics.add_metric(name="JobsSubmitted", unit="Count", value=1)
        self._start_tracking(job)
        return SubmitResult(job_id, JobState.TRACKING.value, "submitted", job["method"])

    def _request(self, job: dict[str, Any], client: DetectionApi) -> tuple[int | None, dict[str, Any]]:
        request = job.get("request")
        if request:
            demo = bool(request.get("demo"))
            if job["method"] == "live":
                return client.detect_live(job["dr_title"], request["url"], demo=demo, service=job["service"]), {}
            return client.detect_url(job["dr_title"], request["url"], demo=demo, service=job["service"]), {}
        if job["method"] == "url":
            url = self._objects.presigned_get(
                job["bucket"], job["key"], job.get("version_id"), self._config.presigned_url_seconds
            )
            return client.detect_url(job["dr_title"], url, service=job["service"]), {}
        hasher = _Sha256()

        def open_object() -> IO[bytes]:
            hasher.reset()
            body = self._objects.open(job["bucket"], job["key"], job.get("version_id"))
            return cast(IO[bytes], _HashingReader(body, hasher))

        receipt = client.detect_upload(
            open_object,
            int(job["size"]),
            title=job["dr_title"],
            extension=job["extension"],
            service=job["service"],
            make_unique=False,
            find=False,
        )
        metrics.add_metric(name="UploadedBytes", unit="Bytes", value=int(job["size"]))
        confirmed = receipt.complete is True
        if not confirmed:
            logger.warning("the upload's connection failed after its last byte: tracked unconfirmed")
            metrics.add_metric(name="UploadsUnconfirmed", unit="Count", value=1)
        # Every byte was read (and hashed) whether or not DoveRunner's answer arrived.
        return None, {
            "upload_completed_at": now_iso(),
            "sha256": hasher.hexdigest(),
            "upload_confirmed": confirmed,
            "uploads": uploads_of(job) + 1,
        }

    def _release(self, job_id: str, error: str) -> None:
        """Nothing reached DoveRunner: back to RECEIVED so the next delivery sends it."""
        self._jobs.update(
            job_id, {"state": JobState.RECEIVED.value, "last_error": error}, expect=(JobState.SUBMITTING,)
        )

    def _fail(self, job_id: str, error: dict[str, Any], reason: str) -> SubmitResult:
        """DoveRunner refused the request: the job ends FAILED (outcome REFUSED), with its report."""
        job = self._jobs.update(
            job_id,
            {
                "state": JobState.FAILED.value,
                "reason": reason,
                "error": error,
                "refused_by_doverunner": True,
                "job_outcome": JobOutcome.REFUSED.value,
                "finished_at": now_iso(),
            },
            expect=(JobState.SUBMITTING,),
        )
        # The operator finds the refusal where a report would be, not only in the jobs table; the alarm watches it.
        report = self._reports.write(job, JobState.FAILED, reason)
        self._jobs.update(job_id, {"report_key": report["report_key"]})
        metrics.add_metric(name=METRIC_JOBS_REFUSED, unit="Count", value=1)
        logger.error("DoveRunner refused the detection request", extra={"error_code": error.get("error_code")})
        self._publish(job, JobState.FAILED, report)
        return SubmitResult(job_id, JobState.FAILED.value, "failed", reason)

    def _hold(
        self,
        job: dict[str, Any],
        expect: JobState,
        kind: HoldKind,
        code: str,
        reason: str,
        *,
        error: dict[str, Any] | None = None,
        pause_all: bool = False,
    ) -> SubmitResult:
        """Holds the job (nothing reached DoveRunner, or DoveRunner refused it for the site's quota or credentials):
        its report and result say HELD and why; with `pause_all`, submissions pause for every job after it."""
        job_id = job["job_id"]
        if pause_all:
            self._holds.pause(kind, code, reason, job_id)
        fields = {
            "state": JobState.HELD.value,
            "job_outcome": JobOutcome.HELD.value,
            "hold": {"kind": kind.value, "code": code, "since": now_iso()},
            "reason": reason,
            "error": error,
        }
        # The report first: a held job found again (a repeated delivery) is left as it is, so it must have it.
        report = self._reports.write({**job, **fields}, JobState.HELD, reason)
        job = self._jobs.update(job_id, {**fields, "report_key": report["report_key"]}, expect=(expect,))
        logger.warning("job held: submissions are paused", extra={"kind": kind.value, "error_code": code})
        self._publish(job, JobState.HELD, report)
        return SubmitResult(job_id, JobState.HELD.value, "held", reason)

    def _start_tracking(self, job: dict[str, Any]) -> None:
        """One execution per job: its name is the job id, so a repeated start is refused."""
        job_id = job["job_id"]
        check = {"attempt": 0, "detection_id": job.get("detection_id")}
        # A job sent again after its execution ended (a refused upload retried) needs a new execution name.
        retries = int(job.get("retries") or 0)
        name = f"{job_id}-retry-{retries}" if retries and job.get("execution_arn") else job_id
        arn = self._executions.start(name, {"job_id": job_id, "check": check})
        # A StateConflict means the execution already moved the job on.
        with contextlib.suppress(StateConflict):
            self._jobs.update(
                job_id, {"state": JobState.TRACKING.value, "execution_arn": arn}, expect=(JobState.SUBMITTED,)
            )


class _Sha256:
    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def reset(self) -> None:
        self._hash = hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class _HashingReader:
    """Passes an S3 body through, hashing what is read: the report's checksum costs no second read."""

    def __init__(self, body: Any, hasher: _Sha256) -> None:
        self._body = body
        self._hasher = hasher

    def read(self, amount: int = -1) -> bytes:
        chunk: bytes = self._body.read(amount) if amount is not None and amount >= 0 else self._body.read()
        self._hasher.update(chunk)
        return chunk

    def seekable(self) -> bool:
        return False
