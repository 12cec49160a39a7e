"""What the revocation tests need of the local DoveRunner: detections that really ended, as a notification names."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from doverunner import DoveRunnerClient
from doverunner_local.server import LocalDoveRunner


@pytest.fixture
def ended_detection(local_doverunner: LocalDoveRunner, client: DoveRunnerClient) -> Callable[..., int]:
    """Makes a detection of the client's site and service that ended with `status` (FD004: found `mark`, the
    forensic mark the detail API answers as wm_key); its id, for a notification to name."""
    emulator = local_doverunner.emulator

    def make(status: str = "FD004", mark: str = "0000000000000001", error_code: str = "D2001") -> int:
        record = emulator._new_record(
            client.config.site_id, client.config.service, "leak.mp4", "url", False, "https://example.com/leak.mp4"
        )
        if status == "FD004":
            record.wm_key = mark
            session = emulator.sessions.get(mark)
            record.revoke_token = session.revoke_token if session else ""
        else:
            record.error_code = error_code
        emulator._set(record, status, {"FD004": "FD400", "FD006": "FD600", "FD007": "FD700"}.get(status, ""))
        return record.detection_id

    return make
