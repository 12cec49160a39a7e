"""What the services need of the outside world, each a small typed interface.

The adapters (antipiracy.adapters) implement them over AWS; the unit tests implement them in memory
(tests/support/fakes.py). The DoveRunner client (the layer's `doverunner` package) satisfies DetectionApi as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import IO, Any, Protocol

from antipiracy.domain.notifications import StatusNotification
from antipiracy.domain.revocations import RevocationState
from antipiracy.domain.web_acls import WebAcl, WebAclSpec
from doverunner import ClientConfig, Detection, DetectionPage, Notification, TokenVerification, UploadReceipt


class Jobs(Protocol):
    """The jobs table: one item per object version, every change conditional."""

    def create(self, item: dict[str, Any]) -> dict[str, Any]:
        """The new job in state RECEIVED; JobExists with the stored one if the id is taken."""
        ...

    def get(self, job_id: str) -> dict[str, Any] | None: ...

    def require(self, job_id: str) -> dict[str, Any]:
        """The job; KeyError if there is none."""
        ...

    def find_by_detection(self, detection_id: int) -> dict[str, Any] | None: ...

    def update(
        self,
        job_id: str,
        fields: dict[str, Any],
        *,
        expect: tuple[Any, ...] = (),
        history: dict[str, Any] | None = None,
        match: dict[str, Any] | None = None,
        absent: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Sets fields, only from the `expect`ed states, while `match` holds and the `absent` fields are not set
        (else StateConflict); the new job."""
        ...

    def begin_check(self, job_id: str) -> dict[str, Any]: ...

    def keep_wake_token(self, job_id: str, token: str, attempt: int) -> bool: ...

    def request_wake(self, job_id: str) -> tuple[bool, str | None]: ...

    def with_state(self, state: Any) -> list[dict[str, Any]]:
        """The jobs in `state`, oldest first (the `by-state` index)."""
        ...

    def submission_pause(self) -> dict[str, Any] | None:
        """The pause of submissions in force (domain/holds.py), or None."""
        ...

    def pause_submissions(self, record: dict[str, Any]) -> bool:
        """Records the pause unless one is in force; whether this call paused."""
        ...

    def resume_submissions(self) -> dict[str, Any] | None:
        """Lifts the pause; the one lifted, or None when there was none."""
        ...


class Objects(Protocol):
    """The inbox bucket: the dropped videos and the reports."""

    def head(self, bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
        """The object's metadata (HeadObject's answer); FileNotFoundError if it is gone."""
        ...

    def open(self, bucket: str, key: str, version_id: str | None) -> IO[bytes]:
        """The object's bytes as a stream read once."""
        ...

    def read_range(self, bucket: str, key: str, version_id: str | None, offset: int, length: int) -> bytes:
        """At most `length` bytes of the version from `offset` (a ranged GET; fewer at the end)."""
        ...

    def presigned_get(self, bucket: str, key: str, version_id: str | None, seconds: int) -> str: ...

    def put_json(
        self,
        bucket: str,
        key: str,
        document: Mapping[str, Any],
        *,
        if_match: str | None = None,
        if_absent: bool = False,
    ) -> None:
        """Writes the document; only over the object with ETag `if_match`, or only where there is none
        (`if_absent`): else ReportConflict (domain/reports.py)."""
        ...

    def get_json(self, bucket: str, key: str) -> tuple[Any, str] | None:
        """The latest JSON document at the key and its ETag; None when there is none. A body that is no JSON
        document reads as None with its ETag."""
        ...


class RemoteMedia(Protocol):
    """Videos behind URLs, read in ranges for the pre-flight check (adapters/http_media.py)."""

    def open(self, url: str) -> tuple[Callable[[int, int], bytes], int]:
        """A reader of the URL's bytes (offset, length) and the video's size; domain/preflight.Unchecked when the
        server answers no range request."""
        ...


class Executions(Protocol):
    """The tracking state machine's executions."""

    def start(self, name: str, payload: Mapping[str, Any]) -> str:
        """Starts the execution `name` (or finds it started already); its ARN."""
        ...

    def wake(self, token: str, *, job_id: str) -> bool:
        """Ends a wait with task success; False when the wait was over or Step Functions refused."""
        ...

    def complete(self, token: str, output: Mapping[str, Any]) -> None:
        """Ends the caller's own task with `output` as its result; raises when Step Functions refuses."""
        ...


class ResultsTopic(Protocol):
    def publish(self, message: Mapping[str, Any], attributes: Mapping[str, str]) -> None: ...


class RetryRequests(Protocol):
    """Asks the submit function to send a held or refused job again (a message on the ingest queue)."""

    def request_retry(self, job_id: str, requested_by: str) -> None: ...


class OperatorAlerts(Protocol):
    """The operator topic: what needs a person now."""

    def alert(self, subject: str, message: str) -> None: ...


class DeadLetters(Protocol):
    def send(self, body: str, reason: str) -> None: ...


class Ledger(Protocol):
    """The revocation ledger: one item per token."""

    def get(self, token: str) -> dict[str, Any] | None: ...

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
    ) -> dict[str, Any]: ...

    def expired(self, now: datetime) -> list[dict[str, Any]]: ...

    def all(self) -> list[dict[str, Any]]: ...


