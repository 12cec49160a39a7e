"""The local DoveRunner's HTTP face: the API of the guide, a signed-URL upload endpoint, and an admin surface.

/api/...        the DoveRunner API, strict where the guide is strict
/upload/...     the signed upload URL the token API hands out (behaves like a presigned S3 PUT)
/_emulator/...  admin for tests and demos: reset, outcomes, sessions, faults, what was received
"""

from __future__ import annotations

import json
import logging
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn
from urllib.parse import parse_qs, urlsplit

from doverunner import crypto
from doverunner_local.config import EmulatorConfig
from doverunner_local.content import ContentInspector
from doverunner_local.engine import ApiFailure, Emulator, UploadRefused, UploadSlot

log = logging.getLogger("doverunner_local.http")

_TOKEN = re.compile(r"^/api(?:/v2)?/token/(?P<site>[^/]+)$")
_VERIFY = re.compile(r"^/api/v2/detect/(?P<site>[^/]+)/revoke-token/verify$")
_DETECT = re.compile(r"^/api/v2/detect/(?P<site>[^/]+)/(?P<svc>[^/]+)/(?P<action>[a-z]+)$")
_NOTI = re.compile(r"^/api/v2/noti/detect/(?P<site>[^/]+)(?:/(?P<noti>[^/]+))?$")
_UPLOAD = re.compile(r"^/upload/(?P<site>[^/]+)/(?P<upload>[0-9a-f]{32})\.(?P<ext>[a-z0-9]+)$")
_DETECT_METHODS = {
    "url": "POST",
    "live": "POST",
    "token": "POST",
    "list": "GET",
    "detail": "GET",
    "stop": "PUT",
}
_REDACT = ("aws_access_key", "aws_secret_key")


def _ok(**fields: Any) -> dict[str, Any]:
    return {"error_code": "0000", "error_message": "Success.", **fields}


