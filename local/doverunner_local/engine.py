"""The state of the local DoveRunner: detections and their lifecycle, sessions, notifications, tokens.

Everything here is plain Python behind one lock; server.py maps HTTP onto it. API errors are raised as ApiFailure
with the guide's code, so the server answers exactly what DoveRunner would.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin, urlparse

import requests

from doverunner.codes import DETECTION_FAILURE_CODES, describe_error
from doverunner_local.config import EmulatorConfig
from doverunner_local.content import ContentInspector, Inspection, media_failure

log = logging.getLogger("doverunner_local")

VIDEO_EXTENSIONS = ("mp4", "mkv", "mov")
# Failures of getting or reading the file end in Error (FD006); failures of the analysis in Failed (FD007).
_ERROR_CODES = frozenset({"D001", "D010", "D011"})
_SNS_ARN = re.compile(r"^arn:aws(-[a-z]+)*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_LIST_STATUSES = frozenset({"FD001", "FD002", "FD003", "FD004", "FD005", "FD006", "FD007"})


class ApiFailure(Exception):
    """An API error answered with the guide's code; `http_status` 401 for token problems, else 200."""

    def __init__(self, code: str, detail: str = "", http_status: int = 200) -> None:
        super().__init__(detail or describe_error(code).description)
        self.code = code
        self.detail = detail or describe_error(code).description
        self.http_status = http_status


def _now() -> datetime:
    return datetime.now(UTC)


def _fmt(moment: datetime, tz: timezone = UTC) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class Session:
    """A viewer session as DoveRunner's session database knows it."""

    forensic_mark: str
    session_data: str
    revoke_token: str

    def to_dict(self) -> dict[str, str]:
        return {
            "forensic_mark": self.forensic_mark,
            "session_data": self.session_data,
            "revoke_token": self.revoke_token,
        }


@dataclass
class Outcome:
    """A forced result for detections whose title contains `title_contains` (admin surface)."""

    title_contains: str
    mark: str | None = None
    fail: str | None = None


