"""Revoke tokens as DoveRunner reports them, for the tests of the blocking engine and its plan."""

from __future__ import annotations

import base64
import random

URL_SAFE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def revoke_token(rng: random.Random) -> str:
    """A revoke token as DoveRunner reports it: standard base64 of 20 bytes (28 characters, one '=')."""
    return base64.b64encode(rng.randbytes(20)).decode()
