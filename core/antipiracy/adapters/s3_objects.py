"""The inbox bucket over S3: the dropped videos and the reports next to them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any, cast

from botocore.exceptions import ClientError

from antipiracy.adapters.aws_errors import error_code

MISSING = frozenset({"404", "NoSuchKey", "NoSuchVersion"})


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

    def presigned_get(self, bucket: str, key: str, version_id: str | None, seconds: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key, **_version(version_id)}, ExpiresIn=seconds
            )
        )

    def put_json(self, bucket: str, key: str, document: Mapping[str, Any]) -> None:
        self._s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8"),
            ContentType="application/json; charset=utf-8",
        )
