"""Which object keys the pipeline takes, and where their reports go.

A key's reports live under the results prefix, named after the key (domain/reports.py), so a key must make a
safe, valid S3 key there: no `.` or `..` path segment (a report would seem to sit elsewhere, and a tool resolving
paths would put it elsewhere), no control character, and short enough that its longest report key fits S3's
1024 bytes (UTF-8).
"""

from __future__ import annotations

S3_KEY_MAX_BYTES = 1024
VERSIONS_SUFFIX = ".versions/"
REPORT_SUFFIX = ".json"
JOBS_SUFFIX = ".jobs/"  # a request file's requests: results/<key>.jobs/<job id>.json (shorter than the longest tail)
# A version's name in its report key: the S3 version id when it is this short and plain, else the job id (44).
VERSION_NAME_MAX = 64
# What the longest report key adds to results prefix + key: ".versions/<version name>.json".
LONGEST_REPORT_TAIL = len(VERSIONS_SUFFIX) + VERSION_NAME_MAX + len(REPORT_SUFFIX)


def key_problem(key: str, results_prefix: str) -> str:
    """Why the key cannot be taken (a reason for the job), or empty when it can."""
    bad = sorted({f"0x{ord(ch):02x}" for ch in key if ord(ch) < 0x20 or ord(ch) == 0x7F})
    if bad:
        return f"the object key contains control characters ({', '.join(bad)}): no report can be named after it"
    segments = key.split("/")
    if ".." in segments:
        return "the object key has a '..' path segment: no report can be named after it safely"
    if "." in segments:
        return "the object key has a '.' path segment: no report can be named after it safely"
    length = len(f"{results_prefix}{key}".encode())
    if length + LONGEST_REPORT_TAIL > S3_KEY_MAX_BYTES:
        room = S3_KEY_MAX_BYTES - LONGEST_REPORT_TAIL - len(results_prefix.encode())
        return (
            f"the object key is too long for its report key ({len(key.encode())} bytes UTF-8; "
            f"at most {room} fit under {results_prefix!r})"
        )
    return ""