@dataclass
class DetectionRecord:
    detection_id: int
    site_id: str
    service_code: str
    title: str
    req_type: str  # url, file or stream
    demo: bool
    file_path: str
    file_id: int
    reg_date: datetime
    update_date: datetime
    detect_status: str = "FD001"
    detect_progress_status: str = ""
    wm_key: str = ""
    wm_data: str = ""
    error_code: str = ""
    error_message: str = ""
    inspection: Inspection | None = None
    history: list[dict[str, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    revoke_token: str = ""
    region_code: str = ""

    @property
    def terminal(self) -> bool:
        return self.detect_status in ("FD004", "FD005", "FD006", "FD007")

    def item(self, tz: timezone = UTC) -> dict[str, Any]:
        """The list API's item."""
        return {
            "detection_id": self.detection_id,
            "site_id": self.site_id,
            "title": self.title,
            "demo_contents": "true" if self.demo else "false",
            "detect_status": self.detect_status,
            "file_id": self.file_id,
            "file_path": self.file_path,
            "region_code": self.region_code,
            "service_code": self.service_code,
            "wm_key": self.wm_key,
            "wm_data": self.wm_data,
            "reg_date": _fmt(self.reg_date, tz),
            "update_date": _fmt(self.update_date, tz),
        }

    def detail(self) -> dict[str, Any]:
        out = self.item()
        out.update(
            {
                "req_type": self.req_type,
                "detect_progress_status": self.detect_progress_status,
                "wm_seed_key": "",
                "error_code": self.error_code,
                "error_message": self.error_message,
            }
        )
        return out


@dataclass
class NotificationRecord:
    noti_id: int
    noti_name: str
    aws_arn: str
    aws_access_key: str
    aws_secret_key: str
    reg_time: datetime
    update_time: datetime

    def public(self) -> dict[str, Any]:
        return {
            "noti_id": self.noti_id,
            "noti_name": self.noti_name,
            "aws_arn": self.aws_arn,
            "reg_time": _fmt(self.reg_time),
            "update_time": _fmt(self.update_time),
        }


@dataclass
class UploadSlot:
    upload_id: str
    site_id: str
    service_code: str
    title: str
    extension: str
    demo: bool
    expires_at: float  # wall clock
    used: bool = False  # uploaded at least once: from then on its detections count, not the slot


_TOKEN_SEED = b"local-doverunner"  # fixed, so the demo sessions' tokens are the same in every run


def revoke_token_for(mark: str) -> str:
    """A session's revoke token: standard base64, so it can hold '+', '/' and '=' as real ones do."""
    digest = hmac.new(_TOKEN_SEED, mark.encode(), hashlib.sha256).digest()[:20]
    return base64.b64encode(digest).decode("ascii")


DEFAULT_SESSIONS = (
    ("0000000000000001", "session_id=sess-1001;user_id=viewer-1001;content_id=movie-001;ip=203.0.113.10"),
    ("0000000000000002", "session_id=sess-1002;user_id=viewer-1002;content_id=movie-001;ip=198.51.100.7"),
    ("00000000000000ff", "session_id=sess-1255;user_id=viewer-1255;content_id=series-042;ip=192.0.2.55"),
)


class Emulator:
    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        publisher: Callable[[NotificationRecord, dict[str, Any]], None] | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.public_url = ""  # set by the server once bound
        self._lock = threading.RLock()
        self._jwt_secret = secrets.token_bytes(32)
        self._publisher = publisher
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.reset()

    # ---- state --------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything but the configuration; running detections stop."""
        with self._lock:
            for record in getattr(self, "detections", {}).values():
                record.stop.set()
            self.detections: dict[int, DetectionRecord] = {}
            self.sessions: dict[str, Session] = {}
            self.outcomes: list[Outcome] = []
            self.notifications: dict[int, NotificationRecord] = {}
            self.uploads: dict[str, UploadSlot] = {}
            self.requests_seen: list[dict[str, Any]] = []
            # Every request by operation (requests_seen keeps only the last 1,000); "injected": the faults answered.
            self.request_counts: collections.Counter[str] = collections.Counter()
            self.deliveries: list[dict[str, Any]] = []
            self.token_generation = 0
            self._next_id = 1000
            self._next_noti = 1
            for mark, data in DEFAULT_SESSIONS:
                self.add_session(mark, data)

    def close(self) -> None:
        self._stopping.set()
        with self._lock:
            for record in self.detections.values():
                record.stop.set()

    def set_publisher(self, publisher: Callable[[NotificationRecord, dict[str, Any]], None] | None) -> None:
        self._publisher = publisher

    def add_session(self, forensic_mark: str, session_data: str, revoke_token: str | None = None) -> Session:
        session = Session(forensic_mark, session_data, revoke_token or revoke_token_for(forensic_mark))
        with self._lock:
            self.sessions[forensic_mark] = session
        return session

    def add_outcome(self, title_contains: str, *, mark: str | None = None, fail: str | None = None) -> None:
        if fail and fail not in DETECTION_FAILURE_CODES:
            raise ValueError(f"unknown detection failure code {fail!r}")
        with self._lock:
            self.outcomes.insert(0, Outcome(title_contains, mark, fail))

    def record_request(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests_seen.append(entry)
            del self.requests_seen[:-1000]
            self.request_counts[str(entry.get("operation") or entry.get("path") or "?")] += 1
            if entry.get("injected"):
                self.request_counts["injected"] += 1

    # ---- tokens -------------------------------------------------------------------------------------------

    def issue_token(self, site_id: str, authorization: str | None) -> str:
        self.check_site(site_id)
        expected = "Basic " + base64.b64encode(
            f"{self.config.account_id}:{self.config.account_access_key or self.config.access_key}".encode()
        ).decode("ascii")
        if not authorization or not authorization.lower().startswith("basic "):
            raise ApiFailure("A9001", "Authorization must be Basic base64(accountId:accessKey)", 401)
        if not hmac.compare_digest(authorization.split(None, 1)[-1], expected.split(None, 1)[-1]):
            raise ApiFailure("A9008", "account id or access key is wrong", 401)
        now = time.time()
        claims = {
            "sub": self.config.account_id,
            "site_id": site_id,
            "iat": int(now),
            "exp": int(now + self.config.token_ttl_seconds),
            "jti": uuid.uuid4().hex,
            "gen": self.token_generation,
        }
        return "Bearer " + self._jwt(claims)

    def _jwt(self, claims: dict[str, Any]) -> str:
        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

        head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = b64(json.dumps(claims).encode())
        sig = hmac.new(self._jwt_secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64(sig)}"

    def check_token(self, authorization: str | None, site_id: str) -> None:
        """401 A9001 for a missing or malformed token, 401 A9002 for a bad signature, expiry or site."""
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiFailure("A9001", "Authorization must be the token from the token API", 401)
        parts = authorization[len("Bearer ") :].split(".")
        if len(parts) != 3:
            raise ApiFailure("A9001", "the token is not a JWT", 401)
        expected = hmac.new(self._jwt_secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except ValueError as exc:
            raise ApiFailure("A9001", "the token cannot be decoded", 401) from exc
        if not hmac.compare_digest(signature, expected):
            raise ApiFailure("A9002", "the token signature is not valid", 401)
        if claims.get("exp", 0) <= time.time() or claims.get("gen") != self.token_generation:
            raise ApiFailure("A9002", "the token has expired", 401)
        if claims.get("site_id") != site_id:
            raise ApiFailure("A9002", "the token was issued for another site", 401)

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (admin: simulates expiry)."""
        with self._lock:
            self.token_generation += 1

    # ---- validation shared by the APIs --------------------------------------------------------------------

    def check_site(self, site_id: str) -> None:
        if site_id != self.config.site_id:
            raise ApiFailure("A1003", f"site {site_id!r} is not known")

    def check_service(self, service_code: str) -> None:
        if service_code not in ("PD002", "PD006"):
            raise ApiFailure("A4002", f"service code {service_code!r} is not supported (PD002, PD006)")
        if service_code not in self.config.services:
            raise ApiFailure("A1108", f"service {service_code} is not enabled for this site")

    def _check_quota(self, site_id: str, service_code: str) -> None:
        used = sum(
            1 for d in self.detections.values() if d.site_id == site_id and d.service_code == service_code
        ) + sum(
            1 for u in self.uploads.values() if u.site_id == site_id and u.service_code == service_code and not u.used
        )
        if self.config.trial and used >= 2:
            raise ApiFailure("A4015")
        if self.config.detection_quota is not None and used >= self.config.detection_quota:
            raise ApiFailure("A4019")

    @staticmethod
    def _text(payload: dict[str, Any], name: str, code: str = "A1000") -> str:
        value = payload.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ApiFailure(code, f"{name} is required")
        return value

    @staticmethod
    def _flag(payload: dict[str, Any], name: str) -> bool:
        value = payload.get(name, False)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ApiFailure("A1000", f"{name} must be a boolean")

    # ---- detection requests -------------------------------------------------------------------------------

    def _new_record(
        self, site_id: str, service_code: str, title: str, req_type: str, demo: bool, file_path: str
    ) -> DetectionRecord:
        with self._lock:
            self._next_id += 1
            now = _now()
            record = DetectionRecord(
                detection_id=self._next_id,
                site_id=site_id,
                service_code=service_code,
                title=title,
                req_type=req_type,
                demo=demo,
                file_path=file_path,
                file_id=self._next_id + 500000,
                reg_date=now,
                update_date=now,
                region_code=self.config.region_code,
            )
            record.history.append({"detect_status": "FD001", "detect_progress_status": "", "at": _fmt(now)})
            self.detections[record.detection_id] = record
        return record

    def register_url(self, site_id: str, service_code: str, payload: dict[str, Any], *, live: bool) -> int:
        title = self._text(payload, "title")
        file_path = payload.get("file_path")
        if not isinstance(file_path, str) or not file_path.strip():
            raise ApiFailure("A4005")
        demo = self._flag(payload, "demo_contents")
        if urlparse(file_path).scheme not in ("http", "https"):
            raise ApiFailure("A1000", "file_path must be an http(s) URL")
        with self._lock:
            self._check_quota(site_id, service_code)
            record = self._new_record(site_id, service_code, title, "stream" if live else "url", demo, file_path)
        self._start(record)
        return record.detection_id

    def issue_upload(self, site_id: str, service_code: str, payload: dict[str, Any]) -> str:
        title = self._text(payload, "title")
        extension = self._text(payload, "file_extension").lower().lstrip(".")
        if extension not in VIDEO_EXTENSIONS:
            raise ApiFailure("A4023", f"file extension {extension!r} is not mp4, mkv or mov")
        demo = self._flag(payload, "demo_contents")
        with self._lock:
            self._check_quota(site_id, service_code)
            upload_id = uuid.uuid4().hex
            slot = UploadSlot(
                upload_id,
                site_id,
                service_code,
                title,
                extension,
                demo,
                time.time() + self.config.upload_url_ttl_seconds,
            )
            self.uploads[upload_id] = slot
        expires = int(slot.expires_at)
        signature = self._upload_signature(upload_id, expires)
        query = f"X-Amz-Expires={expires}&X-Amz-Signature={signature}"
        return f"{self.public_url}/upload/{site_id}/{upload_id}.{extension}?{query}"

    def _upload_signature(self, upload_id: str, expires: int) -> str:
        return hmac.new(self._jwt_secret, f"{upload_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def check_upload(self, upload_id: str, expires: str, signature: str) -> UploadSlot:
        """The slot a signed URL names; raises (status, S3 error code, message) like S3 would."""
        with self._lock:
            slot = self.uploads.get(upload_id)
        if slot is None or not expires.isdigit():
            raise UploadRefused(403, "AccessDenied", "Access Denied")
        if not hmac.compare_digest(signature, self._upload_signature(upload_id, int(expires))):
            raise UploadRefused(403, "SignatureDoesNotMatch", "The request signature does not match")
        if time.time() > int(expires):
            raise UploadRefused(403, "AccessDenied", "Request has expired")
        return slot

    def register_upload(self, slot: UploadSlot, inspection: Inspection) -> int:
        """A complete upload registers a detection: every complete PUT counts, as with DoveRunner's storage."""
        record = self._new_record(
            slot.site_id,
            slot.service_code,
            slot.title,
            "file",
            slot.demo,
            f"{slot.site_id}/upload/{slot.upload_id}.{slot.extension}",
        )
        record.inspection = inspection
        slot.used = True
        self._start(record)
        return record.detection_id

    # ---- lifecycle ----------------------------------------------------------------------------------------

    def _start(self, record: DetectionRecord) -> None:
        thread = threading.Thread(
            target=self._run, args=(record,), name=f"detection-{record.detection_id}", daemon=True
        )
        thread.start()

    def _set(self, record: DetectionRecord, status: str, progress: str) -> None:
        with self._lock:
            record.detect_status = status
            record.detect_progress_status = progress
            record.update_date = _now()
            record.history.append(
                {"detect_status": status, "detect_progress_status": progress, "at": _fmt(record.update_date)}
            )

    def _pause(self, record: DetectionRecord, seconds: float | None = None) -> bool:
        """Waits one step (or `seconds`); True when the detection was asked to stop meanwhile."""
        wait = self.config.step_seconds if seconds is None else seconds
        return record.stop.wait(wait) or self._stopping.is_set()

    def _cancel(self, record: DetectionRecord) -> None:
        self._set(record, record.detect_status, "FD510")
        time.sleep(min(self.config.step_seconds, 0.5))
        self._set(record, "FD005", "FD520")

    def _run(self, record: DetectionRecord) -> None:
        try:
            if self._pause(record):
                return self._cancel(record)
            self._set(record, "FD002", "FD210")
            if record.req_type == "stream":
                self._run_live(record)
                return None
            inspection = record.inspection
            failure = None
            if record.req_type == "url":
                inspection, failure = self._download(record.file_path)
            record.inspection = inspection
            if failure is None:
                self._set(record, "FD002", "FD220")
            if self._pause(record):
                return self._cancel(record)
            if failure is None:
                self._set(record, "FD003", "FD311")
                if self._pause(record):
                    return self._cancel(record)
                self._set(record, "FD003", "FD312")
                if self._pause(record):
                    return self._cancel(record)
            self._finish(record, failure)
        except Exception:
            log.exception("detection %s crashed", record.detection_id)
            with self._lock:
                record.error_code, record.error_message = "D000", DETECTION_FAILURE_CODES["D000"]
            self._set(record, "FD006", "FD600")
        return None

    def _run_live(self, record: DetectionRecord) -> None:
        """A live detection: ends as any detection when the first read fails or is conclusive (a mark, a failure
        marker, no video, a forced outcome); otherwise stays at FD003/FD311 and reads the manifest again every step
        until a marker or forced outcome shows up, it is stopped, or `live_max_seconds` have passed (FD005/FD520).
        A later read that fails or finds no video is a hiccup of the stream: the detection keeps watching."""
        started = time.monotonic()
        inspection, failure = self._download_live(record.file_path)
        if failure is not None:
            if self._pause(record):
                self._cancel(record)
            else:
                self._finish(record, failure)
            return
        record.inspection = inspection
        self._set(record, "FD002", "FD220")
        if self._pause(record):
            self._cancel(record)
            return
        self._set(record, "FD003", "FD311")
        while not self._live_conclusive(record):
            remaining = started + self.config.live_max_seconds - time.monotonic()
            if remaining <= 0:
                log.info("live detection %s ended after live_max_seconds", record.detection_id)
                self._set(record, "FD005", "FD520")
                return
            if self._pause(record, min(max(self.config.step_seconds, 0.01), remaining)):  # no spin at step 0
                self._cancel(record)
                return
            if time.monotonic() - started >= self.config.live_max_seconds:
                continue  # ends above, without one more read
            inspection, failure = self._download_live(record.file_path, newest=True)
            if failure is None and inspection is not None and inspection.container is None:
                failure = "D011"
            if failure is None:
                record.inspection = inspection
            else:  # a live stream may hiccup (unreachable, or no video for a while): keep watching, one read a step
                log.info("live detection %s: stream read failed (%s), still watching", record.detection_id, failure)
        if self._pause(record):
            self._cancel(record)
            return
        self._set(record, "FD003", "FD312")
        if self._pause(record):
            self._cancel(record)
            return
        self._finish(record, None)

    def _live_conclusive(self, record: DetectionRecord) -> bool:
        """Whether what the live stream showed so far ends its detection (as `_decide` would read it)."""
        with self._lock:
            if any(o.title_contains in record.title for o in self.outcomes):
                return True
        inspection = record.inspection
        return inspection is None or inspection.container is None or inspection.marker_kind is not None

    def _finish(self, record: DetectionRecord, failure: str | None) -> None:
        code = failure or self._decide(record)
        with self._lock:
            if code and code.startswith("D"):
                record.error_code = code
                record.error_message = DETECTION_FAILURE_CODES.get(code, "")
                status = ("FD006", "FD600") if code in _ERROR_CODES else ("FD007", "FD700")
            else:
                status = ("FD004", "FD400")
        self._set(record, *status)
        self._notify(record)

    def _decide(self, record: DetectionRecord) -> str | None:
        """A D-code, or None for completed (with wm_key/wm_data set when a watermark is found)."""
        forced = next((o for o in self.outcomes if o.title_contains in record.title), None)
        mark: str | None = None
        if forced:
            if forced.fail:
                return forced.fail
            mark = forced.mark
        else:
            inspection = record.inspection
            if inspection is None:
                return "D001"
            extension = urlparse(record.file_path).path.rsplit(".", 1)[-1].lower()
            if record.req_type != "stream" and extension not in VIDEO_EXTENSIONS:
                return "D010"
            if inspection.media is not None:  # read only with judge_media (never for a live stream)
                verdict = media_failure(inspection.media, inspection.size)
                if verdict:
                    return verdict
            if inspection.marker_kind == "FAIL":
                return inspection.marker_value
            if inspection.container is None:
                return "D011"
            if inspection.marker_kind == "MARK":
                mark = inspection.marker_value
        if mark:
            session = self.sessions.get(mark)
            with self._lock:
                record.wm_key = mark
                record.wm_data = session.session_data if session else ""
                record.revoke_token = session.revoke_token if session else ""
        return None

    def _download(self, url: str) -> tuple[Inspection | None, str | None]:
        with ContentInspector(read_media=self.config.judge_media) as inspector:
            try:
                with requests.get(url, stream=True, timeout=self.config.download_timeout_seconds) as response:
                    if response.status_code != 200:
                        log.info("download of a URL detection failed with HTTP %s", response.status_code)
                        return None, "D001"
                    for chunk in response.iter_content(64 * 1024):
                        inspector.feed(chunk)
            except requests.RequestException as exc:
                log.info("download of a URL detection failed: %s", type(exc).__name__)
                return None, "D001"
            return inspector.result(), None

    def _download_live(self, url: str, *, newest: bool = False) -> tuple[Inspection | None, str | None]:
        """Reads an HLS manifest (following the first variant of a master playlist) and its first segments, or with
        `newest` its last ones (what a live playlist added since the last read)."""
        try:
            manifest = requests.get(url, timeout=self.config.download_timeout_seconds)
            if manifest.status_code != 200:
                return None, "D001"
            lines = [line.strip() for line in manifest.text.splitlines() if line.strip()]
            if not lines or lines[0] != "#EXTM3U":
                return None, "D011"
            uris = [line for line in lines if not line.startswith("#")]
            if any(line.startswith("#EXT-X-STREAM-INF") for line in lines) and uris:
                return self._download_live(urljoin(url, uris[0]), newest=newest)
            if not uris:
                return None, "D011"
            inspector = ContentInspector()
            count = self.config.live_segments
            for uri in uris[max(0, len(uris) - count) :] if newest else uris[:count]:
                with requests.get(urljoin(url, uri), stream=True, timeout=self.config.download_timeout_seconds) as r:
                    if r.status_code != 200:
                        return None, "D001"
                    for chunk in r.iter_content(64 * 1024):
                        inspector.feed(chunk)
        except requests.RequestException:
            return None, "D001"
        return inspector.result(), None

    def stop_detection(self, site_id: str, service_code: str, payload: dict[str, Any]) -> int:
        detection_id = self._detection_id(payload)
        with self._lock:
            record = self.detections.get(detection_id)
            if record is None or record.site_id != site_id or record.service_code != service_code:
                raise ApiFailure("A4009", f"detection {detection_id} not found")
            if record.terminal:
                raise ApiFailure("A4028", f"detection {detection_id} already ended with {record.detect_status}")
            record.stop.set()
        return detection_id

    # ---- reading ------------------------------------------------------------------------------------------

    @staticmethod
    def _detection_id(payload: dict[str, Any]) -> int:
        value = payload.get("detection_id")
        if isinstance(value, bool) or value is None or not str(value).strip().isdigit():
            raise ApiFailure("A1000", "detection_id must be a number")
        return int(str(value).strip())

    def detail(self, site_id: str, service_code: str, payload: dict[str, Any]) -> dict[str, Any]:
        detection_id = self._detection_id(payload)
        if payload.get("site_id") not in (None, "", site_id):
            raise ApiFailure("A1003", "site_id does not match the path")
        with self._lock:
            record = self.detections.get(detection_id)
            if record is None or record.site_id != site_id or record.service_code != service_code:
                raise ApiFailure("A4009", f"detection {detection_id} not found")
            return record.detail()

    def list_detections(self, site_id: str, service_code: str, payload: dict[str, Any]) -> dict[str, Any]:
        if payload.get("site_id") not in (None, "", site_id):
            raise ApiFailure("A1003", "site_id does not match the path")
        keyword = payload.get("search_keyword") or ""
        condition = payload.get("search_condition") or "title"
        if condition not in ("title", "detection_id"):
            raise ApiFailure("A1000", "search_condition must be title or detection_id")
        status = payload.get("detect_status") or ""
        if status and status not in _LIST_STATUSES:
            raise ApiFailure("A1000", f"detect_status {status!r} is not a detection status")
        date_from = _parse_time(payload.get("from"), "from")
        date_to = _parse_time(payload.get("to"), "to")
        page_unit = _positive(payload.get("page_unit"), "page_unit", 25)
        page_index = _positive(payload.get("page_index"), "page_index", 1)
        tz = _parse_zone(payload.get("time_zone"))
        req_types = payload.get("req_types") or []
        if not isinstance(req_types, list) or any(t not in ("url", "file", "stream") for t in req_types):
            raise ApiFailure("A1000", "req_types must be a list of url, file, stream")
        with self._lock:
            found = [
                d
                for d in self.detections.values()
                if d.site_id == site_id
                and d.service_code == service_code
                and (not keyword or (keyword in d.title if condition == "title" else str(d.detection_id) == keyword))
                and (not status or d.detect_status == status)
                and (date_from is None or d.reg_date >= date_from)
                and (date_to is None or d.reg_date <= date_to)
                and (not req_types or d.req_type in req_types)
            ]
            found.sort(key=lambda d: d.detection_id, reverse=True)
            start = (page_index - 1) * page_unit
            page = [d.item(tz) for d in found[start : start + page_unit]]
        return {"total_count": str(len(found)), "time_zone": _zone_text(tz), "data": page}

    # ---- revoke tokens ------------------------------------------------------------------------------------

    def verify_revoke_token(self, site_id: str, payload: dict[str, Any]) -> bool:
        token = payload.get("revoke_token")
        if not isinstance(token, str) or not token:
            raise ApiFailure("A1000", "revoke_token is required")
        with self._lock:
            return any(s.revoke_token == token for s in self.sessions.values())

    # ---- notifications ------------------------------------------------------------------------------------

    def register_notification(self, site_id: str, payload: dict[str, Any]) -> int:
        values = {
            name: self._text(payload, name) for name in ("noti_name", "aws_arn", "aws_access_key", "aws_secret_key")
        }
        if not _SNS_ARN.match(values["aws_arn"]):
            raise ApiFailure("A4030", "aws_arn is not an SNS topic ARN")
        with self._lock:
            if self.notifications:
                raise ApiFailure("A4029")
            now = _now()
            record = NotificationRecord(self._next_noti, reg_time=now, update_time=now, **values)
            self._next_noti += 1
            self.notifications[record.noti_id] = record
        return record.noti_id

    def list_notifications(self) -> list[NotificationRecord]:
        with self._lock:
            return list(self.notifications.values())

    def notification(self, noti_id: str) -> NotificationRecord:
        with self._lock:
            record = self.notifications.get(int(noti_id)) if noti_id.isdigit() else None
        if record is None:
            raise ApiFailure("A4032", f"notification {noti_id} not found")
        return record

    def update_notification(self, noti_id: str, payload: dict[str, Any]) -> int:
        record = self.notification(noti_id)
        changes: dict[str, str] = {}
        for name in ("noti_name", "aws_arn", "aws_access_key", "aws_secret_key"):
            if name in payload and payload[name] is not None:
                if not isinstance(payload[name], str) or not payload[name]:
                    raise ApiFailure("A1000", f"{name} must be a non-empty string")
                changes[name] = payload[name]
        if "aws_arn" in changes and not _SNS_ARN.match(changes["aws_arn"]):
            raise ApiFailure("A4030", "aws_arn is not an SNS topic ARN")
        with self._lock:
            for name, value in changes.items():
                setattr(record, name, value)
            record.update_time = _now()
        return record.noti_id

    def delete_notification(self, noti_id: str) -> int:
        record = self.notification(noti_id)
        with self._lock:
            del self.notifications[record.noti_id]
        return record.noti_id

    def notification_message(self, record: DetectionRecord) -> dict[str, Any] | None:
        """The message DoveRunner publishes for a finished detection (public-samples.md); none for FD005."""
        if self.config.notification_version == "1.0":
            if record.detect_status == "FD004" and record.revoke_token:
                return {"revoke_token": record.revoke_token, "site_id": record.site_id}
            return None
        message: dict[str, Any] = {
            "detection_id": record.detection_id,
            "detection_status": record.detect_status,
        }
        if record.detect_status == "FD004":
            if record.revoke_token:
                message["forensic_mark"] = record.wm_key
                message["watermark_token"] = record.revoke_token
        elif record.detect_status in ("FD006", "FD007"):
            message["error_code"] = record.error_code
            message["error_message"] = record.error_message
        else:
            return None
        return message

    def _notify(self, record: DetectionRecord) -> None:
        message = self.notification_message(record)
        if message is None:
            return
        for target in self.list_notifications():
            delivery: dict[str, Any] = {
                "noti_id": target.noti_id,
                "aws_arn": target.aws_arn,
                "detection_id": record.detection_id,
                "message": message,
            }
            try:
                if self._publisher is None:
                    raise RuntimeError("no AWS endpoint configured for notifications")
                self._publisher(target, message)
                delivery["delivered"] = True
            except Exception as exc:
                delivery["delivered"] = False
                delivery["error"] = f"{type(exc).__name__}: {exc}"
                log.warning("notification %s not delivered: %s", target.noti_id, delivery["error"])
            with self._lock:
                self.deliveries.append(delivery)

    # ---- admin views --------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "detections": [
                    dict(d.detail(), history=list(d.history), revoke_token=d.revoke_token)
                    for d in self.detections.values()
                ],
                "sessions": [s.to_dict() for s in self.sessions.values()],
                "outcomes": [o.__dict__ for o in self.outcomes],
                "notifications": [n.public() for n in self.notifications.values()],
                "deliveries": list(self.deliveries),
            }

    def wait_idle(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if all(d.terminal for d in self.detections.values()):
                    return True
            time.sleep(0.02)
        return False


class UploadRefused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _parse_time(value: Any, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ApiFailure("A1000", f"{name} must be yyyy-mm-ddThh:mm:ssZ") from exc


def _positive(value: Any, name: str, default: int) -> int:
    if value in (None, ""):
        return default
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise ApiFailure("A1000", f"{name} must be a positive number")
    return int(text)


def _parse_zone(value: Any) -> timezone:
    if value in (None, ""):
        return UTC
    match = re.fullmatch(r"([+-]?)(\d{2}):(\d{2})", str(value))
    if not match or int(match.group(2)) > 14 or int(match.group(3)) > 59:
        raise ApiFailure("A1000", "time_zone must be hh:mm")
    offset = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
    return timezone(-offset if match.group(1) == "-" else offset)


def _zone_text(tz: timezone) -> str:
    offset = tz.utcoffset(None)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def iter_chunks(stream: Any, length: int, size: int = 64 * 1024) -> Iterable[bytes]:
    remaining = length
    while remaining > 0:
        chunk = stream.read(min(size, remaining))
        if not chunk:
            return
        remaining -= len(chunk)
        yield chunk