class Blocker(Protocol):
    """Blocks sessions at the CDN; `block` raises NoRoom when there is no capacity left."""

    def block(self, tokens: list[str]) -> object: ...

    def unblock(self, tokens: list[str]) -> object: ...


class JobWaker(Protocol):
    """Brings a job's next Check forward (services/wake.py)."""

    def wake(self, job_id: str) -> object: ...


class ReportRewriter(Protocol):
    """Writes a finished job's report again (services/report.py)."""

    def rewrite(self, job: dict[str, Any]) -> object: ...


class DetectionApi(Protocol):
    """The part of DoveRunner's API the services call (the `doverunner` client has all of it)."""

    def list_detections(
        self, *, keyword: str | None = None, condition: str | None = None, service: str | None = None
    ) -> DetectionPage: ...

    def iter_detections(self, *, page_unit: int = 25, **filters: Any) -> Iterator[Detection]: ...

    def detail(self, detection_id: int, *, service: str | None = None) -> Detection: ...

    def detect_url(self, title: str, file_path: str, *, demo: bool = False, service: str | None = None) -> int: ...

    def detect_live(self, title: str, file_path: str, *, demo: bool = False, service: str | None = None) -> int: ...

    def stop(self, detection_id: int, *, service: str | None = None) -> int: ...

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
    ) -> UploadReceipt: ...

    def verify_token(self, revoke_token: str) -> TokenVerification: ...


class NotificationsApi(Protocol):
    """The part of DoveRunner's API the registrar calls: the site's notification registration."""

    @property
    def config(self) -> ClientConfig: ...

    def register_notification(self, name: str, aws_arn: str, aws_access_key: str, aws_secret_key: str) -> int: ...

    def update_notification(
        self,
        noti_id: int,
        *,
        name: str | None = None,
        aws_arn: str | None = None,
        aws_access_key: str | None = None,
        aws_secret_key: str | None = None,
    ) -> int: ...

    def delete_notification(self, noti_id: int) -> int: ...

    def list_notifications(self) -> list[Notification]: ...


class WebAcls(Protocol):
    """CloudFront web ACLs in us-east-1, for the custom resource that gives a stack in another region its own."""

    def create(self, spec: WebAclSpec) -> WebAcl:
        """Creates the web ACL, or adopts the one of that name (a retried Create); WebAclFailed with the reason."""
        ...

    def current(self, arn: str) -> WebAcl: ...

    def delete(self, arn: str) -> None:
        """Deletes it; one already gone, or an ARN that names none, is a success."""
        ...
