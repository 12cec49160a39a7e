"""Holding submissions: what DoveRunner refuses for the site as a whole (its quota, its credentials) is not the job's
fault. Such a refusal holds the job instead of failing it, and pauses submissions, so a queue of a thousand drops does
not collect a thousand refusals; every held job is submitted once submissions resume (docs/pipeline.md#held-jobs).
"""

from __future__ import annotations

from enum import StrEnum

# The control item in the jobs table that says submissions are paused (adapters/jobs_table.py).
PAUSE_ITEM_ID = "control#submissions-paused"


class HoldKind(StrEnum):
    QUOTA = "quota"  # A4015, A4019: no detection left until the quota is raised
    CREDENTIALS = "credentials"  # the site key, access key or account is wrong: nothing works until it is fixed


# A9001 arrives only after the client has refreshed its token once (a stale token is no credential problem).
QUOTA_CODES = frozenset({"A4015", "A4019"})
CREDENTIAL_CODES = frozenset({"A1006", "A1007", "A9001", "A9002", "A9008", "HTTP401", "HTTP403"})


def hold_kind(code: str | None) -> HoldKind | None:
    """Whether a DoveRunner error code holds the job (and pauses submissions), and why."""
    if code in QUOTA_CODES:
        return HoldKind.QUOTA
    if code in CREDENTIAL_CODES:
        return HoldKind.CREDENTIALS
    return None
