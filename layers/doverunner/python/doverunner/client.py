"""The DoveRunner detection API: one typed method per API of the guide."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any

import requests

from doverunner import crypto
from doverunner.auth import TokenProvider
from doverunner.codes import service_code
from doverunner.config import ClientConfig, Credentials
from doverunner.errors import (
    DetectionNotFoundError,
    DoveRunnerApiError,
    TransportError,
    UploadExpiredError,
)
from doverunner.models import (
    Detection,
    DetectionPage,
    Notification,
    TokenVerification,
    UploadReceipt,
    UploadTicket,
)
from doverunner.transport import Transport

log = logging.getLogger("doverunner.client")

SUPPORTED_EXTENSIONS = ("mp4", "mkv", "mov")
UPLOAD_URL_LIFETIME_SECONDS = 60.0
REQ_TYPES = ("url", "file", "stream")
TOKEN_ERRORS = frozenset({"A9001", "A9002"})

ProgressCallback = Callable[[int, int], None]


def _opener(source: IO[bytes] | Callable[[], IO[bytes]]) -> tuple[Callable[[], IO[bytes]], bool]:
    """A function giving the stream to send for each attempt, and whether a second attempt can be made."""
    if not hasattr(source, "read"):
        return source, True
    stream: IO[bytes] = source  # type: ignore[assignment]
    if not stream.seekable():
        return (lambda: stream), False
    start = stream.tell()

    def rewound() -> IO[bytes]:
        stream.seek(start)
        return stream

    return rewound, True


def unique_title(title: str) -> str:
    """The title with a random suffix, so an upload's detection can be found again through the list API."""
    return f"{title} #{uuid.uuid4().hex[:12]}"


def file_extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


class _SizedBody:
    """A body of known length, sent in 1 MiB chunks: requests gives it a Content-Length (a signed S3 PUT refuses
    chunked bodies) and iterates it, so memory stays flat whatever the size. It has no `read` on purpose: with
    one, urllib3 would pull 16 KiB at a time, which is slow from a network source such as an S3 body.

    `sent` counts the bytes the connection took: urllib3 asks for the next chunk only once its `sendall` of the
    previous one returned. Until every byte was taken, the server cannot have the whole file, so the upload
    cannot have registered a detection (`complete` stays False)."""

    CHUNK = 1 << 20

    def __init__(self, stream: IO[bytes], size: int, progress: ProgressCallback | None) -> None:
        self._stream = stream
        self._size = size
        self._progress = progress
        self.read_bytes = 0
        self.sent = 0

    def __len__(self) -> int:
        return self._size

    @property
    def complete(self) -> bool:
        return self.sent >= self._size

    def __iter__(self) -> Iterator[bytes]:
        while self.read_bytes < self._size:
            chunk = self._stream.read(min(self.CHUNK, self._size - self.read_bytes))
            if not chunk:
                return
            self.read_bytes += len(chunk)
            yield chunk
            # Resumed: the connection took the chunk.
            self.sent = self.read_bytes
            if self._progress:
                self._progress(self.sent, self._size)


