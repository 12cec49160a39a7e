"""Both notification versions are understood; anything else is refused with the reason."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from antipiracy.domain.notifications import MAX_TOKEN_LENGTH, InvalidNotification, inner_message, parse_message


def sns_envelope(message: Any) -> str:
    text = message if isinstance(message, str) else json.dumps(message)
    return json.dumps(
        {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": text}
    )


def test_version_1_1_watermark_found_carries_the_token_to_block() -> None:
    found = parse_message(
        sns_envelope(
            {
                "detection_id": 12345,
                "detection_status": "FD004",
                "forensic_mark": "0000000000000001",
                "watermark_token": "AB+/cdEFGHIJKLMNOPQ==",
            }
        )
    )

    assert (found.version, found.detection_id, found.watermark_token, found.revokes) == (
        "1.1",
        12345,
        "AB+/cdEFGHIJKLMNOPQ==",
        True,
    )


@pytest.mark.parametrize("status", ["FD006", "FD007"])
def test_version_1_1_failure_carries_its_error_and_revokes_nothing(status: str) -> None:
    found = parse_message(
        sns_envelope({"detection_id": "7", "detection_status": status, "error_code": "D2001", "error_message": "x"})
    )

    assert (found.detection_id, found.error_code, found.revokes) == (7, "D2001", False)


def test_version_1_0_means_revoke_this_token_now() -> None:
    found = parse_message(sns_envelope({"revoke_token": "ABCDEFGHIJKLMNOPQRSTUVW", "site_id": "DEMO"}))

    assert (found.version, found.watermark_token, found.site_id, found.revokes) == (
        "1.0",
        "ABCDEFGHIJKLMNOPQRSTUVW",
        "DEMO",
        True,
    )


def test_raw_message_delivery_is_understood_too() -> None:
    assert parse_message(json.dumps({"revoke_token": "ABCDEFGHIJKLMNOPQRSTUVW", "site_id": "DEMO"})).revokes


def test_completed_without_a_token_revokes_nothing() -> None:
    assert parse_message(sns_envelope({"detection_id": 1, "detection_status": "FD004"})).revokes is False


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("not json", "not JSON"),
        (sns_envelope("not json"), "not JSON"),
        (json.dumps([1, 2]), "not a JSON object"),
        (sns_envelope({"hello": "world"}), "neither a 1.1 notification"),
        (sns_envelope({"detection_id": "x1", "detection_status": "FD004"}), "detection_id"),
        (sns_envelope({"detection_id": True, "detection_status": "FD004"}), "detection_id"),
        (sns_envelope({"detection_id": 1, "detection_status": "FD005"}), "detection_status"),
        (sns_envelope({"detection_id": 1, "detection_status": 4}), "detection_status"),
        (sns_envelope({"detection_id": 1, "detection_status": "FD004", "watermark_token": 5}), "watermark_token"),
        (sns_envelope({"detection_id": 1, "detection_status": "FD004", "watermark_token": "a b"}), "base64"),
        (
            sns_envelope(
                {"detection_id": 1, "detection_status": "FD004", "watermark_token": "A" * (MAX_TOKEN_LENGTH + 1)}
            ),
            "more than",
        ),
        (sns_envelope({"revoke_token": "ABC"}), "site_id"),
        (sns_envelope({"revoke_token": "", "site_id": "DEMO"}), "revoke_token"),
        (sns_envelope({"detection_id": 1, "detection_status": "FD006", "error_code": ["D1"]}), "error_code"),
    ],
)
def test_malformed_message_is_refused_with_its_reason(message: str, reason: str) -> None:
    with pytest.raises(InvalidNotification, match=reason):
        parse_message(message)


def test_huge_error_message_is_cut_not_refused() -> None:
    found = parse_message(
        sns_envelope({"detection_id": 1, "detection_status": "FD007", "error_message": "x" * 100_000})
    )

    assert found.error_message is not None
    assert len(found.error_message) == 2048


@given(
    st.one_of(st.text(max_size=300), st.builds(json.dumps, st.dictionaries(st.text(max_size=20), st.text(max_size=20))))
)
def test_any_text_is_either_understood_or_refused_as_invalid(text: str) -> None:
    # No other exception may escape: the handler turns InvalidNotification into a dead-lettered failure.
    with contextlib.suppress(InvalidNotification):
        parse_message(text)


def test_inner_message_is_the_notification_without_the_sns_envelope() -> None:
    notification = json.dumps({"detection_id": 1, "detection_status": "FD006", "error_code": "D2001"})
    envelope = json.dumps(
        {
            "Type": "Notification",
            "Message": notification,
            "Signature": "c2ln",
            "SigningCertURL": "https://sns.example/cert.pem",
            "UnsubscribeURL": "https://sns.example/?Action=Unsubscribe",
        }
    )

    assert inner_message(envelope) == notification
    assert inner_message(notification) == notification
    assert inner_message("not json") == "not json"
    assert len(inner_message(sns_envelope({"detection_id": 1, "error_message": "x" * 9000}))) == 4096
