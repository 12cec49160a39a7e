"""The inbox bucket over S3: the dropped videos and the reports next to them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any, cast

from botocore.exceptions import ClientError

from antipiracy.adapters.aws_errors import error_code
from antipiracy.domain.reports import ReportConflict

MISSING = frozenset({"404", "NoSuchKey", "NoSuchVersion"})
CONFLICTS = frozenset({"412", "PreconditionFailed", "409", "ConditionalRequestConflict"})


def _version(version_id: str | None) -> dict[str, str]:
    return {"VersionId": version_id} if version_id else {}


class S3Objects:
    """`s3`: a boto3 S3 client (SigV4, so presigned URLs work in every region)."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def head(self, bucket: str, key: str, version_id: str | None) -> dict[str, Any]:
        try:
            return dict(self._s3.head_object(Bucket=bucket, Key=key, **_version(version_id)))
        except ClientError as exc:
            if error_code(exc) in MISSING:
                raise FileNotFoundError(key) from None
            raise

    def open(self, bucket: str, key: str, version_id: str | None) -> IO[bytes]:
        return cast(IO[bytes], self._s3.get_object(Bucket=bucket, Key=key, **_version(version_id))["Body"])

    def read_range(self, bucket: str, key: str, version_id: str | None, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        answer = self._s3.get_object(
            Bucket=bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}", **_version(version_id)
        )
        return bytes(answer["Body"].read())

    def presigned_get(self, bucket: str, key: str, version_id: str | None, seconds: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key, **_version(version_id)}, ExpiresIn=seconds
            )
        )

    def put_json(
        self,
        bucket: str,
        key: str,
        document: Mapping[str, Any],
        *,
        if_match: str | None = None,
        if_absent: bool = False,
    ) -> None:
        conditions: dict[str, str] = {}
        if if_match is not None:
            conditions["IfMatch"] = if_match
        elif if_absent:
            conditions["IfNoneMatch"] = "*"
        try:
            self._s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8"),
                ContentType="application/json; charset=utf-8",
                **conditions,
            )
        except ClientError as exc:
            # 412: the object changed (or appeared); 409: a concurrent conditional write; 404: it was deleted.
            if conditions and error_code(exc) in CONFLICTS | MISSING:
                raise ReportConflict(f"{key}: {error_code(exc)}") from None
            raise

    def get_json(self, bucket: str, key: str) -> tuple[Any, str] | None:
        try:
            answer = self._s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in MISSING:
                return None
            raise
        etag = str(answer["ETag"])
        try:
            return json.loads(answer["Body"].read()), etag
        except ValueError:
            return None, etag