class DoveRunnerClient:
    """Secrets are passed in (`Credentials`); nothing here logs or raises them."""

    def __init__(
        self,
        config: ClientConfig,
        credentials: Credentials,
        *,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._credentials = credentials
        self._transport = transport or Transport(
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            max_attempts=config.max_attempts,
            backoff_base=config.backoff_base,
            backoff_cap=config.backoff_cap,
            sleep=sleep,
        )
        self._tokens = TokenProvider(config, credentials, self._transport)
        self._sleep = sleep
        self._monotonic = monotonic

    def __repr__(self) -> str:
        return f"DoveRunnerClient(site_id={self.config.site_id!r}, api_url={self.config.api_url!r})"

    # ---- plumbing -------------------------------------------------------------------------------------------

    def _detect_url(self, service: str | None, action: str) -> str:
        code = service_code(service) if service else self.config.service
        return f"{self.config.api_url}/api/v2/detect/{self.config.site_id}/{code}/{action}"

    def _noti_url(self, noti_id: int | None = None) -> str:
        base = f"{self.config.api_url}/api/v2/noti/detect/{self.config.site_id}"
        return base if noti_id is None else f"{base}/{noti_id}"

    def encode_api_data(self, payload: dict[str, Any], now: datetime | None = None) -> str:
        return crypto.encode_api_data(
            payload,
            site_id=self.config.site_id,
            site_key=self._credentials.site_key,
            access_key=self._credentials.access_key,
            now=now,
        )

    def _call(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        safe: bool,
        api_data: dict[str, Any] | None = None,
        json_body: Any = None,
    ) -> dict[str, Any]:
        """One authenticated API call; a rejected token is refreshed once and the call repeated."""
        for attempt in (1, 2):
            token = self._tokens.get()
            headers = {"Authorization": token, "Content-Type": "application/json;charset=UTF-8"}
            params: dict[str, str] | None = None
            if api_data is not None:
                # Encoded per attempt: the timestamp must be fresh.
                encoded = self.encode_api_data(api_data)
                if self.config.apidata_in_query:
                    params = {"pallycon-apidata": encoded}
                else:
                    headers["pallycon-apidata"] = encoded
            response = self._transport.request(
                method,
                url,
                operation=operation,
                safe=safe,
                headers=headers,
                params=params,
                json_body=json_body,
            )
            body = self._json(response, operation)
            code = str(body.get("error_code") or ("0000" if response.ok else f"HTTP{response.status_code}"))
            if attempt == 1 and (response.status_code == 401 or code in TOKEN_ERRORS):
                # A rejected token means the call was not processed: repeating it is safe.
                log.info("DoveRunner %s: token rejected (%s), requesting a new one", operation, code)
                self._tokens.invalidate(token)
                continue
            if code != "0000":
                raise DoveRunnerApiError(
                    code,
                    str(body.get("error_message") or ""),
                    http_status=response.status_code,
                    operation=operation,
                )
            return body
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _json(response: requests.Response, operation: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            return body
        if response.status_code in (401, 403):
            return {"error_code": f"HTTP{response.status_code}", "error_message": ""}
        raise TransportError(
            f"DoveRunner {operation}: HTTP {response.status_code} with a body that is not the API's JSON",
            status=response.status_code,
            # A 429 refused the call; a 5xx here is a gateway's page, not the API's answer.
            maybe_processed=response.status_code < 500 and response.status_code != 429,
        )

    # ---- auth -----------------------------------------------------------------------------------------------

    def token(self, *, refresh: bool = False) -> str:
        """The Authorization value from the token API (cached)."""
        return self._tokens.refresh() if refresh else self._tokens.get()

    def verify_token(self, revoke_token: str) -> TokenVerification:
        """Whether a session's revoke token is one DoveRunner issued (public samples' verification API)."""
        body = self._call(
            "verify revoke token",
            "POST",
            f"{self.config.api_url}/api/v2/detect/{self.config.site_id}/revoke-token/verify",
            safe=True,
            json_body={"revoke_token": revoke_token},
        )
        return TokenVerification(revoke_token=revoke_token, is_valid=bool(_data(body).get("is_valid")))

    # ---- detection requests ---------------------------------------------------------------------------------

    def detect_url(self, title: str, file_path: str, *, demo: bool = False, service: str | None = None) -> int:
        """Registers a detection of the video at `file_path` (a URL DoveRunner downloads); its detection id."""
        return self._create("detect by URL", self._detect_url(service, "url"), title, file_path, demo)

    def detect_live(self, title: str, file_path: str, *, demo: bool = False, service: str | None = None) -> int:
        """Registers a detection of a live HLS stream (`file_path` is its .m3u8 manifest URL)."""
        return self._create("detect live stream", self._detect_url(service, "live"), title, file_path, demo)

    def _create(self, operation: str, url: str, title: str, file_path: str, demo: bool) -> int:
        body = self._call(
            operation,
            "POST",
            url,
            safe=False,
            api_data={"title": title, "file_path": file_path, "demo_contents": demo},
        )
        detection_id = body.get("detection_id")
        if detection_id is None:
            detection_id = _data(body).get("detection_id")
        try:
            return int(str(detection_id))
        except ValueError:
            raise TransportError(f"DoveRunner {operation}: the response has no detection_id") from None

    def request_upload_url(
        self, title: str, extension: str, *, demo: bool = False, service: str | None = None
    ) -> UploadTicket:
        """A signed URL to upload the file to; it is valid for one minute. Issuing it creates no detection."""
        body = self._call(
            "request upload URL",
            "POST",
            self._detect_url(service, "token"),
            safe=True,
            api_data={"title": title, "file_extension": extension.lower().lstrip("."), "demo_contents": demo},
        )
        url = body.get("upload_url") or _data(body).get("upload_url")
        if not isinstance(url, str) or not url:
            raise TransportError("DoveRunner request upload URL: the response has no upload_url")
        return UploadTicket(url, title, extension, self._monotonic())

    def upload(
        self, ticket: UploadTicket, stream: IO[bytes], size: int, *, progress: ProgressCallback | None = None
    ) -> int:
        """Streams `size` bytes of `stream` to the signed URL (constant memory); the bytes sent.

        The upload registers the detection. It is not repeated here: a failure after the whole body was sent may
        already have registered it (see `detect_upload`).
        """
        age = self._monotonic() - ticket.issued_at
        if age >= UPLOAD_URL_LIFETIME_SECONDS:
            raise UploadExpiredError(
                f"the signed upload URL was issued {age:.0f}s ago and is valid for "
                f"{UPLOAD_URL_LIFETIME_SECONDS:.0f}s: request a new one right before uploading"
            )
        body = _SizedBody(stream, size, progress)
        try:
            # No Authorization header: the URL is signed, and the API token must not go to the storage host.
            response = self._transport.request(
                "PUT",
                ticket.upload_url,
                operation="upload",
                safe=False,
                data=body,
                read_timeout=self.config.upload_read_timeout,
                attempts=1,
            )
        except TransportError as exc:
            # Decided by what the connection took, not by what DoveRunner's storage answered: a failure before the
            # last byte was taken cannot have registered a detection; one after it may have.
            exc.maybe_processed = body.complete
            raise
        if not response.ok:
            raise TransportError(
                f"DoveRunner upload: the signed URL refused the file with HTTP {response.status_code}"
                + (" (the URL expired)" if "expired" in response.text.lower() else ""),
                status=response.status_code,
                maybe_processed=False,
            )
        if body.read_bytes != size:
            raise TransportError(
                f"DoveRunner upload: the source ended after {body.read_bytes} of {size} bytes",
                maybe_processed=False,
            )
        return body.sent

    def detect_upload(
        self,
        source: IO[bytes] | Callable[[], IO[bytes]],
        size: int,
        *,
        title: str,
        extension: str,
        demo: bool = False,
        service: str | None = None,
        make_unique: bool = True,
        progress: ProgressCallback | None = None,
        find: bool = True,
        find_timeout: float = 120.0,
        attempts: int = 3,
    ) -> UploadReceipt:
        """The whole upload flow: signed URL right before the upload, streamed upload, detection found by title.

        `source` is a stream, or a function that opens one (called again for each attempt, e.g. an S3 body).
        The title gets a random suffix (unless `make_unique` is False) because the upload API returns no
        detection id. An upload that failed before the connection took its last byte cannot have registered a
        detection, so it is repeated with a fresh URL when the source can be read again. One that failed after may
        have: with `find`, its detection is looked for during `find_timeout` and, only if none appeared, the file
        is uploaded again with a fresh URL; without `find`, the receipt says so (`complete` None) and the caller
        decides (the pipeline looks for it while tracking, and uploads again after a bounded time).
        """
        ext = extension.lower().lstrip(".")
        final_title = unique_title(title) if make_unique else title
        opener, repeatable = _opener(source)
        for attempt in range(1, attempts + 1):
            try:
                ticket = self.request_upload_url(final_title, ext, demo=demo, service=service)
            except TransportError as exc:
                exc.maybe_processed = False  # issuing a signed URL registers nothing
                raise
            stream = opener()
            try:
                self.upload(ticket, stream, size, progress=progress)
                break
            except (TransportError, UploadExpiredError) as exc:
                last = not repeatable or attempt == attempts
                if getattr(exc, "maybe_processed", False):
                    log.warning("DoveRunner upload: the connection failed after its last byte; it may have registered")
                    if not find:
                        return UploadReceipt(final_title, size, None, complete=None)
                    try:
                        found = self.find_detection_by_title(final_title, service=service, timeout=find_timeout)
                    except DetectionNotFoundError:
                        if last:
                            raise
                        log.warning(
                            "no detection appeared within %.0fs: uploading again (attempt %d of %d)",
                            find_timeout,
                            attempt + 1,
                            attempts,
                        )
                        continue
                    return UploadReceipt(final_title, size, found)
                if last:
                    raise
                log.warning("%s; uploading again (attempt %d of %d)", exc, attempt + 1, attempts)
        return UploadReceipt(final_title, size, self._find(final_title, service, find, find_timeout))

    def _find(self, title: str, service: str | None, find: bool, timeout: float) -> Detection | None:
        return self.find_detection_by_title(title, service=service, timeout=timeout) if find else None

    # ---- reading detections ---------------------------------------------------------------------------------

    def list_detections(
        self,
        *,
        keyword: str | None = None,
        condition: str | None = None,
        status: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        page_unit: int | None = None,
        page_index: int | None = None,
        time_zone: str | None = None,
        req_types: Sequence[str] | None = None,
        service: str | None = None,
    ) -> DetectionPage:
        """One page of the list API; every filter of the guide."""
        for value in req_types or ():
            if value not in REQ_TYPES:
                raise ValueError(f"unknown request type {value!r}: use one of {', '.join(REQ_TYPES)}")
        payload: dict[str, Any] = {"site_id": self.config.site_id}
        filters: tuple[tuple[str, Any], ...] = (
            ("search_keyword", keyword),
            ("search_condition", condition),
            ("detect_status", status),
            ("from", date_from),
            ("to", date_to),
            ("page_unit", page_unit),
            ("page_index", page_index),
            ("time_zone", time_zone),
        )
        for name, value in filters:
            if value is not None:
                payload[name] = value
        if req_types:
            payload["req_types"] = list(req_types)
        body = self._call("list detections", "GET", self._detect_url(service, "list"), safe=True, api_data=payload)
        items = body.get("data") or []
        if not isinstance(items, list):
            items = [items]
        try:
            total = int(str(body.get("total_count", body.get("totla_count", len(items)))))
        except ValueError:
            total = len(items)
        return DetectionPage(
            total_count=total,
            time_zone=str(body.get("time_zone") or ""),
            items=[Detection.from_api(item) for item in items if isinstance(item, dict)],
        )

    def iter_detections(self, *, page_unit: int = 25, **filters: Any) -> Iterator[Detection]:
        """Every detection matching the filters, page after page."""
        page_index = 1
        seen = 0
        while True:
            page = self.list_detections(page_unit=page_unit, page_index=page_index, **filters)
            yield from page.items
            seen += len(page.items)
            if not page.items or seen >= page.total_count or len(page.items) < page_unit:
                return
            page_index += 1

    def find_detection_by_title(
        self,
        title: str,
        *,
        service: str | None = None,
        timeout: float = 120.0,
        interval: float = 2.0,
        req_types: Sequence[str] = ("file",),
    ) -> Detection:
        """The detection with exactly this title, waiting for it to be registered (uploads register late)."""
        deadline = self._monotonic() + timeout
        while True:
            for detection in self.iter_detections(
                keyword=title, condition="title", req_types=req_types, service=service
            ):
                if detection.title == title:
                    return detection
            if self._monotonic() >= deadline:
                raise DetectionNotFoundError(
                    f"no detection titled {title!r} appeared in the list within {timeout:.0f}s"
                )
            self._sleep(interval)

    def detail(self, detection_id: int, *, service: str | None = None) -> Detection:
        body = self._call(
            "detection detail",
            "GET",
            self._detect_url(service, "detail"),
            safe=True,
            api_data={"detection_id": int(detection_id), "site_id": self.config.site_id},
        )
        data = body.get("data")
        if not isinstance(data, dict):
            raise TransportError("DoveRunner detection detail: the response has no data")
        return Detection.from_api(data)

    def wait(
        self,
        detection_id: int,
        *,
        service: str | None = None,
        timeout: float = 3600.0,
        interval: float = 5.0,
        on_change: Callable[[Detection], None] | None = None,
    ) -> Detection:
        """Polls the detail API until the detection reaches a terminal status."""
        deadline = self._monotonic() + timeout
        last: tuple[str, str] | None = None
        while True:
            detection = self.detail(detection_id, service=service)
            state = (detection.detect_status, detection.detect_progress_status)
            if state != last and on_change:
                on_change(detection)
            last = state
            if detection.is_terminal:
                return detection
            if self._monotonic() >= deadline:
                raise TimeoutError(
                    f"detection {detection_id} still {detection.status.description} after {timeout:.0f}s"
                )
            self._sleep(interval)

    def stop(self, detection_id: int, *, service: str | None = None) -> int:
        """Requests that a detection in progress stop; a finished one raises A4028."""
        body = self._call(
            "stop detection",
            "PUT",
            self._detect_url(service, "stop"),
            safe=True,
            api_data={"detection_id": int(detection_id)},
        )
        try:
            return int(str(body.get("data", detection_id)))
        except ValueError:
            return int(detection_id)

    # ---- session revocation notifications -------------------------------------------------------------------

    def register_notification(self, name: str, aws_arn: str, aws_access_key: str, aws_secret_key: str) -> int:
        """Registers the SNS topic DoveRunner publishes to (one per site: a second one is A4029)."""
        body = self._call(
            "register notification",
            "POST",
            self._noti_url(),
            safe=False,
            api_data={
                "noti_name": name,
                "aws_arn": aws_arn,
                "aws_access_key": aws_access_key,
                "aws_secret_key": aws_secret_key,
            },
        )
        return self._noti_id(body)

    def list_notifications(self) -> list[Notification]:
        body = self._call("list notifications", "GET", self._noti_url(), safe=True, api_data={})
        entries = _data(body).get("noti_list")
        # The guide shows one object (a site has at most one); a list is accepted too.
        if isinstance(entries, dict):
            entries = [entries]
        return [Notification.from_api(e) for e in entries or [] if isinstance(e, dict)]

    def notification(self, noti_id: int) -> Notification:
        body = self._call("notification detail", "GET", self._noti_url(noti_id), safe=True, api_data={})
        data = body.get("data")
        if not isinstance(data, dict):
            raise TransportError("DoveRunner notification detail: the response has no data")
        return Notification.from_api(data)

    def update_notification(
        self,
        noti_id: int,
        *,
        name: str | None = None,
        aws_arn: str | None = None,
        aws_access_key: str | None = None,
        aws_secret_key: str | None = None,
    ) -> int:
        payload = {
            key: value
            for key, value in (
                ("noti_name", name),
                ("aws_arn", aws_arn),
                ("aws_access_key", aws_access_key),
                ("aws_secret_key", aws_secret_key),
            )
            if value is not None
        }
        body = self._call("update notification", "PUT", self._noti_url(noti_id), safe=True, api_data=payload)
        return self._noti_id(body, noti_id)

    def delete_notification(self, noti_id: int) -> int:
        body = self._call("delete notification", "DELETE", self._noti_url(noti_id), safe=True, api_data={})
        return self._noti_id(body, noti_id)

    @staticmethod
    def _noti_id(body: dict[str, Any], default: int | None = None) -> int:
        value = _data(body).get("noti_id")
        try:
            return int(str(value if value is not None else default))
        except ValueError:
            raise TransportError("DoveRunner notification: the response has no noti_id") from None


def _data(body: dict[str, Any]) -> dict[str, Any]:
    """The response's `data` object, or an empty one when it has none."""
    data = body.get("data")
    return data if isinstance(data, dict) else {}