class _Reset(Exception):
    """Abort the connection with a TCP reset (fault injection)."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalServer

    def log_message(self, format: str, *args: Any) -> None:
        # The request line's query string may hold a signature or pallycon-apidata: log the path only.
        log.debug("%s %s", self.command, urlsplit(self.path).path)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    # ---- plumbing -------------------------------------------------------------------------------------------

    @property
    def emulator(self) -> Emulator:
        return self.server.emulator

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self._send(status, raw, "application/json;charset=UTF-8", headers)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = parse_qs(parts.query)
        try:
            if path.startswith("/_emulator"):
                self._admin(path)
            elif path.startswith("/upload/"):
                self._upload(path, query)
            else:
                self._api(path, query)
        except _Reset:
            self._reset_connection()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _reset_connection(self) -> None:
        # SO_LINGER 0 makes close() send RST: the client sees "connection reset by peer".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    # ---- the API --------------------------------------------------------------------------------------------

    def _api(self, path: str, query: dict[str, list[str]]) -> None:
        body = self._body()
        entry: dict[str, Any] = {"method": self.command, "path": path, "at": datetime.now(UTC).isoformat()}
        try:
            self._inject_faults(path)
            status, response = self._route(path, query, body, entry)
        except ApiFailure as failure:
            status, response = (
                failure.http_status,
                {"error_code": failure.code, "error_message": failure.detail},
            )
        except _Injected as injected:
            entry.update(status=injected.status, injected=True)
            self.emulator.record_request(entry)
            self._send(injected.status, injected.body, "text/plain", injected.headers)
            return
        entry.update(status=status, error_code=response.get("error_code"))
        self.emulator.record_request(entry)
        self._json(status, response)

    def _inject_faults(self, path: str) -> None:
        faults = self.emulator.config.faults
        rng = self.server.rng
        if faults.latency_seconds > 0:
            time.sleep(faults.latency_seconds)
        with self.server.fault_lock:
            targeted = not faults.error_path or faults.error_path in path
            if targeted and faults.next_rate_limits > 0:
                faults.next_rate_limits -= 1
                raise _Injected(429, b"Too Many Requests", {"Retry-After": "0"})
            if targeted and faults.next_errors > 0:
                faults.next_errors -= 1
                raise _Injected(503, b"Service Unavailable")
            if faults.rate_limit_rate and rng.random() < faults.rate_limit_rate:
                raise _Injected(429, b"Too Many Requests", {"Retry-After": "0"})
            if faults.error_rate and rng.random() < faults.error_rate:
                raise _Injected(503, b"Service Unavailable")

    def _api_data(self, site_id: str, query: dict[str, list[str]], required: bool = True) -> dict[str, Any]:
        config = self.emulator.config
        header = self.headers.get("pallycon-apidata")
        if not header and config.accept_query_apidata:
            header = (query.get("pallycon-apidata") or [""])[0]
        if not header:
            if required:
                raise ApiFailure("A7008", "the pallycon-apidata header is missing")
            return {}
        try:
            envelope = crypto.parse_api_data(header)
            sent = crypto.parse_timestamp(envelope.timestamp)
            now = datetime.now(UTC) + timedelta(seconds=config.clock_skew_seconds)
            skew = abs((now - sent).total_seconds())
            if skew > config.timestamp_tolerance_seconds:
                raise ApiFailure("A7008", f"the timestamp is {skew:.0f}s away from now (stale or in the future)")
            return crypto.decode_api_data(
                header, site_id=site_id, site_key=config.site_key, access_key=config.access_key
            )
        except crypto.ApiDataError as exc:
            raise ApiFailure(exc.code, exc.reason) from None

    def _route(
        self, path: str, query: dict[str, list[str]], body: bytes, entry: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        emulator = self.emulator
        authorization = self.headers.get("Authorization")
        method = self.command
        if match := _TOKEN.match(path):
            entry["operation"] = "auth"
            self._expect(method, "GET")
            return 200, _ok(data={"token": emulator.issue_token(match["site"], authorization)})
        if match := _VERIFY.match(path):
            entry["operation"] = "verify"
            self._expect(method, "POST")
            site = match["site"]
            emulator.check_site(site)
            emulator.check_token(authorization, site)
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                raise ApiFailure("A1000", "the body is not JSON") from None
            entry["payload"] = payload
            is_valid = emulator.verify_revoke_token(site, payload if isinstance(payload, dict) else {})
            return 200, _ok(data={"is_valid": is_valid})
        if match := _DETECT.match(path):
            site, service, action = match["site"], match["svc"], match["action"]
            if action not in _DETECT_METHODS:
                raise ApiFailure("A1000", f"no API {action!r}", 404)
            entry["operation"] = action
            self._expect(method, _DETECT_METHODS[action])
            emulator.check_site(site)
            emulator.check_token(authorization, site)
            emulator.check_service(service)
            payload = self._api_data(site, query)
            entry["payload"] = payload
            return 200, self._detect(action, site, service, payload)
        if match := _NOTI.match(path):
            site, noti = match["site"], match["noti"]
            entry["operation"] = "noti " + method.lower()
            emulator.check_site(site)
            emulator.check_token(authorization, site)
            payload = self._api_data(site, query, required=method in ("POST", "PUT"))
            entry["payload"] = {k: ("***" if k in _REDACT else v) for k, v in payload.items()}
            return 200, self._noti(method, site, noti, payload)
        raise ApiFailure("A1000", f"no API at {path}", 404)

    @staticmethod
    def _expect(method: str, allowed: str) -> None:
        if method != allowed:
            raise ApiFailure("A1000", f"this API takes {allowed}, not {method}", 405)

    def _detect(self, action: str, site: str, service: str, payload: dict[str, Any]) -> dict[str, Any]:
        emulator = self.emulator
        if action in ("url", "live"):
            return _ok(detection_id=emulator.register_url(site, service, payload, live=action == "live"))
        if action == "token":
            return _ok(upload_url=emulator.issue_upload(site, service, payload))
        if action == "list":
            return _ok(**emulator.list_detections(site, service, payload))
        if action == "detail":
            return _ok(data=emulator.detail(site, service, payload))
        return _ok(data=emulator.stop_detection(site, service, payload))

    def _noti(self, method: str, site: str, noti: str | None, payload: dict[str, Any]) -> dict[str, Any]:
        emulator = self.emulator
        if noti is None:
            if method == "POST":
                return _ok(data={"noti_id": emulator.register_notification(site, payload)})
            if method == "GET":
                entries = [n.public() for n in emulator.list_notifications()]
                # One registration per site: the guide shows noti_list as that one object.
                return _ok(data={"total_count": len(entries), "noti_list": entries[0] if entries else None})
        else:
            if method == "GET":
                return _ok(data=emulator.notification(noti).public())
            if method == "PUT":
                return _ok(data={"noti_id": emulator.update_notification(noti, payload)})
            if method == "DELETE":
                return _ok(data={"noti_id": emulator.delete_notification(noti)})
        raise ApiFailure("A1000", f"{method} is not an operation of the notification API", 405)

    # ---- the signed upload URL ------------------------------------------------------------------------------

    def _s3_error(self, status: int, code: str, message: str) -> None:
        body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
        self.close_connection = True
        self._send(status, body.encode(), "application/xml")

    def _upload(self, path: str, query: dict[str, list[str]]) -> None:
        match = _UPLOAD.match(path)
        if self.command != "PUT" or not match:
            self._s3_error(405 if match else 404, "MethodNotAllowed", "Only PUT to a signed upload URL")
            return
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._s3_error(501, "NotImplemented", "Transfer-Encoding chunked is not supported: send Content-Length")
            return
        length_text = self.headers.get("Content-Length")
        if not length_text or not length_text.isdigit():
            self._s3_error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
            return
        try:
            slot = self.emulator.check_upload(
                match["upload"],
                (query.get("X-Amz-Expires") or [""])[0],
                (query.get("X-Amz-Signature") or [""])[0],
            )
        except UploadRefused as refused:
            self._s3_error(refused.status, refused.code, refused.message)
            return
        length = int(length_text)
        with ContentInspector(read_media=self.emulator.config.judge_media) as inspector:
            self._receive(slot, length, inspector)

    def _receive(self, slot: UploadSlot, length: int, inspector: ContentInspector) -> None:
        """Reads the body into `inspector` and registers its detection; a reset fault aborts partway."""
        reset_at = self._reset_point(length)
        received = 0
        while received < length:
            chunk = self.rfile.read(min(64 * 1024, length - received))
            if not chunk:
                break
            received += len(chunk)
            inspector.feed(chunk)
            if reset_at is not None and received >= reset_at:
                self._reset(received)
        if received < length:
            self.close_connection = True  # the client went away: nothing is stored, nothing registered
            return
        if self._unanswered():
            self._reset(received)
        inspection = inspector.result()
        detection_id = self.emulator.register_upload(slot, inspection)
        self.emulator.record_request(
            {
                "method": "PUT",
                "path": "/upload",
                "operation": "upload",
                "status": 200,
                "bytes": received,
                "detection_id": detection_id,
                "at": datetime.now(UTC).isoformat(),
            }
        )
        self._send(200, b"", "application/xml", {"ETag": f'"{inspection.sha256[:32]}"'})

    def _reset(self, received: int) -> NoReturn:
        """Records the injected reset and aborts the connection (TCP RST)."""
        self.emulator.record_request(
            {
                "method": "PUT",
                "path": "/upload",
                "operation": "upload-reset",
                "status": 0,
                "bytes": received,
                "injected": True,
                "at": datetime.now(UTC).isoformat(),
            }
        )
        raise _Reset()

    def _unanswered(self) -> bool:
        faults = self.emulator.config.faults
        with self.server.fault_lock:
            if faults.next_upload_unanswered > 0:
                faults.next_upload_unanswered -= 1
                return True
        return False

    def _reset_point(self, length: int) -> int | None:
        faults = self.emulator.config.faults
        with self.server.fault_lock:
            if faults.next_upload_resets > 0:
                faults.next_upload_resets -= 1
            elif not (faults.reset_upload_rate and self.server.rng.random() < faults.reset_upload_rate):
                return None
        return min(faults.reset_after_bytes, max(1, length // 2))

    # ---- admin ----------------------------------------------------------------------------------------------

    def _admin(self, path: str) -> None:
        raw = self._body()
        try:
            payload = json.loads(raw) if raw else {}
            if not isinstance(payload, dict):
                raise ValueError("the body must be a JSON object")
            result = self._admin_route(path, payload)
        except (ValueError, TypeError, KeyError) as exc:
            self._json(400, {"error": str(exc)})
            return
        if result is None:
            self._json(404, {"error": f"no admin route {self.command} {path}"})
            return
        self._json(200, result)

    def _admin_route(self, path: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        emulator = self.emulator
        route = (self.command, path.removeprefix("/_emulator"))
        if route == ("GET", "/health"):
            return {"ok": True, "site_id": emulator.config.site_id}
        if route == ("POST", "/reset"):
            emulator.reset()
            return {"reset": True}
        if route == ("GET", "/state"):
            return emulator.snapshot()
        if route == ("GET", "/requests"):
            return {"requests": list(emulator.requests_seen)}
        if route == ("GET", "/notifications"):
            return {"deliveries": list(emulator.deliveries)}
        if route == ("GET", "/sessions"):
            return {"sessions": [s.to_dict() for s in emulator.sessions.values()]}
        if route == ("POST", "/sessions"):
            session = emulator.add_session(
                str(payload["forensic_mark"]), str(payload["session_data"]), payload.get("revoke_token")
            )
            return session.to_dict()
        if route == ("POST", "/outcomes"):
            emulator.add_outcome(str(payload["title_contains"]), mark=payload.get("mark"), fail=payload.get("fail"))
            return {"outcomes": [o.__dict__ for o in emulator.outcomes]}
        if route == ("POST", "/tokens/expire"):
            emulator.expire_tokens()
            return {"expired": True}
        if route == ("GET", "/config"):
            return emulator.config.public()
        if route == ("PATCH", "/config"):
            self.server.configure(payload)
            return emulator.config.public()
        return None


class _Injected(Exception):
    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


_SETTABLE = (
    "step_seconds",
    "token_ttl_seconds",
    "timestamp_tolerance_seconds",
    "upload_url_ttl_seconds",
    "detection_quota",
    "trial",
    "notification_version",
    "aws_endpoint_url",
    "clock_skew_seconds",
    "accept_query_apidata",
    "services",
    "live_max_seconds",
    "judge_media",
)


def _settable_value(key: str, value: Any) -> Any:
    """The value of a setting changed at run time; ValueError (400) for one the engine could not compare with."""
    if key == "detection_quota" and value is not None and (type(value) is not int or value < 0):
        raise ValueError("detection_quota must be a whole number >= 0, or null for no quota")
    if key == "live_max_seconds":
        if type(value) not in (int, float) or value < 0:
            raise ValueError("live_max_seconds must be a number of seconds >= 0")
        return float(value)
    if key == "judge_media" and type(value) is not bool:
        raise ValueError("judge_media must be true or false")
    return value


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        emulator: Emulator,
        host: str,
        port: int,
        publisher_factory: Callable[[str], Any] | None = None,
    ) -> None:
        super().__init__((host, port), Handler)
        self.emulator = emulator
        self.rng = random.Random(emulator.config.faults.seed)
        self.fault_lock = threading.Lock()
        self._publisher_factory = publisher_factory

    def configure(self, values: dict[str, Any]) -> None:
        """Changes settings at run time (admin PATCH /_emulator/config)."""
        config = self.emulator.config
        for key, value in values.items():
            if key == "faults":
                if not isinstance(value, dict):
                    raise ValueError("faults must be an object")
                with self.fault_lock:
                    config.faults.update(value)
                    if "seed" in value:
                        self.rng.seed(config.faults.seed)
            elif key in _SETTABLE:
                setattr(config, key, _settable_value(key, value))
                if key == "aws_endpoint_url":
                    self.emulator.set_publisher(
                        self._publisher_factory(value) if value and self._publisher_factory else None
                    )
            else:
                raise ValueError(f"unknown setting {key!r}; settable: faults, {', '.join(_SETTABLE)}")


class LocalDoveRunner:
    """The local DoveRunner on a background thread: `with LocalDoveRunner() as dr: dr.url ...`."""

    def __init__(self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        from doverunner_local.publisher import sns_publisher

        self.config = config or EmulatorConfig()
        publisher = sns_publisher(self.config.aws_endpoint_url) if self.config.aws_endpoint_url else None
        self.emulator = Emulator(self.config, publisher=publisher)
        self.server = LocalServer(self.emulator, host, port, publisher_factory=sns_publisher)
        bound_host, bound_port = self.server.server_address[:2]
        self.url = f"http://{bound_host if isinstance(bound_host, str) else host}:{bound_port}"
        self.emulator.public_url = self.url
        self._thread: threading.Thread | None = None

    def start(self) -> LocalDoveRunner:
        self._thread = threading.Thread(target=self.server.serve_forever, name="local-doverunner", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.emulator.close()
        self.server.shutdown()
        self.server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalDoveRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def credentials(self) -> dict[str, str]:
        """What a client needs, as the DOVERUNNER_* environment variables."""
        return {
            "DOVERUNNER_API_URL": self.url,
            "DOVERUNNER_SITE_ID": self.config.site_id,
            "DOVERUNNER_SITE_KEY": self.config.site_key,
            "DOVERUNNER_ACCESS_KEY": self.config.access_key,
            "DOVERUNNER_ACCOUNT_ID": self.config.account_id,
        }
