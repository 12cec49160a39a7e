"""In-memory stand-ins for the ports (antipiracy.ports) and for the DoveRunner client, for the fast unit tier.

Each fake copies the observable behaviour of one real implementation, named in its docstring, and nothing more;
none opens a socket or starts a server. tests/integration/test_port_contracts.py runs the same checks against
MemoryJobs and MemoryLedger and against the real tables over the local AWS, so the fakes stay faithful.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from antipiracy.adapters.dynamodb import dynamo, plain
from antipiracy.adapters.ledger_table import MAX_MESSAGES_KEPT
from antipiracy.adapters.messaging import MAX_REASON_CHARS
from antipiracy.domain.jobs import FINAL_STATES, JobExists, JobState, StateConflict, now_iso
from antipiracy.domain.notifications import StatusNotification
from antipiracy.domain.reports import ReportConflict
from antipiracy.domain.requests import S3ObjectRef
from antipiracy.domain.revocations import NoRoom, RevocationState, epoch, removals
from antipiracy.domain.waf_rules import url_safe
from doverunner import (
    DEFAULT_SERVICE,
    ClientConfig,
    Detection,
    DetectionNotFoundError,
    DetectionPage,
    DoveRunnerApiError,
    Notification,
    TokenVerification,
    TransportError,
    UploadReceipt,
    service_code,
    unique_title,
)

# ---- DynamoDB tables ----------------------------------------------------------------------------------------------


def _stored(value: Any) -> Any:
    """A value as the tables' adapters write it and read it back: maps lose their None values, floats that are whole
    come back as ints, sets as sorted lists (adapters/dynamodb.py). Always a fresh copy."""
    return plain(dynamo(value))


class MemoryJobs:
    """The jobs table (adapters/jobs_table.JobsTable) in a dict, write for write:

    - create: the item plus state RECEIVED, created_at and updated_at (the same stamp); JobExists with the stored
      job when the id is taken. It returns the record as built (None values included); the stored job lost them.
    - update: sets the fields and updated_at, appends `history`; StateConflict unless the job exists, is in one of
      the `expect`ed states (if any), holds every `match` value and has none of the `absent` fields. A top-level
      None removes the field (no NULL is written); None values inside maps are dropped. Returns the new job.
    - begin_check removes wake_requested_at and wake_token (KeyError for an unknown job); keep_wake_token and
      request_wake make the table's conditional writes (see their docstrings there).
    - find_by_detection reads the `by-detection-id` index: only jobs whose detection_id is a number are in it;
      with_state the `by-state` index, oldest first.
    - the pause of submissions is one record, put only where there is none, deleted returning what it held.
    """

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.pause: dict[str, Any] | None = None  # the control item: submissions paused

    def create(self, item: dict[str, Any]) -> dict[str, Any]:
        stamp = now_iso()
        record = {**item, "state": JobState.RECEIVED.value, "created_at": stamp, "updated_at": stamp}
        existing = self.items.get(item["job_id"])
        if existing is not None:
            raise JobExists(copy.deepcopy(existing))
        self.items[item["job_id"]] = _stored(record)
        return record

    def get(self, job_id: str) -> dict[str, Any] | None:
        item = self.items.get(job_id)
        return copy.deepcopy(item) if item is not None else None

    def require(self, job_id: str) -> dict[str, Any]:
        job = self.get(job_id)
        if job is None:
            raise KeyError(f"no job {job_id}")
        return job

    def find_by_detection(self, detection_id: int) -> dict[str, Any] | None:
        for item in self.items.values():
            stored = item.get("detection_id")
            if isinstance(stored, int) and not isinstance(stored, bool) and stored == detection_id:
                return copy.deepcopy(item)
        return None

    def update(
        self,
        job_id: str,
        fields: dict[str, Any],
        *,
        expect: tuple[JobState, ...] = (),
        history: dict[str, Any] | None = None,
        match: dict[str, Any] | None = None,
        absent: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        values = {**fields, "updated_at": now_iso()}
        job = self.items.get(job_id)
        holds = job is not None and (not expect or job.get("state") in {state.value for state in expect})
        for name, value in (match or {}).items():
            holds = holds and job is not None and name in job and job[name] == _stored(value)
        holds = holds and job is not None and not any(name in job for name in absent)
        if job is None or not holds:
            wanted = [state.value for state in expect] or "the table"
            raise StateConflict(f"job {job_id} is not in {wanted}" + (f" with {match}" if match else ""))
        for name, value in values.items():
            if value is None:
                job.pop(name, None)
            else:
                job[name] = _stored(value)
        if history is not None:
            job["history"] = [*job.get("history", []), _stored(history)]
        return copy.deepcopy(job)

    def begin_check(self, job_id: str) -> dict[str, Any]:
        job = self.items.get(job_id)
        if job is None:
            raise KeyError(f"no job {job_id}")
        job.pop("wake_requested_at", None)
        job.pop("wake_token", None)
        return copy.deepcopy(job)

    def keep_wake_token(self, job_id: str, token: str, attempt: int) -> bool:
        job = self.items.get(job_id)
        if job is None or "wake_requested_at" in job:
            return False
        if "wake_attempt" in job and job["wake_attempt"] > attempt:
            return False
        job["wake_token"] = token
        job["wake_attempt"] = attempt
        return True

    def request_wake(self, job_id: str) -> tuple[bool, str | None]:
        job = self.items.get(job_id)
        if job is None or job.get("state") in {state.value for state in FINAL_STATES}:
            return False, None
        token = job.pop("wake_token", None)
        job["wake_requested_at"] = now_iso()
        return True, str(token) if token else None

    def with_state(self, state: JobState) -> list[dict[str, Any]]:
        found = [job for job in self.items.values() if job.get("state") == state.value]
        return [copy.deepcopy(job) for job in sorted(found, key=lambda job: str(job.get("created_at")))]

    def submission_pause(self) -> dict[str, Any] | None:
        return copy.deepcopy(self.pause) if self.pause is not None else None

    def pause_submissions(self, record: dict[str, Any]) -> bool:
        if self.pause is not None:
            return False
        self.pause = _stored(record)
        return True

    def resume_submissions(self) -> dict[str, Any] | None:
        lifted, self.pause = self.pause, None
        return lifted


class MemoryLedger:
    """The revocation ledger (adapters/ledger_table.LedgerTable) in a dict keyed by the URL-safe token:

    - record upserts: sets state, original_token (as given), updated_at and `fields`; adds the note's detection id
      and `job_id` to the sets detection_ids and job_ids (read back as sorted lists); sets forensic_mark when the
      note has one; appends `message` (first 4096 characters) to messages; removes `remove`, and ttl_epoch when the
      state is BLOCKED. It returns the item as written, past MAX_MESSAGES_KEPT messages keeping the first and the
      latest ones.
    - expired(now): the BLOCKED items whose expires_epoch is at or before `now`, earliest first (the by-state-expiry
      index; an item without expires_epoch is not in it). all(): every item, by updated_at.
    """

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def get(self, token: str) -> dict[str, Any] | None:
        item = self.items.get(url_safe(token))
        return copy.deepcopy(item) if item is not None else None

    def record(
        self,
        token: str,
        state: RevocationState,
        *,
        note: StatusNotification | None = None,
        message: str | None = None,
        job_id: str | None = None,
        fields: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        key = url_safe(token)
        item = self.items.setdefault(key, {"token": key})
        item.update({"state": state.value, "original_token": token, "updated_at": now_iso(), **(fields or {})})
        if note is not None and note.detection_id is not None:
            item["detection_ids"] = sorted({*item.get("detection_ids", []), note.detection_id})
        if note is not None and note.forensic_mark:
            item["forensic_mark"] = note.forensic_mark
        if job_id:
            item["job_ids"] = sorted({*item.get("job_ids", []), job_id})
        if message is not None:
            item["messages"] = [*item.get("messages", []), {"at": now_iso(), "message": message[:4096]}]
        for name in removals(state, fields, remove):
            item.pop(name, None)
        messages = item.get("messages") or []
        if len(messages) > MAX_MESSAGES_KEPT:
            item["messages"] = [messages[0], *messages[-(MAX_MESSAGES_KEPT - 1) :]]
        return copy.deepcopy(item)

    def expired(self, now: datetime) -> list[dict[str, Any]]:
        due = [
            item
            for item in self.items.values()
            if item.get("state") == RevocationState.BLOCKED.value
            and isinstance(item.get("expires_epoch"), int)
            and item["expires_epoch"] <= epoch(now)
        ]
        return [copy.deepcopy(item) for item in sorted(due, key=lambda item: int(item["expires_epoch"]))]

    def all(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(item) for item in sorted(self.items.values(), key=lambda i: str(i.get("updated_at", "")))]


# ---- S3, Step Functions, SNS, SQS ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredObject:
    body: bytes
    version_id: str
    metadata: Mapping[str, str]
    content_type: str = "binary/octet-stream"

    @property
    def etag(self) -> str:
        return hashlib.md5(self.body, usedforsecurity=False).hexdigest()


class MemoryObjects:
    """A versioned bucket (adapters/s3_objects.S3Objects over S3 with versioning on):

    - head: HeadObject's answer (ContentLength, quoted ETag, VersionId, Metadata with lower-case names as S3 gives
      them, ContentType) of the version asked for, or of the latest one; FileNotFoundError(key) when that version is
      gone, or when the latest is a delete marker.
    - open: the version's bytes as a stream; presigned_get: a URL naming bucket, key, version and lifetime (not a
      real signature); put_json: the document as S3Objects serialises it, stored as a new object version too; with
      `if_match` (a quoted ETag) only over that latest version, with `if_absent` only where there is none, else
      ReportConflict. get_json: the latest version's document and quoted ETag, None without one.
    """

    def __init__(self) -> None:
        self.versions: dict[tuple[str, str], list[StoredObject | None]] = {}  # None: a delete marker
        self.documents: dict[tuple[str, str], Any] = {}
        self.opened: list[tuple[str, str, str | None]] = []
        self.presigned: list[tuple[str, str, str | None, int]] = []
        self.ranges: list[tuple[str, int, int]] = []  # ranged reads: key, offset, length
        # Runs once, just before the next conditional put is checked: another writer getting there in between.
        self.before_conditional_put: Callable[[], object] | None = None
        self._counter = 0

    def add(
        self, bucket: str, key: str, body: bytes, *, metadata: Mapping[str, str] | None = None, content_type: str = ""
    ) -> S3ObjectRef:
        """Puts a new version (what a PUT does); the reference an S3 event names it by."""
        self._counter += 1
        stored = StoredObject(
            body,
            f"v{self._counter:04d}",
            {name.lower(): value for name, value in (metadata or {}).items()},
            content_type or "binary/octet-stream",
        )
        self.versions.setdefault((bucket, key), []).append(stored)
        return S3ObjectRef(bucket, key, stored.version_id, stored.etag, f"{self._counter:018X}")

    def delete(self, bucket: str, key: str, version_id: str | None = None) -> None:
        """Without a version: a delete marker (the versions stay). With one: that version is deleted for good."""
        versions = self.versions.setdefault((bucket, key), [])
        if version_id is None:
            versions.append(None)
        else:
            versions[:] = [v for v in versions if v is None or v.version_id != version_id]

    def _find(self, bucket: str, key: str, version_id: str | None) -> StoredObject:
        versions = self.versions.get((bucket, key), [])
        if version_id is None:
            latest = versions[-1] if versions else None
            if latest is None:
                raise FileNotFoundError(key)
            return latest
        for version in versions:
            if version is not None and version.version_id == version_id:
                return version
        raise FileNotFoundError(key)

    def head(self, bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
        found = self._find(bucket, key, version_id)
        return {
            "ContentLength": len(found.body),
            "ETag": f'"{found.etag}"',
            "VersionId": found.version_id,
            "Metadata": dict(found.metadata),
            "ContentType": found.content_type,
        }

    def open(self, bucket: str, key: str, version_id: str | None) -> IO[bytes]:
        found = self._find(bucket, key, version_id)
        self.opened.append((bucket, key, version_id))
        return io.BytesIO(found.body)

    def read_range(self, bucket: str, key: str, version_id: str | None, offset: int, length: int) -> bytes:
        found = self._find(bucket, key, version_id)
        self.ranges.append((key, offset, length))
        return found.body[offset : offset + max(0, length)]

    def presigned_get(self, bucket: str, key: str, version_id: str | None, seconds: int) -> str:
        self.presigned.append((bucket, key, version_id, seconds))
        version = f"versionId={version_id}&" if version_id else ""
        return f"https://{bucket}.s3.amazonaws.com/{quote(key)}?{version}X-Amz-Expires={seconds}&X-Amz-Signature=fake"

    def put_json(
        self,
        bucket: str,
        key: str,
        document: Mapping[str, Any],
        *,
        if_match: str | None = None,
        if_absent: bool = False,
    ) -> None:
        if if_match is not None or if_absent:
            if self.before_conditional_put is not None:
                hook, self.before_conditional_put = self.before_conditional_put, None
                hook()
            latest = self._latest(bucket, key)
            if if_match is not None and (latest is None or f'"{latest.etag}"' != if_match):
                raise ReportConflict(f"{key}: If-Match {if_match}")
            if if_match is None and latest is not None:
                raise ReportConflict(f"{key}: If-None-Match *")
        body = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
        self.documents[(bucket, key)] = json.loads(body)
        self.add(bucket, key, body, content_type="application/json; charset=utf-8")

    def get_json(self, bucket: str, key: str) -> tuple[Any, str] | None:
        latest = self._latest(bucket, key)
        if latest is None:
            return None
        try:
            return json.loads(latest.body), f'"{latest.etag}"'
        except ValueError:
            return None, f'"{latest.etag}"'

    def _latest(self, bucket: str, key: str) -> StoredObject | None:
        versions = self.versions.get((bucket, key), [])
        return versions[-1] if versions else None

    def document(self, bucket: str, key: str) -> Any:
        """The last JSON document put at that key; KeyError if none was."""
        return self.documents[(bucket, key)]


class MemoryExecutions:
    """The tracking state machine (adapters/step_functions.StepFunctionsExecutions): `start` starts one execution
    per name, keeping the first input (a repeated start is refused by Step Functions and answered with the ARN built
    from the name); `wake` sends task success for a token: True, or `wakes_succeed` False as for a token whose wait
    is over; `complete` is a task ending itself with its output (kept in `completed`, by token)."""

    STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:tracking"

    def __init__(self, *, wakes_succeed: bool = True) -> None:
        self.started: dict[str, dict[str, Any]] = {}
        self.start_calls: list[str] = []
        self.woken: list[tuple[str, str]] = []  # (task token, job id)
        self.wakes_succeed = wakes_succeed
        self.completed: dict[str, dict[str, Any]] = {}

    def arn_of(self, name: str) -> str:
        return f"{self.STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:{name}"

    def start(self, name: str, payload: Mapping[str, Any]) -> str:
        self.start_calls.append(name)
        self.started.setdefault(name, json.loads(json.dumps(dict(payload))))
        return self.arn_of(name)

    def wake(self, token: str, *, job_id: str) -> bool:
        self.woken.append((token, job_id))
        return self.wakes_succeed

    def complete(self, token: str, output: Mapping[str, Any]) -> None:
        if token in self.completed:
            raise ValueError(f"task token {token} was completed already")
        self.completed[token] = json.loads(json.dumps(dict(output), default=str))


class MemoryResultsTopic:
    """The results topic (adapters/messaging.SnsResultsTopic): each message as the JSON SNS would carry, with its
    attributes; `fail_with` is raised instead, as a publish refused by SNS."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.published: list[tuple[dict[str, Any], dict[str, str]]] = []
        self.fail_with = fail_with

    def publish(self, message: Mapping[str, Any], attributes: Mapping[str, str]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.published.append((json.loads(json.dumps(dict(message), ensure_ascii=False)), dict(attributes)))


class MemoryDeadLetters:
    """The dead-letter queue (adapters/messaging.SqsDeadLetters): the body as it came, the reason cut as sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, body: str, reason: str) -> None:
        self.sent.append((body, reason[:MAX_REASON_CHARS]))


@dataclass
class MemoryBlocker:
    """The WAF engine (adapters/waf_blocker.SessionBlocker, tested on its own): a set of URL-safe tokens with a
    capacity; a block that would go past it blocks nothing and raises NoRoom, as CapacityExceeded does."""

    capacity: int = 100
    blocked: set[str] = field(default_factory=set)
    calls: list[tuple[str, list[str]]] = field(default_factory=list)

    def block(self, tokens: list[str]) -> object:
        self.calls.append(("block", list(tokens)))
        new = {url_safe(t) for t in tokens} - self.blocked
        if len(self.blocked) + len(new) > self.capacity:
            raise NoRoom(f"{len(self.blocked)} of {self.capacity} tokens blocked: no room for {len(new)} more")
        self.blocked |= new
        return None

    def unblock(self, tokens: list[str]) -> object:
        self.calls.append(("unblock", list(tokens)))
        self.blocked -= {url_safe(t) for t in tokens}
        return None


# ---- DoveRunner ---------------------------------------------------------------------------------------------------


def api_error(code: str, operation: str = "detect by URL", message: str = "") -> DoveRunnerApiError:
    """The error the client raises when DoveRunner answers `code` (HTTP 200, as DoveRunner answers its A-codes)."""
    return DoveRunnerApiError(code, message, http_status=200, operation=operation)


class FakeDoveRunner:
    """DoveRunner's detection API as the `doverunner` client presents it (ports.DetectionApi), over a dict of
    detections held as the detail API answers them:

    - list_detections / iter_detections: the list API's items (no progress status, no error fields), title
      containing the keyword (or the id equal to it), of the service asked for; one page holds them all.
    - detail: Detection.from_api of the detail item; A4009 for an unknown id or another service's detection.
    - detect_url registers a detection and returns its id. detect_upload reads the whole source (opening it when
      given a function, as the client does for each attempt), checks its size, registers the detection under the
      title (made unique unless `make_unique` is False) and returns an UploadReceipt with complete True; the next
      `unconfirmed_uploads` uploads instead end as a connection that failed after its last byte: complete None,
      registered only if `store_unconfirmed`.
    - fail_next(error): the next detection request raises `error` before reading anything (registering the
      detection first if `registered`, as a request DoveRunner processed before the connection failed).
    - verify_token: is_valid for the tokens in `valid_tokens`.
    """

    def __init__(self, *, service: str = DEFAULT_SERVICE) -> None:
        self.service = service
        self.detections: dict[int, dict[str, Any]] = {}
        self.valid_tokens: set[str] = set()
        self.verified: list[str] = []
        self.requests: list[dict[str, Any]] = []  # every detection request, failed ones too
        self.details: list[int] = []
        self.stops: list[int] = []
        self.unconfirmed_uploads = 0
        self.store_unconfirmed = False
        self._failures: list[tuple[Exception, bool]] = []
        self._next_id = 1001

    # scripting

    def add(
        self,
        title: str,
        *,
        status: str = "FD001",
        progress: str = "",
        service: str | None = None,
        req_type: str = "file",
        file_path: str = "",
        detection_id: int | None = None,
        **extra: str,
    ) -> int:
        """A detection DoveRunner holds (extra: wm_key, wm_data, error_code, error_message, site_id); its id (the
        next free one unless given)."""
        if detection_id is None:
            detection_id = self._next_id
            self._next_id += 1
        self.detections[detection_id] = {
            "detection_id": detection_id,
            "site_id": "DEMO",
            "title": title,
            "demo_contents": "false",
            "detect_status": status,
            "detect_progress_status": progress,
            "req_type": req_type,
            "file_id": detection_id,
            "file_path": file_path,
            "region_code": "",
            "service_code": self._code(service),
            "wm_key": "",
            "wm_data": "",
            "error_code": "",
            "error_message": "",
            "reg_date": "2026-11-24 12:00:00",
            "update_date": "2026-11-24 12:00:00",
            **extra,
        }
        return detection_id

    def set_status(self, detection_id: int, status: str, progress: str = "", **extra: str) -> None:
        self.detections[detection_id].update(detect_status=status, detect_progress_status=progress, **extra)

    def titled(self, title: str) -> list[int]:
        return [d["detection_id"] for d in self.detections.values() if d["title"] == title]

    def fail_next(self, error: Exception, *, registered: bool = False) -> None:
        self._failures.append((error, registered))

    def _code(self, service: str | None) -> str:
        return service_code(service) if service else self.service

    def _failure(self, title: str, service: str | None, req_type: str, file_path: str = "") -> None:
        if self._failures:
            error, registered = self._failures.pop(0)
            if registered:
                self.add(title, service=service, req_type=req_type, file_path=file_path)
            raise error

    # the API

    def list_detections(
        self,
        *,
        keyword: str | None = None,
        condition: str | None = None,
        service: str | None = None,
        req_types: Sequence[str] | None = None,
    ) -> DetectionPage:
        code = self._code(service)
        found = [
            d
            for d in self.detections.values()
            if d["service_code"] == code
            and (not req_types or d["req_type"] in req_types)
            and (
                not keyword
                or (keyword in d["title"] if (condition or "title") == "title" else str(d["detection_id"]) == keyword)
            )
        ]
        listed = ("detect_progress_status", "req_type", "error_code", "error_message")
        items = [Detection.from_api({k: v for k, v in d.items() if k not in listed}) for d in found]
        return DetectionPage(total_count=len(items), time_zone="UTC", items=items)

    def iter_detections(self, *, page_unit: int = 25, **filters: Any) -> Iterator[Detection]:
        yield from self.list_detections(**filters).items

    def detail(self, detection_id: int, *, service: str | None = None) -> Detection:
        self.details.append(detection_id)
        found = self.detections.get(int(detection_id))
        if found is None or found["service_code"] != self._code(service):
            raise api_error("A4009", "detection detail", f"detection {detection_id} not found")
        return Detection.from_api(found)

    def detect_url(self, title: str, file_path: str, *, demo: bool = False, service: str | None = None) -> int:
        self.requests.append({"operation": "url", "title": title, "file_path": file_path, "service": service})
        self._failure(title, service, "url", file_path)
        return self.add(title, service=service, req_type="url", file_path=file_path)

    def detect_live(self, title: str, file_path: str, *, demo: bool = False, service: str | None = None) -> int:
        self.requests.append({"operation": "live", "title": title, "file_path": file_path, "service": service})
        self._failure(title, service, "stream", file_path)
        return self.add(title, service=service, req_type="stream", file_path=file_path)

    def stop(self, detection_id: int, *, service: str | None = None) -> int:
        """A4009 for an unknown detection, A4028 for one that ended; else asked to stop (FD510, as DoveRunner
        shows it until it has stopped: `set_status` ends it)."""
        self.stops.append(detection_id)
        found = self.detections.get(int(detection_id))
        if found is None or found["service_code"] != self._code(service):
            raise api_error("A4009", "stop detection", f"detection {detection_id} not found")
        if found["detect_status"] in ("FD004", "FD005", "FD006", "FD007"):
            raise api_error("A4028", "stop detection", "cannot stop a finished detection")
        found["detect_progress_status"] = "FD510"
        return int(detection_id)

    def detect_upload(
        self,
        source: IO[bytes] | Callable[[], IO[bytes]],
        size: int,
        *,
        title: str,
        extension: str,
        service: str | None = None,
        make_unique: bool = True,
        find: bool = True,
    ) -> UploadReceipt:
        request: dict[str, Any] = {"operation": "upload", "title": title, "size": size, "extension": extension}
        request.update(service=service, make_unique=make_unique, find=find)
        self.requests.append(request)
        final_title = unique_title(title) if make_unique else title
        self._failure(final_title, service, "file")
        stream = source() if callable(source) else source
        digest = hashlib.sha256()
        read = 0
        while read < size:
            chunk = stream.read(min(1 << 20, size - read))
            if not chunk:
                raise TransportError(f"DoveRunner upload: the source ended after {read} of {size} bytes")
            digest.update(chunk)
            read += len(chunk)
        request["sha256"] = digest.hexdigest()
        if self.unconfirmed_uploads > 0:
            self.unconfirmed_uploads -= 1
            if self.store_unconfirmed:
                self.add(final_title, service=service)
            if not find:
                return UploadReceipt(final_title, size, None, complete=None)
            found = self.titled(final_title)
            if not found:
                raise DetectionNotFoundError(f"no detection titled {final_title!r} appeared in the list")
            return UploadReceipt(final_title, size, self.detail(found[0], service=service))
        detection_id = self.add(final_title, service=service)
        return UploadReceipt(final_title, size, self.detail(detection_id, service=service) if find else None)

    def verify_token(self, revoke_token: str) -> TokenVerification:
        self.verified.append(revoke_token)
        return TokenVerification(revoke_token=revoke_token, is_valid=revoke_token in self.valid_tokens)


class FakeNotifications:
    """The notification half of the DoveRunner client, what the Registrar calls, as the local DoveRunner answers
    it: one registration per site (A4029 for a second), A4032 for an unknown id; `keys_fail` registrations answer
    A4033 first (keys DoveRunner cannot use yet); `fail_next(error)` makes the next call raise `error`."""

    def __init__(self, site_id: str = "DEMO") -> None:
        self.config = ClientConfig(site_id=site_id)
        self.registrations: dict[int, dict[str, str]] = {}
        self.calls: list[str] = []
        self.keys_fail = 0
        self._failures: list[Exception] = []
        self._next_id = 1

    def fail_next(self, error: Exception) -> None:
        self._failures.append(error)

    def _call(self, operation: str) -> None:
        self.calls.append(operation)
        if self._failures:
            raise self._failures.pop(0)

    def register_notification(self, name: str, aws_arn: str, aws_access_key: str, aws_secret_key: str) -> int:
        self._call("register")
        if self.keys_fail > 0:
            self.keys_fail -= 1
            raise api_error("A4033", "register notification")
        if self.registrations:
            raise api_error("A4029", "register notification")
        noti_id = self._next_id
        self._next_id += 1
        self.registrations[noti_id] = {
            "noti_name": name,
            "aws_arn": aws_arn,
            "aws_access_key": aws_access_key,
            "aws_secret_key": aws_secret_key,
        }
        return noti_id

    def update_notification(
        self,
        noti_id: int,
        *,
        name: str | None = None,
        aws_arn: str | None = None,
        aws_access_key: str | None = None,
        aws_secret_key: str | None = None,
    ) -> int:
        self._call("update")
        record = self.registrations.get(noti_id)
        if record is None:
            raise api_error("A4032", "update notification", f"notification {noti_id} not found")
        changes = {"noti_name": name, "aws_arn": aws_arn, "aws_access_key": aws_access_key}
        changes["aws_secret_key"] = aws_secret_key
        record.update({k: v for k, v in changes.items() if v is not None})
        return noti_id

    def delete_notification(self, noti_id: int) -> int:
        self._call("delete")
        if self.registrations.pop(noti_id, None) is None:
            raise api_error("A4032", "delete notification", f"notification {noti_id} not found")
        return noti_id

    def list_notifications(self) -> list[Notification]:
        self._call("list")
        return [
            Notification(noti_id, record["noti_name"], record["aws_arn"])
            for noti_id, record in self.registrations.items()
        ]


if TYPE_CHECKING:
    from antipiracy import ports

    def _fakes_satisfy_the_ports() -> None:
        """Checked by mypy only: each fake is accepted where its port is expected."""
        jobs: ports.Jobs = MemoryJobs()
        objects: ports.Objects = MemoryObjects()
        executions: ports.Executions = MemoryExecutions()
        results: ports.ResultsTopic = MemoryResultsTopic()
        dead_letters: ports.DeadLetters = MemoryDeadLetters()
        ledger: ports.Ledger = MemoryLedger()
        blocker: ports.Blocker = MemoryBlocker()
        detections: ports.DetectionApi = FakeDoveRunner()
        del jobs, objects, executions, results, dead_letters, ledger, blocker, detections
